"""Per-token mixture-of-experts MobileViT on full Fashion-MNIST: what routing saves, measured on the
host int8 library and on the emulated board (issue 14, item 2).

    .venv/bin/python benchmarks/experts.py [--experts 4] [--epochs 3] [--samples 200]

``dense`` is the shipped checkpoint (models/mcu-fashion-mnist). ``moe<E>`` splits each of its
transformer MLPs into E experts of 1/E of the hidden units (ExpertMLP.split) and fine-tunes the whole
model for --epochs (lr 1e-3, load-balancing loss); both are exported to int8 the same way. Per variant:
float and int8 accuracy per exit on the 10,000 test images; parameters and int8 weight bytes; MACs per
segment of the dense int8 graph and as executed by tinyee's routed experts (counted by the generated
C on the host, bit-exact with the board, over the first 1,000 test images); thresholds at <= 1 point
below the final exit on the first 5,000 test images, reported on the other 5,000 with executed MACs
as the cost; then a bench run in QEMU (default board, first --samples held-out images) of the routed
firmware and of the same export compiled densely: emulated instructions per image and per exit,
device = host. Writes benchmarks/results/experts.{json,md}; runs live in build/experts.
"""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from exit_heads import report
from exit_methods import held_out_subset
from results_files import markdown_table, percents, save
from tinyee.boards import load_board
from tinyee.cli import DEFAULT_BOARD
from tinyee.compile import compile_export
from tinyee.compile.firmware import build_firmware
from tinyee.compile.footprint import call_macs
from tinyee.compile.native import HostRunner, build_shared_library
from tinyee.compile.route import KERNEL
from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_shipped
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.export import export_checkpoint
from tinyee.manifest import Manifest
from tinyee.model import load_checkpoint
from tinyee.train import TrainConfig, evaluate_float, train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "mcu-fashion-mnist" / "checkpoint.pt"
MAC_SAMPLES = 1000


def trained(name: str, experts: int, epochs: int, work: Path, train_set, test_set) -> Path:
    run = work / name
    if not experts:
        run.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHIPPED, run / "last.pt")
    elif not (run / "last.pt").is_file() or load_checkpoint(run / "last.pt")[1]["epoch"] < epochs:
        init = load_checkpoint(SHIPPED)[0].with_experts(experts)
        tc = TrainConfig(device="cpu", resume=True, epochs=epochs, lr=1e-3)
        train(init.cfg, train_set, test_set, run, tc, init_model=init)
    return run / "last.pt"


def executed_macs(export: Path, manifest: Manifest, inputs, work: Path) -> tuple[list[float], list[int]]:
    """(average MACs each segment executes with routed experts, the dense graph's MACs per segment)."""
    segments = compile_export(export, manifest, work / "src")
    host = HostRunner(build_shared_library(work / "src", work / "model.so"), segments)
    routed_dense = [sum(call_macs(c) for c in s.calls if c.kernel == KERNEL) for s in segments]
    ran = np.zeros(len(segments))
    for x in inputs:
        host.write(segments[0], segments[0].model.inputs[0].index, x)
        for k, seg in enumerate(segments):
            before = host.routed_macs
            host.run(k)
            ran[k] += host.routed_macs - before
    dense = [s.macs for s in manifest.segments]
    return [d - r + m / len(inputs) for d, r, m in zip(dense, routed_dense, ran)], dense


def bench(export: Path, manifest: Manifest, thresholds, data: Path, samples: int, out: Path, route: bool) -> dict:
    """One bench run of the export at these thresholds, routed or compiled densely, on the default board."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(export, out / "export", ignore=shutil.ignore_patterns("*.onnx"))
    manifest.with_thresholds(thresholds).save(out / "export")
    cmd = [sys.executable, "-m", "tinyee", "bench", "--export", str(out / "export"), "--data", str(data),
           "--samples", str(samples), "--force-samples", "10", "--out", str(out / "bench")]
    if not route:
        image = build_firmware(out / "export", Manifest.load(out / "export"), load_board(DEFAULT_BOARD),
                               out / "firmware", route=False)
        cmd += ["--elf", str(image.elf)]
    subprocess.run(cmd, check=True)
    summary = json.loads((out / "bench" / "summary.json").read_text())
    unit, per_tick = load_board(summary["board"]).latency_unit
    assert unit == "emulated_instructions", unit
    return {"board": summary["board"], "samples": summary["samples"],
            "average_emulated_instructions": summary["average_ticks"] * per_tick,
            "run_to_end_emulated_instructions": summary["run_to_end_ticks"] * per_tick,
            "exit_fractions": summary["exit_fractions"], "device_accuracy": summary["device_accuracy"],
            "host_agreement": summary["host_agreement"]}


def measure(name: str, checkpoint: Path, test_set, data: Path, samples: int) -> dict:
    run = checkpoint.parent
    model, meta = load_checkpoint(checkpoint)
    manifest = export_checkpoint(checkpoint, load_shipped("rep"), run / "export")
    inputs = quantized_inputs(manifest, test_set)
    probs = int8_exit_probs(run / "export", manifest, inputs, "tflm")
    executed, dense = executed_macs(run / "export", manifest, inputs[:MAC_SAMPLES], run / "host")
    row = report(name, model, manifest, probs, test_set, executed)
    float_probs = evaluate_float(model, test_set)
    row.update({
        "epochs": meta.get("epoch"), "parameters": sum(p.numel() for p in model.parameters()),
        "param_bytes": manifest.param_bytes, "dense_graph_segment_macs": dense, "executed_segment_macs": executed,
        "float_accuracy_per_exit": [float((p.argmax(-1) == test_set.labels).mean()) for p in float_probs],
    })
    row["bench"] = {kind: bench(run / "export", manifest, row["thresholds"], data, samples, run / f"bench-{kind}",
                                route=kind == "routed") for kind in ("routed", "dense")}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "experts")
    args = ap.parse_args()
    train_set, test_set = load_dataset(FASHION_MNIST_DIR, "train"), load_dataset(FASHION_MNIST_DIR, "test")
    args.work.mkdir(parents=True, exist_ok=True)
    data = held_out_subset(args.work / "held-out.npz")
    rows = []
    for name, experts in (("dense", 0), (f"moe{args.experts}", args.experts)):
        checkpoint = trained(name, experts, args.epochs, args.work, train_set, test_set)
        rows.append(measure(name, checkpoint, test_set, data, args.samples))
        save("experts", {"samples": args.samples, "mac_samples": MAC_SAMPLES, "rows": rows},
             markdown_table(COLUMNS, rows))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "curve"}), flush=True)


def _millions(values) -> str:
    return " / ".join(f"{v / 1e6:.2f}" for v in values)


COLUMNS = {
    "model": lambda r: r["variant"],
    "parameters (int8 weights)": lambda r: f"{r['parameters'] / 1e3:.0f} k ({r['param_bytes'] / 1024:.0f} KB)",
    "float accuracy per exit": lambda r: percents(r["float_accuracy_per_exit"], "%"),
    "int8 accuracy per exit": lambda r: percents(r["int8_accuracy_per_exit"], "%"),
    "MACs per segment (all segments): dense graph -> executed": lambda r: (
        f"{_millions(r['dense_graph_segment_macs'])} ({sum(r['dense_graph_segment_macs']) / 1e6:.2f}) M -> "
        f"{_millions(r['executed_segment_macs'])} ({sum(r['executed_segment_macs']) / 1e6:.2f}) M"),
    "held-out at <= 1 pt drop: accuracy, executed MACs, exit shares": lambda r: (
        f"{100 * r['held_out_accuracy']:.2f}%, {100 * r['held_out_relative_macs']:.1f}%, "
        f"{percents(r['held_out_exit_fractions'], '%')}"),
    "bench, all segments: emulated instructions routed / compiled densely": lambda r: (
        f"{r['bench']['routed']['run_to_end_emulated_instructions'] / 1e6:.2f} M / "
        f"{r['bench']['dense']['run_to_end_emulated_instructions'] / 1e6:.2f} M"),
    "bench at the thresholds: per image routed / compiled densely, device = host": lambda r: (
        f"{r['bench']['routed']['average_emulated_instructions'] / 1e6:.2f} M / "
        f"{r['bench']['dense']['average_emulated_instructions'] / 1e6:.2f} M, "
        f"{100 * min(b['host_agreement'] for b in r['bench'].values()):.0f}%"),
}


if __name__ == "__main__":
    main()
