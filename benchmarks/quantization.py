"""What int8 post-training quantization costs each exit, per calibration setting, on full Fashion-MNIST.

    .venv/bin/python benchmarks/quantization.py [--models plain,recipe,slvit] [--settings minmax,percentile:99.99]

Models (the `mcu` preset, 15 epochs, trained by benchmarks/training_recipe.py into build/training_recipe/;
trained here when missing): ``plain`` and ``recipe`` (linear exits), ``slvit`` (single-layer ViT
intermediate exits: LayerNorm, attention and softmax in the int8 graph, the harder case); ``shipped``:
tinyee's shipped checkpoint (models/mcu-fashion-mnist). ``<model>+qat``: that model after quantization-aware
fine-tuning (``tinyee train --init <model> --qat``, 3 epochs, peak learning rate 3e-4).
Settings: the activation range estimator (``tinyee export --ranges``) and, after ``@``, the number of
calibration images (default: the 500 shipped ones; more are the first N of the training split).

Per model and setting: float and int8 accuracy per exit on the 10,000 test images, the int8 loss and the
float/int8 agreement per exit, and the cascade at <= 1 point below the final exit (thresholds calibrated
on the first 5,000 test images, reported on the other 5,000). Rows already in
benchmarks/results/quantization.json are kept unless re-run.
"""

import argparse
import json
from pathlib import Path

from exit_heads import report
from results_files import RESULTS, markdown_table, percents, save
from training_recipe import VARIANTS, run_variant
from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_shipped
from tinyee.data.imageset import ImageSet
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.export import export_checkpoint
from tinyee.export.ranges import RangeEstimator
from tinyee.model import load_checkpoint
from tinyee.train import TrainConfig, evaluate_float, train

ROOT = Path(__file__).resolve().parents[1]
VARIANTS.setdefault("slvit", ({}, ["slvit", "slvit", "linear"]))
SHIPPED = ROOT / "models" / "mcu-fashion-mnist" / "checkpoint.pt"
QAT = TrainConfig(epochs=3, lr=3e-4, device="cpu", qat=True, resume=True)


def checkpoint_of(model_name: str, work: Path) -> Path:
    return SHIPPED if model_name == "shipped" else work / model_name / "last.pt"


def train_model(model_name: str, epochs: int, work: Path, train_set, test_set) -> None:
    base, _, qat = model_name.partition("+")
    if not qat:
        run_variant(model_name, epochs, work, train_set, test_set)
        return
    if not checkpoint_of(base, work).is_file():
        train_model(base, epochs, work, train_set, test_set)
    model, _ = load_checkpoint(checkpoint_of(base, work))
    train(model.cfg, train_set, test_set, work / model_name, QAT, init_model=model)


def calibration_set(samples: int | None, train_set: ImageSet) -> ImageSet:
    if samples is None:
        return load_shipped("rep")
    return ImageSet(train_set.images[:samples], train_set.labels[:samples], train_set.classes,
                    f"{train_set.source} (first {samples})")


def measure(model_name: str, setting: str, work: Path, train_set, test_set, float_probs) -> dict:
    ranges, _, count = setting.partition("@")
    estimator = RangeEstimator.parse(ranges)
    rep = calibration_set(int(count) if count else None, train_set)
    checkpoint = checkpoint_of(model_name, work)
    out = work / "quantization" / model_name / setting.replace(":", "-").replace("@", "-n")
    manifest = export_checkpoint(checkpoint, rep, out, ranges=estimator)
    probs = int8_exit_probs(out, manifest, quantized_inputs(manifest, test_set), "tflm")
    model, _ = load_checkpoint(checkpoint)
    row = report(model_name, model, manifest, probs, test_set)
    float_acc = [float((p.argmax(-1) == test_set.labels).mean()) for p in float_probs]
    int8_acc = row["int8_accuracy_per_exit"]
    row.update({
        "model": model_name, "setting": setting, "ranges": str(estimator), "calibration_images": len(rep),
        "float_accuracy_per_exit": float_acc,
        "int8_loss_points_per_exit": [round(100 * (f - q), 2) for f, q in zip(float_acc, int8_acc)],
        "float_int8_agreement_per_exit": [float((p.argmax(-1) == q.argmax(-1)).mean())
                                          for p, q in zip(float_probs, probs)],
    })
    return row


def saved_rows() -> dict:
    out_file = RESULTS / "quantization.json"
    rows = json.loads(out_file.read_text())["rows"] if out_file.is_file() else []
    return {(r["model"], r["setting"]): r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="plain,recipe,slvit")
    ap.add_argument("--settings", default="minmax,minmax@2000,percentile:99.999,percentile:99.99,percentile:99.9")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "training_recipe")
    args = ap.parse_args()
    train_set, test_set = load_dataset(FASHION_MNIST_DIR, "train"), load_dataset(FASHION_MNIST_DIR, "test")
    for model_name in args.models.split(","):
        if not checkpoint_of(model_name, args.work).is_file():
            train_model(model_name, args.epochs, args.work, train_set, test_set)
        float_probs = evaluate_float(load_checkpoint(checkpoint_of(model_name, args.work))[0], test_set)
        for setting in args.settings.split(","):
            row = measure(model_name, setting, args.work, train_set, test_set, float_probs)
            rows = saved_rows() | {(model_name, setting): row}  # read again: another run may have added rows
            save("quantization", {"rows": list(rows.values())}, markdown(rows.values()))
            print(markdown([row]).splitlines()[-1], flush=True)


COLUMNS = {
    "model": lambda r: r["model"],
    "activation ranges": lambda r: r["ranges"],
    "calibration images": lambda r: str(r["calibration_images"]),
    "float accuracy per exit (%)": lambda r: percents(r["float_accuracy_per_exit"]),
    "int8 accuracy (%)": lambda r: percents(r["int8_accuracy_per_exit"]),
    "int8 loss (points)": lambda r: " / ".join(f"{v:.2f}" for v in r["int8_loss_points_per_exit"]),
    "float/int8 agreement (%)": lambda r: percents(r["float_int8_agreement_per_exit"]),
    "held-out at <= 1 pt drop (final exit)": lambda r: f"{100 * r['held_out_accuracy']:.2f}% "
                                                       f"({100 * r['held_out_final_exit_accuracy']:.2f}%)",
    "average MACs": lambda r: f"{100 * r['held_out_relative_macs']:.1f}%",
}


def markdown(rows) -> str:
    return markdown_table(COLUMNS, rows)


if __name__ == "__main__":
    main()
