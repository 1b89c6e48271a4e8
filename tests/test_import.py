"""Models tinyee did not export: the MLPerf Tiny reference int8 models (ResNet-8 image classification,
DS-CNN keyword spotting) imported, compiled and run bit-exactly against the tflite-micro interpreter on
every kernel path, on the host and in QEMU; imports that cannot work fail clearly."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import MLPERF_TINY
from op_models import OpModel, options
from tinyee.boards import load_board
from tinyee.compile import compile_export, compile_segments, write_sources
from tinyee.compile.firmware import build_firmware
from tinyee.compile.library import generate_library
from tinyee.compile.native import HostRunner, NativeLibrary, build_shared_library
from tinyee.errors import TinyeeError
from tinyee.export.importer import import_tflite
from tinyee.runtime import SegmentRunner
from tinyee.targets import QemuTarget
from tinyee.tflite import TfliteModel

MLPERF = MLPERF_TINY
MODELS = {"ic": "ic_resnet8_int8.tflite", "kws": "kws_dscnn_int8.tflite"}
HOST_INPUTS, QEMU_INPUTS = 200, 20
KERNEL_PATHS = [("reference", "portable"), ("optimized", "portable"), ("optimized", "dsp"), ("optimized", "mve")]


@pytest.fixture(scope="module", params=sorted(MODELS))
def imported(request, tmp_path_factory):
    """(export dir, manifest, random int8 inputs, the tflite-micro interpreter's outputs for them)."""
    out = tmp_path_factory.mktemp("import") / request.param
    manifest = import_tflite([MLPERF / MODELS[request.param]], out)
    rng = np.random.default_rng(5)
    inputs = rng.integers(-128, 128, (HOST_INPUTS, *manifest.input.shape[1:]), dtype=np.int8)
    oracle = SegmentRunner((out / "segment0.tflite").read_bytes(), "tflm")
    return out, manifest, inputs, np.stack([oracle.run(x)[0] for x in inputs])


def test_manifest_of_an_imported_model(imported):
    out, manifest, inputs, _ = imported
    assert manifest.num_exits == 1 and manifest.thresholds == () and manifest.exit_heads == ()
    seg = manifest.segments[0]
    if manifest.input.shape == (1, 32, 32, 3):  # ResNet-8 takes images, DS-CNN MFCC features
        assert seg.ops["CONV_2D"] == 9 and manifest.preprocess.input_size == 32 and manifest.num_classes == 10
    else:
        assert seg.ops["DEPTHWISE_CONV_2D"] == 4 and manifest.preprocess is None and manifest.num_classes == 12
    assert json.loads((out / "manifest.json").read_text())["data"]["classes"] == list(manifest.class_names)


@pytest.mark.parametrize("kernels,path", KERNEL_PATHS, ids=["-".join(p) for p in KERNEL_PATHS])
def test_host_builds_match_tflite_micro_on_every_kernel_path(imported, kernels, path, tmp_path):
    out, manifest, inputs, want = imported
    segments = compile_export(out, manifest, tmp_path, kernels)
    runner = HostRunner(build_shared_library(tmp_path, tmp_path / "model.so", path=path), segments)
    seg = segments[0]
    mismatched = 0
    for x, w in zip(inputs, want):
        runner.write(seg, seg.model.inputs[0].index, x)
        runner.run(0)
        mismatched += int((runner.view(seg, seg.probs_tensor).reshape(-1) != w).sum())
    assert len(inputs) == HOST_INPUTS and mismatched == 0


@pytest.mark.parametrize("board_name,path", [("mps2-an386", "dsp"), ("mps3-an547", "mve")])
def test_firmware_matches_tflite_micro_in_qemu(imported, board_name, path, tmp_path):
    out, manifest, inputs, want = imported
    board = load_board(board_name)
    image = build_firmware(out, manifest, board, tmp_path)
    assert image.flash_bytes <= board.flash_bytes and image.ram_bytes <= board.ram_bytes
    seg = image.segments[0]
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        assert link.identify()["path"] == path and link.info["model"] == manifest.model_id
        for x, w in zip(inputs[:QEMU_INPUTS], want):
            result = link.infer(x.tobytes())  # the library's cascade: a single exit
            assert (result.exit, result.cls, result.confidence) == (0, int(w.argmax()), int(w.max()))
            probs = link.read_arena(seg.plan.offsets[seg.probs_tensor], w.size)
            assert np.array_equal(np.frombuffer(probs, np.int8), w)


def test_generated_library_of_an_imported_model(imported, tmp_path):
    out, manifest, inputs, want = imported
    lib = generate_library(out, manifest, load_board("mps2-an386"), tmp_path / "lib")
    native = NativeLibrary(lib.out, tmp_path / "lib.so")
    for x, w in zip(inputs[:50], want):
        exit_, label, confidence, probs = native.cascade_run(x, manifest.num_classes)
        assert (exit_, label, confidence) == (0, int(w.argmax()), int(w.max())) and np.array_equal(probs, w)


def tinyee(*args):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_import_and_profile_from_the_command_line(tmp_path):
    r = tinyee("import", MLPERF / MODELS["kws"], "--out", tmp_path / "kws")
    assert r.returncode == 0, r.stderr
    assert "non-image" in r.stdout
    r = tinyee("profile", "--export", tmp_path / "kws", "--data", "random", "--samples", 1, "--out", tmp_path / "prof")
    assert r.returncode == 0, r.stderr
    profile = json.loads((tmp_path / "prof" / "profile.json").read_text())
    assert profile["segments"][0]["macs"] == 2_656_768 and profile["kernel_path"] == "dsp"
    r = tinyee("eval", "--export", tmp_path / "kws")
    assert r.returncode == 1 and "records no data set: give --data" in r.stderr
    r = tinyee("eval", "--export", tmp_path / "kws", "--data", "shipped")
    assert r.returncode == 1 and "does not take images" in r.stderr


def _single_op_model(path: Path, name: str, opts, opts_type, out_quant=(1 / 256, -128)) -> Path:
    m = OpModel()
    x, y = m.tensor([1, 10], 0.1, 0), m.tensor([1, 10], *out_quant)
    m.op(name, [x], [y], opts, opts_type)
    path.write_bytes(m.build([x], [y]))
    return path


def test_imports_that_cannot_work_are_clear_errors(tmp_path):
    leaky = _single_op_model(tmp_path / "leaky.tflite", "LEAKY_RELU", options("LeakyReluOptions", alpha=0.1),
                             "LeakyReluOptions", (0.1, 0))
    with pytest.raises(TinyeeError, match=r"leaky.tflite: op #0 LEAKY_RELU: no int8 kernel"):
        import_tflite([leaky], tmp_path / "out")
    softmax = _single_op_model(tmp_path / "softmax.tflite", "SOFTMAX", options("SoftmaxOptions", beta=1.0),
                               "SoftmaxOptions")
    with pytest.raises(TinyeeError, match="must also output the feature map the next one reads"):
        import_tflite([softmax, softmax], tmp_path / "out")
    with pytest.raises(TinyeeError, match="3 class names for a model with 10 classes"):
        import_tflite([softmax], tmp_path / "out", class_names=["a", "b", "c"])
    assert not (tmp_path / "out").exists()
    r = tinyee("import", tmp_path / "missing.tflite", "--out", tmp_path / "out")
    assert r.returncode == 1 and "cannot read" in r.stderr and not (tmp_path / "out").exists()


def test_analyze_lists_every_layer_without_a_device(imported):
    out, manifest, _, _ = imported
    r = tinyee("analyze", "--export", out, "--board", "mps3-an547", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    layers = report["layers"]
    assert len(layers) == sum(manifest.segments[0].ops.values()) and report["inner_loop_path"] == "mve"
    assert sum(r["macs"] for r in layers) == manifest.macs == report["cascade"]["macs_to_exit"][-1]
    assert {r["path"] for r in layers if r["kernel"] == "tee_conv2d_gemm_s8"} == {"mve"}
    peak = report["cascade"]["peak_arena_bytes"]
    assert all(r["output_offset"] + r["output_bytes"] <= peak for r in layers if r["output_offset"] is not None)
    # constants: the weights and the per-channel parameters the kernels read from flash
    assert manifest.param_bytes <= report["cascade"]["const_bytes"] < 2 * manifest.param_bytes
    assert "tinyee analyze: model" in r.stderr  # the table went to stderr, as --json asks


def test_a_model_with_float_input_and_output_runs_int8_inside(tmp_path):
    """QUANTIZE of the float input and DEQUANTIZE of the output are dropped at import; the library's
    tinyee_quantize_input does the QUANTIZE, bit for bit as TFLite Micro does it."""
    from tflite_micro.python.tflite_micro import runtime

    rng = np.random.default_rng(3)
    m = OpModel()
    x_f, x_q = m.tensor([1, 16], dtype=np.float32), m.tensor([1, 16], 0.0625, 5)  # a power of two: exact ties
    w = m.tensor([4, 16], [0.01], 0, rng.integers(-127, 128, (4, 16)))
    b = m.tensor([4], [0.0625 * 0.01], 0, rng.integers(-500, 500, 4), dtype=np.int32)
    y, p, p_f = m.tensor([1, 4], 0.05, -3), m.tensor([1, 4], 1 / 256, -128), m.tensor([1, 4], dtype=np.float32)
    m.op("QUANTIZE", [x_f], [x_q])
    m.op("FULLY_CONNECTED", [x_q, w, b], [y], options("FullyConnectedOptions"), "FullyConnectedOptions")
    m.op("SOFTMAX", [y], [p], options("SoftmaxOptions", beta=1.0), "SoftmaxOptions")
    m.op("DEQUANTIZE", [p], [p_f])
    (tmp_path / "float_edges.tflite").write_bytes(m.build([x_f], [p_f]))
    manifest = import_tflite([tmp_path / "float_edges.tflite"], tmp_path / "export")
    assert manifest.segments[0].ops == {"FULLY_CONNECTED": 1, "SOFTMAX": 1}
    assert manifest.segments[0].info["float_edges_removed"] == ["QUANTIZE of the float input",
                                                                 "DEQUANTIZE of an int8 output"]
    lib = generate_library(tmp_path / "export", manifest, load_board("mps2-an386"), tmp_path / "lib")
    native = NativeLibrary(lib.out, tmp_path / "lib.so")
    oracle = runtime.Interpreter.from_bytes((tmp_path / "float_edges.tflite").read_bytes(), arena_size=64 * 1024)
    for _ in range(200):
        x = (rng.normal(0, 3, (1, 16)) * rng.choice([1, 10])).astype(np.float32)
        x.reshape(-1)[:2] = (0.03125, -0.09375)  # +0.5 and -1.5 steps: ties round away from zero
        oracle.set_input(x, 0)
        oracle.invoke()
        want = oracle.get_output(0).reshape(-1)
        _, _, _, probs = native.cascade_run(native.quantize_input(x), 4)
        assert np.array_equal((probs.astype(np.float32) + 128) / 256, want)


def _person_detect_style_model(path: Path) -> Path:
    """A one-channel image through a DEPTHWISE_CONV_2D of depth multiplier 8 (TFLM's micro_speech has one),
    to a softmax over 128 classes, with TFLM's person-detection quirk: per-tensor quantizations (its bias)
    whose quantized_dimension is 3, which TFLM ignores and LiteRT's verifier refuses."""
    rng = np.random.default_rng(11)
    m = OpModel()
    x = m.tensor([1, 4, 4, 1], 0.02, -3)
    f = m.tensor([1, 3, 3, 8], [0.01] * 8, 0, rng.integers(-127, 128, (1, 3, 3, 8)), axis=3)
    b = m.tensor([8], 0.0002, 0, rng.integers(-500, 500, 8), dtype=np.int32, axis=3)
    h = m.tensor([1, 4, 4, 8], 0.05, 4, axis=3)
    m.op("DEPTHWISE_CONV_2D", [x, f, b], [h], options("DepthwiseConv2DOptions", padding=0, strideH=1, strideW=1,
                                                       dilationHFactor=1, dilationWFactor=1, depthMultiplier=8),
         "DepthwiseConv2DOptions")
    flat, shape = m.tensor([1, 128], 0.05, 4), m.const_ints([1, 128])
    m.op("RESHAPE", [h, shape], [flat], options("ReshapeOptions", newShape=[1, 128]), "ReshapeOptions")
    y = m.tensor([1, 128], 1 / 256, -128)
    m.op("SOFTMAX", [flat], [y], options("SoftmaxOptions", beta=1.0), "SoftmaxOptions")
    path.write_bytes(m.build([x], [y]))
    return path


def test_what_tflm_accepts_is_read_and_a_slow_path_is_named(tmp_path):
    """quantized_dimension 3 on per-tensor quantizations is read (the verifier is no stricter than TFLM), and
    the depthwise convolution the optimised kernels cannot take is named in a warning and in --json."""
    model = _person_detect_style_model(tmp_path / "pd.tflite")
    r = tinyee("import", model, "--out", tmp_path / "pd")
    assert r.returncode == 0, r.stderr
    r = tinyee("analyze", "--export", tmp_path / "pd", "--json", "-")
    assert r.returncode == 0, r.stderr
    slow = json.loads(r.stdout)["slow_paths"]
    assert [(s["op"], s["kernel"]) for s in slow] == [("DEPTHWISE_CONV_2D", "tee_depthwise_conv2d_s8")]
    assert "depth multiplier 8" in slow[0]["reason"]
    assert ("warning: segment 0, op #0 DEPTHWISE_CONV_2D runs the reference kernel tee_depthwise_conv2d_s8: "
            "depth multiplier 8") in r.stderr
    data = (tmp_path / "pd" / "segment0.tflite").read_bytes()
    segments = compile_segments([TfliteModel(data, "pd")], "optimized")
    write_sources(tmp_path / "src", segments, "pd", [], 0, kernels="optimized")
    runner = HostRunner(build_shared_library(tmp_path / "src", tmp_path / "pd.so", path="dsp"), segments)
    oracle = SegmentRunner(data, "tflm")
    for x in np.random.default_rng(2).integers(-128, 128, (20, 1, 4, 4, 1), dtype=np.int8):
        runner.write(segments[0], segments[0].model.inputs[0].index, x)
        runner.run(0)
        assert np.array_equal(runner.view(segments[0], segments[0].model.outputs[0].index).reshape(-1),
                              oracle.run(x)[0])
