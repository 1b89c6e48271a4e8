"""Reference vs optimised kernels on every emulated board: emulated instructions per segment, per
exit and per op type, the ratio between the two kernel sets, the distance to the MAC bound, and the
memory of each build.

    .venv/bin/python benchmarks/kernels.py [--samples 3]

QEMU runs with -icount shift=0, so SysTick counts emulated instructions deterministically
(instructions = ticks x 1e9 / clock). They are instruction counts, not time: a real Cortex-M4
takes more than one cycle for loads, branches and multiplies. The MAC bound is MACs / (MACs per
instruction of the ISA's best multiply-accumulate): 2 for SMLAD (DSP extension), 16 for an MVE
VMLADAV on int8 (Helium), 1 otherwise.

Writes benchmarks/results/kernels.json and benchmarks/results/kernels.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from tinyee.bench import by_op_type, profile_on_board
from tinyee.boards import list_boards, load_board
from tinyee.compile import KERNEL_SETS
from tinyee.data import load_shipped
from tinyee.eval.evaluate import quantized_inputs
from tinyee.manifest import Manifest
from results_files import save

ROOT = Path(__file__).resolve().parents[1]


def measure(board, export_dir: Path, manifest: Manifest, kernels: str, inputs: list[np.ndarray]) -> dict:
    """Build with one kernel set and profile every segment and kernel call on the emulated board."""
    image, profile = profile_on_board(board, export_dir, manifest, inputs,
                                      ROOT / "build" / "kernels" / board.name / kernels, kernels)
    return {"image": image, "profile": profile}


def board_report(board, runs: dict) -> dict:
    per_mac = board.macs_per_instruction
    ref, opt = runs["reference"]["profile"], runs["optimized"]["profile"]
    unit = opt["unit"]
    segments = runs["optimized"]["image"].segments
    rows = []
    for k, seg in enumerate(segments):
        macs = opt["segments"][k]["macs"]
        r_ins, o_ins, bound = ref["segments"][k][unit], opt["segments"][k][unit], macs / per_mac
        rows.append({"segment": k, "macs": macs, "reference_instructions": round(r_ins),
                     "optimized_instructions": round(o_ins), "speedup": round(r_ins / o_ins, 2),
                     "mac_bound_instructions": round(bound), "reference_over_bound": round(r_ins / bound, 1),
                     "optimized_over_bound": round(o_ins / bound, 1), "peak_arena_bytes": seg.plan.size,
                     "live_bound_bytes": seg.plan.live_bound, "largest_op_bytes": seg.plan.largest_op,
                     "reference_peak_arena_bytes": runs["reference"]["image"].segments[k].plan.size})
    exits = []
    for k in range(len(segments)):
        r = sum(x["reference_instructions"] for x in rows[:k + 1])
        o = sum(x["optimized_instructions"] for x in rows[:k + 1])
        macs = sum(x["macs"] for x in rows[:k + 1])
        exits.append({"exit": k, "macs": macs, "reference_instructions": r, "optimized_instructions": o,
                      "speedup": round(r / o, 2), "optimized_over_bound": round(o / (macs / per_mac), 1)})
    # Per op type; the optimised set folds SiLU's LOGISTIC into its MUL, so LOGISTIC appears only in reference.
    ops = {(r["segment"], r["op"]): {"segment": r["segment"], "op": r["op"], "macs": r["macs"],
                                     "reference_instructions": 0, "optimized_instructions": 0}
           for r in by_op_type(ref) + by_op_type(opt)}
    for name, prof in (("reference", ref), ("optimized", opt)):
        for r in by_op_type(prof):
            ops[(r["segment"], r["op"])][f"{name}_instructions"] = round(r[unit])
    return {"board": board.name, "cpu": board.spec["cpu"], "kernel_path": opt["kernel_path"],
            "macs_per_instruction_bound": per_mac,
            "flash_bytes": {n: runs[n]["image"].flash_bytes for n in KERNEL_SETS},
            "ram_bytes": {n: runs[n]["image"].ram_bytes for n in KERNEL_SETS},
            "cascade_arena_bytes": {n: runs[n]["image"].arena_bytes for n in KERNEL_SETS},
            "segments": rows, "exits": exits, "ops": sorted(ops.values(), key=lambda r: (r["segment"], r["op"]))}


def markdown(result: dict) -> str:
    lines = [f"# Kernel benchmark (model {result['model_id']}, {result['samples']} samples)", "",
             "Emulated instructions (QEMU -icount shift=0), not time. Bound = MACs / MACs per instruction "
             "of the ISA's best multiply-accumulate.", ""]
    for b in result["boards"]:
        lines += [f"## {b['board']} ({b['cpu']}, optimised path: {b['kernel_path']}, bound: {b['macs_per_instruction_bound']} MAC/instr)", "",
                  f"Flash {b['flash_bytes']['reference']:,} -> {b['flash_bytes']['optimized']:,} B; "
                  f"cascade arena {b['cascade_arena_bytes']['reference']:,} -> {b['cascade_arena_bytes']['optimized']:,} B "
                  "(reference -> optimised build).", "",
                  "| segment | MACs | reference instr | optimised instr | speedup | optimised / MAC bound | peak arena B | bytes alive at busiest step | largest op B |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in b["segments"]:
            lines.append(f"| {r['segment']} | {r['macs']:,} | {r['reference_instructions']:,} | {r['optimized_instructions']:,} | "
                         f"{r['speedup']:.2f}x | {r['optimized_over_bound']:.1f}x | {r['peak_arena_bytes']:,} | "
                         f"{r['live_bound_bytes']:,} | {r['largest_op_bytes']:,} |")
        lines += ["", "| exit | MACs | reference instr | optimised instr | speedup | optimised / MAC bound |", "|---|---|---|---|---|---|"]
        for r in b["exits"]:
            lines.append(f"| {r['exit']} | {r['macs']:,} | {r['reference_instructions']:,} | {r['optimized_instructions']:,} | "
                         f"{r['speedup']:.2f}x | {r['optimized_over_bound']:.1f}x |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", type=Path, default=ROOT / "build" / "demo" / "export")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--boards", default=",".join(n for n in list_boards() if load_board(n).emulated))
    args = ap.parse_args()
    if not (args.export / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "tinyee", "export", "--out", str(args.export)], check=True)
    manifest = Manifest.load(args.export)
    inputs = quantized_inputs(manifest, load_shipped("eval"))[:args.samples]
    reports = []
    for name in args.boards.split(","):
        board = load_board(name)
        runs = {k: measure(board, args.export, manifest, k, inputs) for k in KERNEL_SETS}
        reports.append(board_report(board, runs))
        print(f"{name}: " + ", ".join(f"segment {r['segment']} {r['speedup']:.2f}x" for r in reports[-1]["segments"]),
              flush=True)
    result = {"model_id": manifest.model_id, "samples": args.samples,
              "units": "emulated instructions (QEMU -icount shift=0): instruction counts, not time",
              "boards": reports}
    save("kernels", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
