"""The command line on bad input: a clear message, a non-zero exit code, nothing left half-written."""

import json
import subprocess
import sys

import torch

from conftest import SHIPPED_CHECKPOINT as REPO_CHECKPOINT
from tinyee.model import MultiExitMobileViT, preset, save_checkpoint


def tinyee(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


def test_missing_checkpoint(tmp_path):
    r = tinyee("export", "--checkpoint", tmp_path / "none.pt", "--out", tmp_path / "out")
    assert r.returncode == 1 and "checkpoint not found" in r.stderr
    assert not (tmp_path / "out").exists()


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    r = tinyee("export", "--checkpoint", tmp_path / "bad.pt", "--out", tmp_path / "out")
    assert r.returncode == 1 and "corrupt" in r.stderr
    assert not (tmp_path / "out").exists()


def test_dataset_in_wrong_layout(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("1,2,3\n")
    r = tinyee("train", "--data", tmp_path / "data", "--out", tmp_path / "run", "--epochs", 1)
    assert r.returncode == 1 and "not a dataset directory tinyee can read" in r.stderr
    assert not (tmp_path / "run").exists()


def test_exit_past_last_stage_in_config(tmp_path):
    cfg = preset("mcu").to_dict()
    cfg["exit_stages"] = [1, 5]
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    r = tinyee("train", "--data", "/usr/share/datasets/fashion-mnist", "--config", tmp_path / "cfg.json",
               "--out", tmp_path / "run", "--limit", 64)
    assert r.returncode == 1 and "exit after stage 5 is not possible" in r.stderr


def test_eval_without_export(tmp_path):
    r = tinyee("eval", "--export", tmp_path)
    assert r.returncode == 1 and "no manifest.json" in r.stderr


def test_bad_thresholds(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m.pt", MultiExitMobileViT(preset("mcu")))
    r = tinyee("export", "--checkpoint", tmp_path / "m.pt", "--out", tmp_path / "out", "--thresholds", "0.5,0.6,0.7")
    assert r.returncode == 1 and "3 thresholds given for 2 intermediate exits" in r.stderr
    assert not (tmp_path / "out").exists()


def test_train_writes_checkpoint_config_and_history(tmp_path):
    r = tinyee("train", "--data", "/usr/share/datasets/fashion-mnist", "--out", tmp_path / "run",
               "--epochs", 1, "--limit", 512, "--batch-size", 64)
    assert r.returncode == 0, r.stderr
    from tinyee.model import load_checkpoint

    model, meta = load_checkpoint(tmp_path / "run" / "last.pt")
    assert meta["epoch"] == 1 and model.cfg.num_exits == 3
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history[0]["test_accuracy"]) == 3 and history[0]["loss"] > 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["name"] == "mcu"


def test_frozen_backbone_copycat_fine_tuning_changes_only_the_exit_heads(tmp_path):
    from tinyee.model import load_checkpoint

    base, _ = load_checkpoint(REPO_CHECKPOINT)
    r = tinyee("train", "--data", "/usr/share/datasets/fashion-mnist", "--out", tmp_path / "ft", "--init", REPO_CHECKPOINT,
               "--freeze-backbone", "--distill", "1", "--epochs", 1, "--limit", 256, "--batch-size", 64)
    assert r.returncode == 0, r.stderr
    tuned, meta = load_checkpoint(tmp_path / "ft" / "last.pt")
    assert meta["train"]["distill"] == 1.0 and meta["train"]["freeze_backbone"]
    before, after = base.state_dict(), tuned.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("heads.0.", "heads.1.")) for k in changed), sorted(changed)[:5]


def test_train_with_bof_and_slvit_heads(tmp_path):
    r = tinyee("train", "--data", "/usr/share/datasets/fashion-mnist", "--out", tmp_path / "run", "--exit-heads",
               "bof,slvit,linear", "--epochs", 1, "--limit", 256, "--batch-size", 64)
    assert r.returncode == 0, r.stderr
    assert "codebooks initialised by k-means" in r.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["exit_heads"] == ["bof", "slvit", "linear"]


def test_copycat_on_unlabelled_images(tmp_path):
    """A folder of images without labels fine-tunes the exits by copycat distillation alone."""
    from PIL import Image

    from tinyee.data import load_shipped

    (tmp_path / "unlabelled" / "train").mkdir(parents=True)
    for i, img in enumerate(load_shipped("rep").take(96).images):
        Image.fromarray(img[..., 0]).save(tmp_path / "unlabelled" / "train" / f"{i}.png")
    args = ("train", "--data", tmp_path / "unlabelled", "--init", REPO_CHECKPOINT, "--freeze-backbone", "--epochs", 1,
            "--batch-size", 32)
    r = tinyee(*args, "--out", tmp_path / "plain")
    assert r.returncode == 1 and "unlabelled: train on it with --distill 1" in r.stderr
    r = tinyee(*args, "--distill", 1, "--out", tmp_path / "copycat")
    assert r.returncode == 0, r.stderr
    assert "(no labelled test split)" in r.stderr and (tmp_path / "copycat" / "last.pt").is_file()


def test_export_prints_its_results_on_stdout_and_no_native_noise(tmp_path):
    r = tinyee("export", "--out", tmp_path / "export", "--rep-samples", 32)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(".tflite: ") == 3 and "exported 3 segments" in r.stdout
    for noise in ("W0000", "fully_quantize", "cuDNN", "XNNPACK", "absl"):
        assert noise not in r.stdout + r.stderr


def test_json_output_and_exit_codes(shipped_export, tmp_path):
    import json as json_module

    from tinyee.boards import load_board

    r = tinyee("boards", "--json")
    boards = {b["board"]: b for b in json_module.loads(r.stdout)["boards"]}
    assert r.returncode == 0 and boards["mps3-an547"]["emulated"] and boards["nucleo-f746zg"]["run"] == "openocd"
    r = tinyee("build", "--export", shipped_export[0], "--board", "netduinoplus2", "--out", tmp_path / "fw", "--json")
    image = json_module.loads(r.stdout)  # one JSON document on stdout, the readable lines on stderr
    assert r.returncode == 0 and image["flash_bytes"] <= image["flash_limit"] == 1024 * 1024
    assert "flash" in r.stderr and image["memory"]["cascade_arena_bytes"] == 18_560
    spec = dict(load_board("netduinoplus2").spec, name="tiny")
    spec["memory"] = {"flash": {"origin": "0x08000000", "size": 65536}, "ram": {"origin": "0x20000000", "size": 8192}}
    (tmp_path / "tiny.json").write_text(json_module.dumps(spec))
    r = tinyee("build", "--export", shipped_export[0], "--board", tmp_path / "tiny.json", "--out", tmp_path / "tiny")
    assert r.returncode == 3 and "does not fit board tiny: flash needs" in r.stderr
    r = tinyee("eval", "--export", shipped_export[0], "--samples", 20, "--runtime", "tflm", "--json")
    assert r.returncode == 0 and json_module.loads(r.stdout)["samples"] == 20
    r = tinyee("bench", "--export", shipped_export[0], "--samples", 0)
    assert r.returncode == 2 and "0 is not in the range x>=1" in r.stderr


def test_latent_exits_fine_tuned_on_a_frozen_backbone_train_only_the_latent_branch(tmp_path):
    from tinyee.model import load_checkpoint

    r = tinyee("train", "--data", "/usr/share/datasets/fashion-mnist", "--out", tmp_path / "ft", "--init", REPO_CHECKPOINT,
               "--exit-heads", "latent,latent,linear", "--latent", "4x16", "--freeze-backbone", "--epochs", 1,
               "--limit", 128, "--batch-size", 64)
    assert r.returncode == 0, r.stderr
    base, _ = load_checkpoint(REPO_CHECKPOINT)
    tuned, _ = load_checkpoint(tmp_path / "ft" / "last.pt")
    assert tuned.cfg.latent.tokens == 4 and tuned.cfg.latent.dim == 16
    before = base.state_dict()
    for key, value in tuned.state_dict().items():  # backbone and final exit unchanged, the rest new
        assert key.startswith(("heads.0.", "heads.1.", "latent.", "mixers.")) or torch.equal(before[key], value), key


def test_a_checkpoint_split_into_experts_fine_tunes_with_routing_in_every_transformer_layer(tmp_path):
    from tinyee.model import load_checkpoint
    from tinyee.model.experts import ExpertMLP

    r = tinyee("train", "--data", "/usr/share/datasets/fashion-mnist", "--out", tmp_path / "moe", "--init",
               REPO_CHECKPOINT, "--experts", 2, "--epochs", 1, "--limit", 128, "--batch-size", 64, "--lr", "1e-4")
    assert r.returncode == 0, r.stderr
    base, _ = load_checkpoint(REPO_CHECKPOINT)
    tuned, meta = load_checkpoint(tmp_path / "moe" / "last.pt")
    assert [st.transformer.experts for st in tuned.cfg.stages if st.transformer] == [2, 2]
    layers = [m for m in tuned.modules() if isinstance(m, ExpertMLP)]
    assert len(layers) == 3 and all(len(m.experts) == 2 for m in layers)
    assert sum(p.numel() for p in tuned.parameters()) > sum(p.numel() for p in base.parameters())  # routers
    assert meta["history"][-1]["test_accuracy"][-1] > 0.8  # the split keeps what the dense MLPs learned
