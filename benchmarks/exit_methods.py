"""Early-exit methods side by side on full Fashion-MNIST, with a bench run of each int8 cascade on the
emulated board (issue 14's table).

    .venv/bin/python benchmarks/exit_methods.py [--variants plain,recipe,...] [--samples 300]

Takes the variants benchmarks/training_recipe.py trained and measured (its rows: float and int8
accuracy per exit, thresholds at <= 1 point below the final exit calibrated on the first 5,000 test
images and reported on the other 5,000, the alpha rule). For each, the export gets those thresholds and
runs in QEMU (`tinyee bench`, default board) on the first --samples of the held-out 5,000: average
emulated instructions per image against running every segment, the exit distribution, and device/host
agreement. Writes benchmarks/results/exit_methods.{json,md,png} (rows of other variants already there
are kept).
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from exit_heads import plot
from results_files import RESULTS, markdown_table, percents, save
from training_recipe import COLUMNS as RECIPE_COLUMNS
from tinyee.boards import load_board
from tinyee.data import FASHION_MNIST_DIR, load_dataset
from tinyee.manifest import Manifest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = "plain,recipe,recipe-long,bof-frozen,hbof-frozen,latent-frozen,latent-plain"


def held_out_subset(path: Path) -> Path:
    """The held-out half of the test split (images 5,000-9,999) as a data subset `tinyee bench` reads."""
    test = load_dataset(FASHION_MNIST_DIR, "test")
    held = slice(5000, None)
    np.savez_compressed(path, rep_images=test.images[:0], rep_labels=test.labels[:0].astype(np.uint8),
                        eval_images=test.images[held], eval_labels=test.labels[held].astype(np.uint8),
                        classes=json.dumps(test.classes))
    return path


def bench(row: dict, work: Path, data: Path, samples: int) -> dict:
    """The variant's export with its calibrated thresholds, run on the emulated board."""
    export, out = work / row["variant"] / "export", ROOT / "build" / "exit_methods" / row["variant"]
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(export, out / "export", ignore=shutil.ignore_patterns("*.onnx"))
    manifest = Manifest.load(export).with_thresholds(row["thresholds"])
    manifest.save(out / "export")
    subprocess.run([sys.executable, "-m", "tinyee", "bench", "--export", str(out / "export"), "--data", str(data),
                    "--samples", str(samples), "--force-samples", "10", "--out", str(out / "bench")], check=True)
    summary = json.loads((out / "bench" / "summary.json").read_text())
    unit, per_tick = load_board(summary["board"]).latency_unit
    assert unit == "emulated_instructions", unit
    return {"board": summary["board"], "samples": summary["samples"],
            "average_emulated_instructions": summary["average_ticks"] * per_tick,
            "average_vs_run_to_end": summary["average_vs_run_to_end"],
            "exit_fractions": summary["exit_fractions"], "device_accuracy": summary["device_accuracy"],
            "host_agreement": summary["host_agreement"],
            "param_bytes": manifest.param_bytes, "macs": manifest.macs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=DEFAULT)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "training_recipe")
    args = ap.parse_args()
    measured = {r["variant"]: r for r in json.loads((RESULTS / "training_recipe.json").read_text())["rows"]}
    (ROOT / "build" / "exit_methods").mkdir(parents=True, exist_ok=True)
    data = held_out_subset(ROOT / "build" / "exit_methods" / "held-out.npz")
    out_file = RESULTS / "exit_methods.json"
    rows = {r["variant"]: r for r in json.loads(out_file.read_text())["rows"]} if out_file.is_file() else {}
    for name in args.variants.split(","):
        row = dict(measured[name])
        row["bench"] = bench(row, args.work, data, args.samples)
        rows[name] = row
        print(json.dumps({"variant": name, **row["bench"]}), flush=True)
        ordered = [rows[v] for v in DEFAULT.split(",") if v in rows] + [r for v, r in rows.items()
                                                                       if v not in DEFAULT.split(",")]
        save("exit_methods", {"samples": args.samples, "rows": ordered}, markdown_table(COLUMNS, ordered))
        plot(ordered, RESULTS / "exit_methods.png", "Early-exit methods on Fashion-MNIST")


COLUMNS = {
    "method": lambda r: r["variant"],
    "int8 weights": lambda r: f"{r['bench']['param_bytes'] / 1024:.0f} KB",
    "MACs (all exits)": lambda r: f"{r['bench']['macs'] / 1e6:.2f} M",
    **{k: v for k, v in RECIPE_COLUMNS.items() if k not in ("variant", "epochs", "s/epoch", "float/int8 agreement")},
    "bench: emulated instructions per image (vs all segments)": lambda r: (
        f"{r['bench']['average_emulated_instructions'] / 1e6:.2f} M ({100 * r['bench']['average_vs_run_to_end']:.1f}%)"),
    "bench: exit shares, device = host": lambda r: (
        f"{percents(r['bench']['exit_fractions'], '%')}, {100 * r['bench']['host_agreement']:.0f}%"),
}


if __name__ == "__main__":
    main()
