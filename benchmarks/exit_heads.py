"""Exit heads compared on real data: the mcu preset trained on full Fashion-MNIST with linear,
slvit and bof intermediate exits (same recipe), exported to int8 and calibrated on the host
int8 cascade.

    .venv/bin/python benchmarks/exit_heads.py [--epochs 8]

For each head: per-exit int8 accuracy on the 10,000 test images, the heads' parameter bytes and
MACs, and the average cost (MACs) at <= 1 point accuracy drop below the final exit (thresholds
calibrated on the first 5,000 test images, reported on the other 5,000). Writes
benchmarks/results/exit_heads.json and exit_heads.png. Takes about half an hour on 2 cores.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from tinyee.calibrate import calibrate, candidates, evaluate_thresholds
from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_shipped
from tinyee.eval.host import int8_exit_probs, quantized_inputs
from tinyee.export import export_checkpoint
from tinyee.model import ModelConfig, load_checkpoint, preset
from tinyee.model.profile import head_costs
from tinyee.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HEADS = ("linear", "slvit", "bof")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "exit_heads")
    args = ap.parse_args()
    train_set, test_set = load_dataset(FASHION_MNIST_DIR, "train"), load_dataset(FASHION_MNIST_DIR, "test")
    calib, held = slice(0, 5000), slice(5000, None)
    rows = []
    for head in HEADS:
        run = args.work / head
        cfg = ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": [head, head, "linear"]})
        if not (run / "last.pt").is_file():
            train(cfg, train_set, test_set, run, TrainConfig(epochs=args.epochs))
        model, _ = load_checkpoint(run / "last.pt")
        manifest = export_checkpoint(run / "last.pt", load_shipped("rep"), run / "export")
        probs = int8_exit_probs(run / "export", manifest, quantized_inputs(manifest, test_set), "tflm")
        costs = np.cumsum([s["macs"] for s in manifest["segments"]]).tolist()
        chosen = calibrate("target", probs[:, calib], test_set.labels[calib], costs, max_drop=0.01)
        report = evaluate_thresholds(probs[:, held], test_set.labels[held], chosen["thresholds"], costs)
        rows.append({
            "head": head,
            "int8_accuracy_per_exit": [float((p.argmax(-1) == test_set.labels).mean()) for p in probs],
            "heads": head_costs(model),
            "segment_macs": [s["macs"] for s in manifest["segments"]],
            "thresholds": chosen["thresholds"],
            "held_out_accuracy": report["accuracy"],
            "held_out_final_exit_accuracy": float((probs[-1, held].argmax(-1) == test_set.labels[held]).mean()),
            "held_out_relative_macs": report["average_cost"] / costs[-1],
            "held_out_exit_fractions": report["exit_fractions"],
            "curve": [(c["average_cost"] / costs[-1], c["accuracy"]) for c in candidates(probs[:, held],
                                                                                          test_set.labels[held], costs)],
        })
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "curve"}, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "exit_heads.json").write_text(json.dumps({"epochs": args.epochs, "rows": rows}, indent=2) + "\n")
    plot(rows, RESULTS / "exit_heads.png")


def plot(rows, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        pts = sorted(r["curve"])
        ax.plot([100 * c for c, _ in pts], [100 * a for _, a in pts], ".", alpha=0.5, label=f"{r['head']} exits")
        ax.plot([100 * r["held_out_relative_macs"]], [100 * r["held_out_accuracy"]], "*", ms=14, color="black")
    ax.set(xlabel="average MACs (% of running all segments)", ylabel="held-out int8 accuracy (%)",
           title="Exit heads on Fashion-MNIST (stars: <= 1 point drop operating points)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
