"""Exit heads compared on real data (full Fashion-MNIST), exported to int8 and calibrated on the
host int8 cascade. Two recipes:

* ``joint``: the mcu preset trained from scratch with linear, slvit or bof intermediate exits;
* ``frozen``: slvit and bof exits fine-tuned (cross-entropy mixed with copycat distillation from
  the final exit) on the frozen backbone of the joint linear model, so that every variant has
  the same final exit: the comparison at equal final accuracy.

    .venv/bin/python benchmarks/exit_heads.py [--epochs 8] [--finetune-epochs 3]

For each variant: per-exit int8 accuracy on the 10,000 test images, the heads' parameters and
MACs, and the average cost (MACs) at <= 1 point accuracy drop below the final exit (thresholds
calibrated on the first 5,000 test images, reported on the other 5,000). Writes
benchmarks/results/exit_heads.json and exit_heads.png (rows already there are kept). About 40
minutes on 2 cores.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from tinyee.calibrate import calibrate, candidates, evaluate_thresholds
from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_shipped
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.export import export_checkpoint
from tinyee.model import ModelConfig, load_checkpoint, preset
from tinyee.model.costs import head_costs
from tinyee.train import TrainConfig, train
from results_files import RESULTS, save

ROOT = Path(__file__).resolve().parents[1]
HEADS = ("linear", "slvit", "bof")


def int8_probs(run: Path, test_set):
    """(model, manifest, per-exit int8 softmax [exits, N, classes]) of the run's checkpoint, exported."""
    model, _ = load_checkpoint(run / "last.pt")
    manifest = export_checkpoint(run / "last.pt", load_shipped("rep"), run / "export")
    return model, manifest, int8_exit_probs(run / "export", manifest, quantized_inputs(manifest, test_set), "tflm")


def evaluate(name: str, run: Path, test_set) -> dict:
    return report(name, *int8_probs(run, test_set), test_set)


def report(name: str, model, manifest, probs, test_set, segment_macs: list[float] | None = None) -> dict:
    """segment_macs: what each segment costs (default: its graph's MACs; routed experts run fewer)."""
    segment_macs = segment_macs or [s.macs for s in manifest.segments]
    costs = np.cumsum(segment_macs).tolist()
    calib, held = slice(0, 5000), slice(5000, None)
    chosen = calibrate("target", probs[:, calib], test_set.labels[calib], costs, max_drop=0.01)
    report = evaluate_thresholds(probs[:, held], test_set.labels[held], chosen["thresholds"], costs)
    return {
        "variant": name,
        "int8_accuracy_per_exit": [float((p.argmax(-1) == test_set.labels).mean()) for p in probs],
        "heads": head_costs(model),
        "segment_macs": list(segment_macs),
        "thresholds": chosen["thresholds"],
        "held_out_accuracy": report["accuracy"],
        "held_out_final_exit_accuracy": float((probs[-1, held].argmax(-1) == test_set.labels[held]).mean()),
        "held_out_relative_macs": report["average_cost"] / costs[-1],
        "held_out_exit_fractions": report["exit_fractions"],
        "curve": [(c["average_cost"] / costs[-1], c["accuracy"])
                  for c in candidates(probs[:, held], test_set.labels[held], costs)],
        "alpha_rule": [alpha_rule(alpha, probs, test_set.labels, costs) for alpha in ALPHAS],
    }


ALPHAS = (0.9, 1.0, 1.1)


def alpha_rule(alpha: float, probs, labels, costs) -> dict:
    """The bag-of-features paper's rule (exit when confidence >= alpha x the exit's mean confidence), the means
    taken on the calibration half, reported on the held-out half."""
    calib, held = slice(0, 5000), slice(5000, None)
    chosen = calibrate("alpha", probs[:, held], labels[held], costs, alpha=alpha, train_probs_q=probs[:, calib])
    return {"alpha": alpha, "accuracy": chosen["accuracy"], "relative_macs": chosen["average_cost"] / costs[-1],
            "exit_fractions": chosen["exit_fractions"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--finetune-epochs", type=int, default=3)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "exit_heads")
    args = ap.parse_args()
    train_set, test_set = load_dataset(FASHION_MNIST_DIR, "train"), load_dataset(FASHION_MNIST_DIR, "test")
    out_file = RESULTS / "exit_heads.json"
    rows = {}
    if out_file.is_file():
        rows = {r.get("variant", f"joint-{r.get('head')}"): r for r in json.loads(out_file.read_text())["rows"]}
    for head in HEADS:
        name, run = f"joint-{head}", args.work / head
        if name in rows:
            continue
        if not (run / "last.pt").is_file():
            cfg = ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": [head, head, "linear"]})
            train(cfg, train_set, test_set, run, TrainConfig(epochs=args.epochs))
        rows[name] = evaluate(name, run, test_set)
    base, _ = load_checkpoint(args.work / "linear" / "last.pt")
    for head in ("slvit", "bof"):
        name, run = f"frozen-{head}", args.work / f"frozen-{head}"
        if name in rows:
            continue
        if not (run / "last.pt").is_file():
            model = base.with_exit_heads([head, head, "linear"])
            train(model.cfg, train_set, test_set, run,
                  TrainConfig(epochs=args.finetune_epochs, freeze_backbone=True, distill=0.5), init_model=model)
        rows[name] = evaluate(name, run, test_set)
        print(json.dumps({k: v for k, v in rows[name].items() if k != "curve"}, indent=1))
    result = {"epochs": args.epochs, "finetune_epochs": args.finetune_epochs, "rows": list(rows.values())}
    save("exit_heads", result)
    plot(result["rows"], RESULTS / "exit_heads.png")


def plot(rows, path, title: str = "Exit heads on Fashion-MNIST") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        pts = sorted(r["curve"])
        ax.plot([100 * c for c, _ in pts], [100 * a for _, a in pts], ".", alpha=0.5,
                label=r.get("variant", r.get("head")))
        ax.plot([100 * r["held_out_relative_macs"]], [100 * r["held_out_accuracy"]], "*", ms=14, color="black")
    ax.set(xlabel="average MACs (% of running all segments)", ylabel="held-out int8 accuracy (%)",
           title=f"{title} (stars: <= 1 point drop operating points)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
