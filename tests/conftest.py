import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CHECKPOINT = REPO / "models" / "mcu-fashion-mnist" / "checkpoint.pt"
MLPERF_TINY = REPO / "models" / "mlperf-tiny"  # vendored, Apache-2.0


@pytest.fixture(scope="session")
def shipped_export(tmp_path_factory):
    """The shipped checkpoint exported once per test session with the shipped calibration data."""
    from tinyee.data import load_shipped
    from tinyee.export import export_checkpoint
    from tinyee.model import load_checkpoint

    out = tmp_path_factory.mktemp("export") / "shipped"
    manifest = export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), out)
    return out, manifest, load_checkpoint(SHIPPED_CHECKPOINT)[0]


def host_against_tflm(export: Path, manifest, segments, host, inputs) -> tuple[int, int]:
    """Run the generated C (a HostRunner) and TFLite Micro segment by segment on these int8 inputs;
    returns (values compared, values that differ) over every exit's softmax and boundary tensor."""
    from tinyee.runtime import SegmentRunner

    oracle = [SegmentRunner((export / s.file).read_bytes(), "tflm") for s in manifest.segments]
    compared = mismatched = 0
    for x in inputs:
        host.write(segments[0], segments[0].model.inputs[0].index, x)  # later segments read the arena in place
        boundary = x
        for seg, ref in zip(segments, oracle):
            host.run(seg.index)
            probs, boundary = ref.run(boundary)
            for t, want in zip((seg.probs_tensor, *seg.boundary_tensors), (probs, *boundary), strict=True):
                compared += want.size
                mismatched += int((host.view(seg, t).reshape(-1) != want.reshape(-1)).sum())
    return compared, mismatched


def validate_on_board(export: Path, out: Path, samples: int) -> dict:
    """`tinyee validate` of an export on the default emulated board (shipped images, two samples' tensors);
    its report, after checking that it passed with the cascade and every tensor equal to the host's."""
    r = subprocess.run([sys.executable, "-m", "tinyee", "validate", "--export", str(export), "--data", "shipped",
                        "--samples", str(samples), "--tensor-samples", "2", "--out", str(out), "--json"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["passed"] and report["samples"] == samples
    assert report["cascade"]["exit_class_confidence_agreement"] == 1.0
    assert all(t["bytes_equal"] for t in report["tensors"])
    return report


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def mixed_heads_export(tmp_path_factory):
    """A model with bof, slvit and linear exits, briefly trained, exported with the entropy criterion."""
    from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_shipped, to_model_input
    from tinyee.export import export_model
    from tinyee.model import ModelConfig, preset
    from tinyee.train import TrainConfig, train

    cfg = ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": ["bof", "slvit", "linear"]})
    work = tmp_path_factory.mktemp("mixed")
    data = load_dataset(FASHION_MNIST_DIR, "train")
    model = train(cfg, data.take(4096), load_shipped("eval").take(200), work / "run",
                  TrainConfig(epochs=1, batch_size=64), log=lambda msg: None)
    rep = to_model_input(load_shipped("rep").take(64).images, 32, 3).numpy()
    manifest = export_model(model, rep, work / "export", [1.0, 1.0], criterion="entropy")
    return work / "export", manifest, model
