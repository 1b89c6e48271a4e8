"""Bad input, one case or more per kind: each ends in one clear line naming what is wrong and a
non-zero exit (1 for tinyee's errors, 2 for usage), never a traceback, and leaves every file that
was there before as it was."""

import hashlib
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from op_models import OpModel, options
from tinyee.commands.demo import SHIPPED_CHECKPOINT
from tinyee.errors import TinyeeError
from tinyee.model import ModelConfig, MultiExitMobileViT, save_checkpoint
from tinyee.runtime import SegmentRunner

REPO = Path(__file__).resolve().parents[1]
SHIPPED = SHIPPED_CHECKPOINT
BOARDS = REPO / "boards"


def tinyee(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def refused(r, code: int, message: str) -> None:
    """One clear error: the exit code, the message, and no traceback."""
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    assert message in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]


@pytest.fixture
def export(shipped_export, tmp_path):
    """A copy of the shipped export the test may damage."""
    out = tmp_path / "export"
    shutil.copytree(shipped_export[0], out, ignore=shutil.ignore_patterns("*.onnx"))
    return out


def edit_manifest(export: Path, change) -> None:
    path = export / "manifest.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


# --- manifests --------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("thresholds"), "thresholds is missing"),
    (lambda d: d["segments"][0]["inputs"][0].update(scale="0.5"), "segments[0].inputs[0].scale is str, not int or float"),
    (lambda d: d["segments"][0]["inputs"][0].update(zero_point=3), "segments[0].inputs[0] (shape, scale, zero point) is "),
    (lambda d: d["segments"][1]["inputs"].append(d["segments"][0]["outputs"]["boundary"][0]),
     "segments[1].inputs/outputs.boundary (counts) is [2, 1], but segment1.tflite has [1, 1]"),
    (lambda d: d.update(thresholds=[0.5, 0.5, 0.5]), "3 thresholds for 2 intermediate exits"),
    (lambda d: d.update(thresholds=[0.5, "high"]), "thresholds must be a list of numbers"),
    (lambda d: d.update(model_id="0123456789abcdef"), "is not the one of its segment files"),
    (lambda d: d["data"].update(classes=["a", "b"]), "2 class names, but segment 0 has 10 outputs"),
    (lambda d: d.update(version=7), "manifest version 7"),
    (lambda d: d.update(thresholds=[float("nan"), 0.9]), "exit threshold nan is not a finite number"),
])
def test_damaged_manifests_are_named_field_by_field(export, change, message):
    edit_manifest(export, change)
    before = snapshot(export)
    refused(tinyee("build", "--export", export, "--out", export.parent / "fw"), 1, message)
    assert snapshot(export) == before and not (export.parent / "fw").exists()


def test_a_binary_manifest_is_refused(export):
    (export / "manifest.json").write_bytes(b"\x00\xff\xfe\x80 not text")
    refused(tinyee("eval", "--export", export, "--samples", 4), 1, "is not a readable manifest")


# --- TFLite files -----------------------------------------------------------------------------
def test_a_damaged_segment_with_a_matching_hash_is_refused_not_run(export):
    """The file eval once crashed on (rc 139): its hash updated in the manifest so only the verifier stands
    between it and the TFLM interpreter."""
    seg = export / "segment1.tflite"
    data = bytearray(seg.read_bytes())
    data[12:76] = bytes(range(64))  # the root table's offsets point anywhere
    seg.write_bytes(bytes(data))

    def rehash(doc):
        doc["segments"][1]["sha256"] = hashlib.sha256(data).hexdigest()
        doc["model_id"] = hashlib.sha256("".join(s["sha256"] for s in doc["segments"]).encode()).hexdigest()[:16]
    edit_manifest(export, rehash)
    for args in (("eval", "--export", export, "--samples", 4), ("build", "--export", export, "--out", export / "fw")):
        refused(tinyee(*args), 1, "segment1.tflite is not a valid TFLite model")


def test_files_that_are_not_tflite_models_are_refused_by_import(tmp_path):
    (tmp_path / "noise.tflite").write_bytes(np.random.default_rng(0).bytes(3000))
    refused(tinyee("import", tmp_path / "noise.tflite", "--out", tmp_path / "out"), 1, "is not a TFLite model")
    assert not (tmp_path / "out").exists()


def test_eval_refuses_a_model_with_an_op_the_firmware_cannot_run():
    m = OpModel()
    x, y = m.tensor([1, 10], 0.1, 0), m.tensor([1, 10], 0.1, 0)
    m.op("LEAKY_RELU", [x], [y], options("LeakyReluOptions", alpha=0.1), "LeakyReluOptions")
    with pytest.raises(TinyeeError, match="op #0 LEAKY_RELU: no int8 kernel in tinyee's firmware"):
        SegmentRunner(m.build([x], [y]), "tflm", "leaky.tflite")


# --- checkpoints ------------------------------------------------------------------------------
def test_a_checkpoint_from_another_config_is_not_compared_with_an_export(export, tmp_path):
    other = ModelConfig.from_dict({**json.loads(json.dumps(
        torch.load(SHIPPED, weights_only=True)["config"])), "stem_channels": 8})
    save_checkpoint(tmp_path / "other.pt", MultiExitMobileViT(other))
    refused(tinyee("eval", "--export", export, "--checkpoint", tmp_path / "other.pt", "--samples", 4), 1,
            "is not the one")
    refused(tinyee("eval", "--export", export, "--checkpoint", tmp_path / "none.pt", "--samples", 4), 1,
            "checkpoint not found")
    (tmp_path / "noise.pt").write_bytes(b"PK\x03\x04" + bytes(100))
    refused(tinyee("export", "--checkpoint", tmp_path / "noise.pt", "--out", tmp_path / "e"), 1,
            "is corrupt or not a torch file")
    payload = torch.load(SHIPPED, weights_only=True)
    payload["config"]["stem_channels"] = 8  # the weights are for 16
    torch.save(payload, tmp_path / "mismatch.pt")
    refused(tinyee("export", "--checkpoint", tmp_path / "mismatch.pt", "--out", tmp_path / "e"), 1,
            "does not match its own config")
    assert not (tmp_path / "e").exists()


# --- numeric options --------------------------------------------------------------------------
@pytest.mark.parametrize("args, message", [
    (("eval", "--samples", -1), "'--samples': -1 is not in the range x>=1"),
    (("bench", "--samples", 0), "'--samples': 0 is not in the range x>=1"),
    (("train", "--data", "x", "--out", "y", "--epochs", 0), "'--epochs': 0 is not in the range x>=1"),
    (("train", "--data", "x", "--out", "y", "--batch-size", 0), "'--batch-size': 0 is not in the range"),
    (("train", "--data", "x", "--out", "y", "--lr", "nan"), "'--lr': nan is not a finite number"),
    (("train", "--data", "x", "--out", "y", "--lr", -0.1), "'--lr': -0.1 is not in the range x>0.0"),
    (("train", "--data", "x", "--out", "y", "--distill", 1.5), "'--distill': 1.5 is not in the range"),
    (("bench", "--timeout", 0), "'--timeout': 0.0 is not in the range"),
    (("bench", "--force-samples", -1), "'--force-samples': -1 is not in the range x>=0"),
    (("calibrate", "--mode", "alpha", "--alpha", "inf"), "'--alpha': inf is not in the range"),
    (("calibrate", "--mode", "budget", "--budget", 0), "'--budget': 0.0 is not in the range"),
    (("calibrate", "--mode", "target", "--calib-samples", 0), "'--calib-samples': 0 is not in the range"),
    (("import", "x.tflite", "--out", "y", "--pixel-scale", 0), "'--pixel-scale': 0.0 is not in the range"),
])
def test_numeric_options_out_of_range_are_usage_errors(args, message):
    refused(tinyee(*args), 2, message)


def test_empty_or_nan_thresholds_are_not_silently_ignored(export, tmp_path):
    refused(tinyee("eval", "--export", export, "--thresholds", "", "--samples", 4), 1,
            "'' is not a comma-separated list of numbers")
    refused(tinyee("eval", "--export", export, "--thresholds", "nan", "--samples", 4), 1,
            "'nan' holds a value that is not a finite number")
    refused(tinyee("export", "--out", tmp_path / "e", "--thresholds", ""), 1, "is not a comma-separated list")
    refused(tinyee("eval", "--export", export, "--thresholds", "0.5,0.5,0.5", "--samples", 4), 1,
            "3 thresholds given for 2 intermediate exits")


# --- data -------------------------------------------------------------------------------------
def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds almost none: what a decompression bomb looks like
    to a reader that trusts the header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def image_folder(root: Path, classes: int, image: bytes | None = None) -> Path:
    from PIL import Image

    for c in range(classes):
        folder = root / "test" / f"class{c}"
        folder.mkdir(parents=True)
        Image.new("L", (28, 28), c * 20).save(folder / "a.png")
    if image is not None:
        (root / "test" / "class0" / "b.png").write_bytes(image)
    return root


def test_a_20000_by_20000_png_is_refused_before_it_is_decoded(export, tmp_path):
    data = image_folder(tmp_path / "data", 10, png_header(20000, 20000))
    refused(tinyee("eval", "--export", export, "--data", data), 1, "is too large: tinyee takes images up to 4096x4096 pixels")


def test_data_that_does_not_fit_the_model_is_refused(export, tmp_path):
    refused(tinyee("eval", "--export", export, "--data", image_folder(tmp_path / "twelve", 12)), 1,
            "has classes class0, class1")
    refused(tinyee("eval", "--export", export, "--data", image_folder(tmp_path / "bad", 10, b"not a png")), 1,
            "cannot decode image")
    np.savez(tmp_path / "float.npz", eval_images=np.zeros((4, 28, 28), np.float32), eval_labels=np.zeros(4, int),
             classes=json.dumps([str(i) for i in range(10)]))
    refused(tinyee("eval", "--export", export, "--data", tmp_path / "float.npz"), 1,
            "images must be uint8 [N, H, W, C]")


def test_training_data_and_weights_that_do_not_fit_the_model_are_refused(tmp_path):
    data = image_folder(tmp_path / "twelve", 12)
    (data / "train").symlink_to(data / "test")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--init", SHIPPED), 1,
            "has 12 classes, but the model has 10 outputs")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--exit-weights", "1,-1,1"), 1,
            "weights must be >= 0 and not all 0")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--exit-weights", "1,1"), 1,
            "gives 2 weights for 3 exits")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--exit-heads", "latent,latent,latent",
                   "--latent", "8y32"), 1, "--latent 8y32: give TOKENSxDIM or TOKENSxDIMxHEADS")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--exit-heads", "latent,latent,latent",
                   "--latent", "8x30x4"), 1, "dim divisible by heads")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--exit-heads", "hbof,latent,latent"), 1,
            "no hbof exits (one carried state per model)")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--experts", "3"), 1,
            "share out the MLP's 128 hidden units evenly")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--experts", "1"), 2, "1 is not in the range")
    assert not (tmp_path / "run").exists()


def test_bad_calibration_and_qat_settings_are_one_line(tmp_path):
    refused(tinyee("export", "--out", tmp_path / "export", "--ranges", "percentile:101"), 1,
            "the percentile must be a number in (50, 100)")
    refused(tinyee("export", "--out", tmp_path / "export", "--ranges", "kl"), 1,
            "unknown activation range estimator 'kl'; use minmax, percentile, percentile:P or mse")
    assert not (tmp_path / "export").exists()
    data = image_folder(tmp_path / "ten", 10)
    (data / "train").symlink_to(data / "test")
    refused(tinyee("train", "--data", data, "--out", tmp_path / "run", "--init", SHIPPED, "--qat", "--ema", 0.9), 1,
            "start it from the --ema run's checkpoint, without --ema")


# --- boards -----------------------------------------------------------------------------------
@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(clock_hz=-25_000_000), "at clock_hz: -25000000 is less than the minimum of 1000"),
    (lambda b: b.update(cflags="-mcpu=cortex-m4"), "at cflags: '-mcpu=cortex-m4' is not of type 'array'"),
    (lambda b: b["memory"]["ram"].update(size="4MB"), "at memory/ram/size: '4MB' is not of type 'integer'"),
    (lambda b: b.pop("uart"), "'uart' is a required property"),
    (lambda b: b["run"].update(tool="stlink"), "at run/tool: 'stlink' is not one of"),
])
def test_board_files_are_checked_against_their_schema(tmp_path, change, message):
    board = json.loads((BOARDS / "mps2-an386.json").read_text())
    change(board)
    (tmp_path / "board.json").write_text(json.dumps(board))
    refused(tinyee("flash", "--board", tmp_path / "board.json", "--elf", tmp_path / "x.elf", "--dry-run"), 1, message)


def test_unknown_and_unreadable_boards(tmp_path):
    refused(tinyee("boards", "--json", "-", "x"), 2, "Got unexpected extra argument")
    refused(tinyee("flash", "--board", "stm32-nope", "--elf", "x.elf"), 1, "unknown board 'stm32-nope'; boards:")
    (tmp_path / "b.json").write_text("{not json")
    refused(tinyee("flash", "--board", tmp_path / "b.json", "--elf", "x.elf"), 1, "is not valid JSON")


def test_a_compiler_error_with_brackets_reaches_the_user_whole(export, tmp_path):
    board = json.loads((BOARDS / "mps2-an386.json").read_text())
    board["name"], board["cflags"] = "bracketed", board["cflags"] + ["-mtune=[cortex-m4]"]
    (tmp_path / "board.json").write_text(json.dumps(board))
    r = tinyee("build", "--export", export, "--board", tmp_path / "board.json", "--out", tmp_path / "fw")
    refused(r, 1, "firmware build for bracketed failed")
    assert "[cortex-m4]" in r.stderr  # rich markup would have swallowed it


# --- firmware images --------------------------------------------------------------------------
def test_flash_refuses_what_is_not_an_arm_firmware_image(tmp_path):
    (tmp_path / "noise.elf").write_bytes(np.random.default_rng(1).bytes(512))
    refused(tinyee("flash", "--board", "mps2-an386", "--elf", tmp_path / "none.elf"), 1, "not found")
    refused(tinyee("flash", "--board", "mps2-an386", "--elf", tmp_path / "noise.elf"), 1, "is not an ELF file")
    refused(tinyee("flash", "--board", "nucleo-f746zg", "--elf", sys.executable), 1,
            "is an ELF file, but not for a 32-bit Arm microcontroller")


# --- outputs ----------------------------------------------------------------------------------
def test_outputs_that_cannot_be_written_fail_before_any_work(export, tmp_path):
    (tmp_path / "file").write_text("in the way")
    blocked = tmp_path / "file" / "out"
    for args in (("calibrate", "--export", export, "--mode", "alpha", "--out", blocked),
                 ("train", "--data", "/usr/share/datasets/fashion-mnist", "--out", blocked),
                 ("eval", "--export", export, "--json", blocked / "r.json"),
                 ("build", "--export", export, "--out", blocked)):
        refused(tinyee(*args), 1, f"cannot write to {blocked}")
    refused(tinyee("export", "--out", blocked), 1, f"cannot write to {blocked}")


def test_a_users_folder_is_never_replaced_by_an_output(export, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    before = snapshot(mine)
    refused(tinyee("generate", "--export", export, "--out", mine), 1, "holds no earlier tinyee result")
    resnet8 = REPO / "models" / "mlperf-tiny" / "ic_resnet8_int8.tflite"
    refused(tinyee("import", resnet8, "--out", mine), 1, "holds no earlier tinyee result")
    assert snapshot(mine) == before


def test_calibrate_apply_leaves_the_manifest_whole_when_it_fails(export):
    before = snapshot(export)
    refused(tinyee("calibrate", "--export", export, "--mode", "alpha", "--data", export / "none", "--apply"), 1,
            "none")
    assert snapshot(export) == before
