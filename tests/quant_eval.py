"""Shared by the quantization regression tests and scripts/update_baselines.py."""

from pathlib import Path

from tinyee.data import load_shipped
from tinyee.eval import evaluate
from tinyee.manifest import Manifest

BASELINE_FILE = Path(__file__).resolve().parent / "baselines" / "quant_accuracy.json"


def evaluate_report(export_dir: Path, model) -> dict:
    manifest = Manifest.load(export_dir)
    return evaluate(export_dir, manifest, load_shipped("eval"), list(manifest.thresholds), model, ("tflm", "litert"))


def evaluate_shipped(workdir: Path) -> dict:
    from tinyee.export import export_checkpoint
    from tinyee.model import load_checkpoint

    from conftest import SHIPPED_CHECKPOINT

    export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), workdir / "export")
    return evaluate_report(workdir / "export", load_checkpoint(SHIPPED_CHECKPOINT)[0])
