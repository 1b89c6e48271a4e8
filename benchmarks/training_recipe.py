"""Training recipes measured on full Fashion-MNIST (60,000 training / 10,000 test images), float and int8
accuracy per exit, so that what quantization costs each head is visible.

    .venv/bin/python benchmarks/training_recipe.py [--epochs 15] [--variants plain,recipe,bof-plain]

Variants (the `mcu` preset; linear exits unless named):
* ``plain``: tinyee's defaults (AdamW, one-cycle, crop + flip);
* ``recipe``: plus label smoothing 0.1, an exponential moving average of the weights (decay 0.999, the
  average is what is exported) and mixup (alpha 0.2); ``recipe-long``: the same for 40 epochs;
* ``bof-plain``: bag-of-features intermediate exits, plain recipe (where the int8 drop comes from);
* ``bof-frozen`` / ``hbof-frozen``: bag-of-features / hierarchical bag-of-features intermediate exits
  trained for 3 epochs on the frozen backbone of ``plain`` (codebooks by k-means on its features,
  cross-entropy mixed with copycat distillation from the final exit), the final exit kept;
* ``latent-plain``: Dynamic-Perceiver latent exits (8 tokens x 32, all three exits on the latent),
  plain recipe, trained jointly; ``latent-frozen``: a latent branch and latent intermediate exits
  trained on the frozen backbone of ``plain`` as above.

Each: the int8 export (500 shipped calibration images), per-exit float and int8 accuracy and their
agreement on the 10,000 test images, thresholds at <= 1 point below the final exit (calibrated on the
first 5,000, reported on the other 5,000), the same held-out half under the alpha rule (exit means
from the first 5,000), seconds per epoch on this machine. Rows already in
benchmarks/results/training_recipe.json are kept; runs live in build/training_recipe/<variant>.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np

from exit_heads import int8_probs, report
from results_files import RESULTS, markdown_table, percents, save
from tinyee.data import FASHION_MNIST_DIR, load_dataset
from tinyee.model import ModelConfig, load_checkpoint, preset
from tinyee.train import TrainConfig, evaluate_float, train

ROOT = Path(__file__).resolve().parents[1]
FROZEN = {"freeze_backbone": True, "distill": 0.5, "epochs": 3}  # on the backbone of `plain`
VARIANTS = {
    "plain": ({}, ["linear", "linear", "linear"]),
    "recipe": ({"label_smoothing": 0.1, "ema": 0.999, "mixup": 0.2}, ["linear", "linear", "linear"]),
    "recipe-long": ({"label_smoothing": 0.1, "ema": 0.999, "mixup": 0.2, "epochs": 40}, ["linear", "linear", "linear"]),
    "bof-plain": ({}, ["bof", "bof", "linear"]),
    "bof-frozen": (FROZEN, ["bof", "bof", "linear"]),
    "hbof-frozen": (FROZEN, ["hbof", "hbof", "linear"]),
    "latent-plain": ({"latent": {}}, ["latent", "latent", "latent"]),
    "latent-frozen": ({**FROZEN, "latent": {}}, ["latent", "latent", "linear"]),
}


def run_variant(name: str, epochs: int, work: Path, train_set, test_set) -> dict:
    settings, heads = VARIANTS[name]
    epochs = settings.get("epochs", epochs)
    run = work / name
    if not (run / "last.pt").is_file() or load_checkpoint(run / "last.pt")[1]["epoch"] < epochs:
        latent = settings.get("latent")
        cfg = ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": heads, "latent": latent})
        init = load_checkpoint(work / "plain" / "last.pt")[0].with_exit_heads(heads, latent) \
            if settings.get("freeze_backbone") else None
        training = {k: v for k, v in settings.items() if k != "latent"}
        tc = TrainConfig(device="cpu", resume=True, **{**training, "epochs": epochs})
        train(init.cfg if init else cfg, train_set, test_set, run, tc, init_model=init)
    meta = load_checkpoint(run / "last.pt")[1]
    model, manifest, probs = int8_probs(run, test_set)
    row = report(name, model, manifest, probs, test_set)
    float_probs = evaluate_float(model, test_set)
    int8_pred = probs.argmax(-1)
    row.update({
        "settings": settings, "epochs": epochs,
        "float_accuracy_per_exit": [float((p.argmax(-1) == test_set.labels).mean()) for p in float_probs],
        "float_int8_agreement_per_exit": [float((p.argmax(-1) == q).mean()) for p, q in zip(float_probs, int8_pred)],
        "seconds_per_epoch": float(np.mean([h["seconds"] for h in meta["history"]])),
        "cores": os.cpu_count(),
    })
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "training_recipe")
    args = ap.parse_args()
    train_set, test_set = load_dataset(FASHION_MNIST_DIR, "train"), load_dataset(FASHION_MNIST_DIR, "test")
    out_file = RESULTS / "training_recipe.json"
    rows = {r["variant"]: r for r in json.loads(out_file.read_text())["rows"]} if out_file.is_file() else {}
    for name in args.variants.split(","):
        rows[name] = run_variant(name, args.epochs, args.work, train_set, test_set)
        save("training_recipe", {"rows": list(rows.values())}, markdown(rows.values()))
        print(json.dumps({k: v for k, v in rows[name].items() if k != "curve"}), flush=True)


COLUMNS = {
    "variant": lambda r: r["variant"],
    "epochs": lambda r: str(r["epochs"]),
    "s/epoch": lambda r: f"{r['seconds_per_epoch']:.0f}",
    "float accuracy per exit": lambda r: percents(r["float_accuracy_per_exit"], "%"),
    "int8 accuracy per exit": lambda r: percents(r["int8_accuracy_per_exit"], "%"),
    "float/int8 agreement": lambda r: percents(r["float_int8_agreement_per_exit"], "%"),
    "held-out at <= 1 pt drop (final exit)": lambda r: f"{100 * r['held_out_accuracy']:.2f}% "
                                                       f"({100 * r['held_out_final_exit_accuracy']:.2f}%)",
    "average MACs": lambda r: f"{100 * r['held_out_relative_macs']:.1f}%",
    "exit shares": lambda r: percents(r["held_out_exit_fractions"], "%"),
    "alpha rule (0.9 / 1.0 / 1.1): accuracy, MACs, exit shares": lambda r: "; ".join(
        f"{100 * a['accuracy']:.2f}%, {100 * a['relative_macs']:.0f}%, {percents(a['exit_fractions'], '%')}"
        for a in r["alpha_rule"]) if "alpha_rule" in r else "-",
}


def markdown(rows) -> str:
    return markdown_table(COLUMNS, rows)


if __name__ == "__main__":
    main()
