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
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from tinyee.boards import list_boards, load_board
from tinyee.compile import compile_export
from tinyee.compile.emit import op_slots
from tinyee.compile.firmware import build_firmware
from tinyee.compile.report import call_macs
from tinyee.data import load_shipped
from tinyee.device.protocol import DeviceLink
from tinyee.device.qemu import QemuBoard
from tinyee.eval.host import quantized_inputs
from tinyee.export import load_manifest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KERNEL_SETS = ("reference", "optimized")


def macs_per_instruction(board) -> int:
    features = board.spec.get("features", [])
    return 16 if "mve" in features else 2 if "dsp" in features else 1


def measure(board, export_dir: Path, manifest: dict, kernels: str, inputs: list[np.ndarray]) -> dict:
    """Build, run every sample through all segments, and return median ticks per segment and per kernel call."""
    image = build_firmware(export_dir, manifest, board, ROOT / "build" / "kernels" / board.name / kernels,
                           kernels=kernels)
    segments = compile_export(export_dir, manifest, ROOT / "build" / "kernels" / board.name / kernels / "src", kernels)
    slots = op_slots(segments)
    last = len(segments) - 1
    seg_ticks, op_ticks = [], []
    with QemuBoard(board, image.elf) as qemu:
        link = DeviceLink(qemu.port, timeout=60)
        link.wait_ready()
        info = link.identify()
        for x in inputs:
            seg_ticks.append(link.infer(x.astype(np.int8).tobytes(), force_exit=last).ticks)
            op_ticks.append(link.op_ticks(len(slots)))
        link.quit()
    calls = [c for s in segments for c in s.calls if c.kernel]
    return {"image": image, "segments": segments, "path": info.get("path", "?"),
            "segment_ticks": [statistics.median(t[k] for t in seg_ticks) for k in range(len(segments))],
            "op_ticks": [statistics.median(t[i] for t in op_ticks) for i in range(len(slots))],
            "slots": slots, "calls": calls}


def board_report(board, runs: dict) -> dict:
    instr_per_tick = 1e9 / board.spec["clock_hz"]
    per_mac = macs_per_instruction(board)
    ref, opt = runs["reference"], runs["optimized"]
    segs = opt["segments"]
    seg_macs = [sum(call_macs(c) for c in s.calls if c.kernel) for s in segs]
    rows = []
    for k, s in enumerate(segs):
        r_ins, o_ins = ref["segment_ticks"][k] * instr_per_tick, opt["segment_ticks"][k] * instr_per_tick
        bound = seg_macs[k] / per_mac
        rows.append({"segment": k, "macs": seg_macs[k],
                     "reference_instructions": round(r_ins), "optimized_instructions": round(o_ins),
                     "speedup": round(r_ins / o_ins, 2), "mac_bound_instructions": round(bound),
                     "reference_over_bound": round(r_ins / bound, 1), "optimized_over_bound": round(o_ins / bound, 1),
                     "peak_arena_bytes": s.plan.size, "live_bound_bytes": s.plan.live_bound,
                     "largest_op_bytes": s.plan.largest_op,
                     "reference_peak_arena_bytes": ref["segments"][k].plan.size})
    exits = []
    for k in range(len(segs)):
        r = sum(x["reference_instructions"] for x in rows[:k + 1])
        o = sum(x["optimized_instructions"] for x in rows[:k + 1])
        m = sum(seg_macs[:k + 1])
        exits.append({"exit": k, "macs": m, "reference_instructions": r, "optimized_instructions": o,
                      "speedup": round(r / o, 2), "optimized_over_bound": round(o / (m / per_mac), 1)})
    ops: dict = defaultdict(lambda: {"calls": 0, "macs": 0, "reference_instructions": 0.0, "optimized_instructions": 0.0})
    for name, run in (("reference", ref), ("optimized", opt)):
        for slot, ticks in zip(run["slots"], run["op_ticks"]):
            ops[(slot.segment, slot.op_name)][f"{name}_instructions"] += ticks * instr_per_tick
    for c, slot in zip(opt["calls"], opt["slots"]):  # reference and optimised make the same op's calls, but
        ops[(slot.segment, slot.op_name)]["macs"] += call_macs(c)  # SiLU's LOGISTIC folds into its MUL
        ops[(slot.segment, slot.op_name)]["calls"] += 1
    op_rows = [{"segment": k, "op": name, **{f: round(v) if isinstance(v, float) else v for f, v in d.items()}}
               for (k, name), d in sorted(ops.items())]
    return {"board": board.name, "cpu": board.spec["cpu"], "kernel_path": opt["path"],
            "macs_per_instruction_bound": per_mac, "instructions_per_tick": instr_per_tick,
            "flash_bytes": {n: runs[n]["image"].flash_bytes for n in KERNEL_SETS},
            "ram_bytes": {n: runs[n]["image"].ram_bytes for n in KERNEL_SETS},
            "cascade_arena_bytes": {n: runs[n]["image"].arena_bytes for n in KERNEL_SETS},
            "segments": rows, "exits": exits, "ops": op_rows}


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
    manifest = load_manifest(args.export)
    inputs = quantized_inputs(manifest, load_shipped("eval"))[:args.samples]
    reports = []
    for name in args.boards.split(","):
        board = load_board(name)
        runs = {k: measure(board, args.export, manifest, k, inputs) for k in KERNEL_SETS}
        reports.append(board_report(board, runs))
        print(f"{name}: " + ", ".join(f"segment {r['segment']} {r['speedup']:.2f}x" for r in reports[-1]["segments"]),
              flush=True)
    result = {"model_id": manifest["model_id"], "samples": args.samples,
              "units": "emulated instructions (QEMU -icount shift=0): instruction counts, not time",
              "boards": reports}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "kernels.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "kernels.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
