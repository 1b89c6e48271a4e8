"""tinyee's optimised kernels against TFLite Micro + CMSIS-NN, per model x emulated core x op type.

    .venv/bin/python benchmarks/vs_cmsis.py [--samples 3]

Models: the shipped MobileViT cascade and MLPerf Tiny's IC ResNet-8 and KWS DS-CNN (imported from
../shared/models/mlperf-tiny). Cores: mps2-an386 (Cortex-M4, DSP path) and mps3-an547 (Cortex-M55,
Helium path). tinyee's figures are measured here: per-kernel-call ticks read back from the firmware
(QEMU -icount shift=0, so emulated instructions, not time), medians over random int8 inputs. The
TFLM + CMSIS-NN column is read from ../shared/reference/peer-tflm-cmsis.md, measured the same way.
Per op type, MACs and the MAC bound (MACs / MACs per instruction of the core's best int8
multiply-accumulate: 2 for SMLAD, 16 for an MVE VMLADAV) are given beside the instructions.

Writes benchmarks/results/vs_cmsis.json and benchmarks/results/vs_cmsis.md.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from tinyee.bench import by_op_type, profile_on_board
from tinyee.boards import load_board
from tinyee.commands.demo import SHIPPED_CHECKPOINT
from tinyee.data import load_shipped
from tinyee.export import export_checkpoint
from tinyee.export.importer import import_tflite
from tinyee.manifest import Manifest
from results_files import save

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PEER = SHARED / "reference" / "peer-tflm-cmsis.md"
WORK = ROOT / "build" / "vs_cmsis"
BOARDS = {"M4": "mps2-an386", "M55": "mps3-an547"}
MODELS = {"MobileViT cascade": None, "IC ResNet-8": "ic_resnet8_int8.tflite", "KWS DS-CNN": "kws_dscnn_int8.tflite"}
HEAVY = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "ADD", "MUL", "TRANSPOSE")
FUSED = ("LAYER_NORM",)  # tinyee's fused chains (tinyee/compile/fuse.py): TFLM has no such op type
GOAL_WHOLE = {"MobileViT cascade": 0.28, "IC ResNet-8": 0.75, "KWS DS-CNN": 0.75}  # x TFLM + CMSIS-NN


def export_for(model: str) -> Path:
    out = WORK / model.split()[0].lower() / "export"
    if not (out / "manifest.json").is_file():
        if MODELS[model] is None:
            export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), out)
        else:
            import_tflite([SHARED / "models" / "mlperf-tiny" / MODELS[model]], out)
    return out


# --- the reference file ----------------------------------------------------------------------
def _rows(text: str, heading: str) -> list[list[str]]:
    """The cells of the first markdown table after the line starting with `heading`."""
    lines = text[text.index(heading):].splitlines()[1:]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _millions(cell: str) -> float | None:
    return float(cell) * 1e6 if re.fullmatch(r"[\d.]+", cell) else None


def read_peer(path: Path = PEER) -> dict:
    """TFLM + CMSIS-NN instructions: whole models, per op type, and arena bytes, as the reference file states them."""
    text = path.read_text()
    whole, model = {}, None
    for row in _rows(text, "## Whole models"):
        model = next((m for m in MODELS if row[0].startswith(("shipped MobileViT" if m.startswith("Mobile") else
                                                               "MLPerf Tiny " + m.split()[0]))), model)
        core = "M55" if "M55" in row[2] else "M4"
        whole[(model, core)] = _millions(row[4])
    ops = defaultdict(dict)
    for row in _rows(text, "Shipped MobileViT cascade:"):
        for op, m4, m55 in zip(row[0].split(" / "), row[2].split(" / "), row[4].split(" / ")):
            ops["MobileViT cascade"][op] = {"M4": _millions(m4), "M55": _millions(m55)}
    for row in _rows(text, "MLPerf Tiny models:"):
        ops[next(m for m in MODELS if row[0].startswith(m.split()[0]))][row[1]] = {"M4": _millions(row[2]),
                                                                                 "M55": _millions(row[4])}
    arena = {}
    for row in _rows(text, "## Memory"):
        key = next(m for m in MODELS if m.split()[0] in row[0])
        arena[key] = max(int(v.replace(",", "")) for v in re.findall(r"[\d,]{4,}", row[1]))
    return {"whole": whole, "ops": dict(ops), "arena": arena}


# --- measuring tinyee ------------------------------------------------------------------------
def measure(model: str, core: str, samples: int, peer: dict) -> dict:
    export = export_for(model)
    manifest = Manifest.load(export)
    board = load_board(BOARDS[core])
    inputs = np.random.default_rng(0).integers(-128, 128, (samples, *manifest.input.shape[1:]), dtype=np.int8)
    image, profile = profile_on_board(board, export, manifest, list(inputs), WORK / f"{export.parent.name}-{core}",
                                      "optimized")
    unit, per_mac = profile["unit"], board.macs_per_instruction
    totals = defaultdict(lambda: {"instructions": 0.0, "macs": 0, "calls": 0})
    for r in by_op_type(profile):
        t = totals[r["op"]]
        t["instructions"] += r[unit]
        t["macs"] += r["macs"]
        t["calls"] += r["calls"]
    ops = []
    for op, t in sorted(totals.items(), key=lambda kv: -kv[1]["instructions"]):
        cmsis = peer["ops"].get(model, {}).get(op, {}).get(core)
        ops.append({"op": op, "calls": t["calls"], "macs": t["macs"], "instructions": round(t["instructions"]),
                    "over_mac_bound": round(t["instructions"] / (t["macs"] / per_mac), 2) if t["macs"] else None,
                    "cmsis_nn_instructions": cmsis,
                    "vs_cmsis_nn": round(t["instructions"] / cmsis, 2) if cmsis else None})
    total = sum(s[unit] for s in profile["segments"])
    macs = sum(s["macs"] for s in profile["segments"])
    cmsis_total = peer["whole"].get((model, core))
    segments = [{"segment": s["segment"], "macs": s["macs"], "instructions": round(s[unit]),
                 "over_mac_bound": round(s[unit] / (s["macs"] / per_mac), 2) if s["macs"] else None}
                for s in profile["segments"]]
    return {"model": model, "core": core, "board": board.name, "kernel_path": profile["kernel_path"],
            "macs": macs, "instructions": round(total), "over_mac_bound": round(total / (macs / per_mac), 2),
            "cmsis_nn_instructions": cmsis_total, "vs_cmsis_nn": round(total / cmsis_total, 3) if cmsis_total else None,
            "goal_vs_cmsis_nn": GOAL_WHOLE[model], "arena_bytes": image.arena_bytes,
            "tflm_arena_bytes": peer["arena"].get(model), "flash_bytes": image.flash_bytes,
            "segments": segments, "ops": ops}


def markdown(rows: list[dict]) -> str:
    def m(v):
        return "-" if v is None else f"{v / 1e6:.3f}" if v < 1e5 else f"{v / 1e6:.2f}"

    lines = ["# tinyee vs TFLite Micro + CMSIS-NN", "",
             "Emulated instructions in millions (QEMU -icount shift=0), not time. CMSIS-NN figures: "
             "../shared/reference/peer-tflm-cmsis.md.", "",
             "| model | core | MACs | tinyee | TFLM + CMSIS-NN | ratio | goal | over MAC bound | arena B | TFLM arena B | "
             "arena ratio (goal <= 0.5) | flash B |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['core']} | {r['macs'] / 1e6:.2f} M | {m(r['instructions'])} | "
                     f"{m(r['cmsis_nn_instructions'])} | {r['vs_cmsis_nn'] or '-'} | <= {r['goal_vs_cmsis_nn']} | "
                     f"{r['over_mac_bound']}x | {r['arena_bytes']:,} | {r['tflm_arena_bytes'] or 0:,} | "
                     f"{r['arena_bytes'] / r['tflm_arena_bytes']:.2f} | {r['flash_bytes']:,} |")
    lines += ["", "Heavy ops, summed over each model (the issue's goal: ratio <= 1 on both cores):", "",
              "| model | op | tinyee M4 | CMSIS-NN M4 | ratio M4 | tinyee M55 | CMSIS-NN M55 | ratio M55 | "
              "over MAC bound M4 / M55 |", "|---|---|---|---|---|---|---|---|---|"]
    for model in MODELS:
        by_core = {r["core"]: {o["op"]: o for o in r["ops"]} for r in rows if r["model"] == model}
        if len(by_core) < 2:
            continue
        for op in HEAVY + FUSED:
            a, b = by_core["M4"].get(op), by_core["M55"].get(op)
            if a is None and b is None:
                continue
            cells = []
            for o in (a, b):
                cells += [m(o and o["instructions"]), m(o and o["cmsis_nn_instructions"]),
                          str(o["vs_cmsis_nn"]) if o and o["vs_cmsis_nn"] else "-"]
            bound = " / ".join(f"{o['over_mac_bound']}x" if o and o["over_mac_bound"] else "-" for o in (a, b))
            lines.append(f"| {model} | {op} | " + " | ".join(cells) + f" | {bound} |")
    lines += ["", "LAYER_NORM is LayerNorm's ten int8 ops (MEAN, SQUARED_DIFFERENCE, MEAN, ADD, RSQRT, three MULs, SUB, "
              "ADD) fused into one tinyee kernel. TFLM runs them one by one, so part of its ADD and MUL figures (and its "
              "MEAN, SQUARED_DIFFERENCE, SUB, RSQRT) are LayerNorm's, which tinyee's ADD and MUL rows do not hold: "
              "for MobileViT those two rows are not like for like; the whole-model ratio is."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=3)
    args = ap.parse_args()
    peer = read_peer()
    rows = []
    for model in MODELS:
        for core in BOARDS:
            rows.append(measure(model, core, args.samples, peer))
            print(f"{model} on {core}: {rows[-1]['instructions'] / 1e6:.2f} M instructions, "
                  f"{rows[-1]['vs_cmsis_nn']}x TFLM + CMSIS-NN", flush=True)
    save("vs_cmsis", rows, markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
