"""Per-op profile of a cascade on a board: every segment runs (the last exit is forced) and the
firmware's per-kernel-call tick table is read back after each input."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

from tinyee.boards import Board
from tinyee.compile.analysis import slow_paths
from tinyee.compile.emit import CompiledSegment, op_slots
from tinyee.compile.footprint import call_macs
from tinyee.device.protocol import DeviceLink
from tinyee.manifest import Manifest


def profile_cascade(link: DeviceLink, board: Board, segments: list[CompiledSegment], inputs: list[np.ndarray]) -> dict:
    """Median ticks per segment and per kernel call over `inputs`, with MACs and the board's unit."""
    slots = op_slots(segments)
    calls = [c for s in segments for c in s.calls if c.kernel]
    seg_ticks, op_ticks = [], []
    for x in inputs:
        seg_ticks.append(link.infer(np.asarray(x, np.int8).tobytes(), force_exit=len(segments) - 1).ticks)
        op_ticks.append(link.op_ticks(len(slots)))
    unit, per_tick = board.latency_unit
    ops = [{"segment": s.segment, "op_index": s.op_index, "op": s.op_name, "kernel": s.kernel, "macs": call_macs(c),
            "ticks": statistics.median(t[i] for t in op_ticks)} for i, (s, c) in enumerate(zip(slots, calls))]
    for row in ops:
        row[unit] = row["ticks"] * per_tick
    segs = [{"segment": k, "macs": sum(r["macs"] for r in ops if r["segment"] == k),
             "ticks": statistics.median(t[k] for t in seg_ticks)} for k in range(len(segments))]
    for row in segs:
        row[unit] = row["ticks"] * per_tick
    return {"board": board.name, "unit": unit, "samples": len(inputs), "segments": segs, "ops": ops,
            "slow_paths": slow_paths(segments)}


def by_op_type(profile: dict) -> list[dict]:
    """The profile's kernel calls summed per segment and op type, most expensive first within a segment."""
    unit = profile["unit"]
    totals: dict = defaultdict(lambda: {"calls": 0, "macs": 0, "ticks": 0.0, unit: 0.0})
    for r in profile["ops"]:
        t = totals[(r["segment"], r["op"])]
        t["calls"] += 1
        t["macs"] += r["macs"]
        t["ticks"] += r["ticks"]
        t[unit] += r[unit]
    rows = [{"segment": k, "op": op, **t} for (k, op), t in totals.items()]
    return sorted(rows, key=lambda r: (r["segment"], -r["ticks"]))


def profile_on_board(board: Board, export_dir: Path, manifest: Manifest, inputs, build_dir: Path, kernels: str,
                     port: str | None = None):
    """Build the firmware with per-op tick counters, run it (QEMU, or flashed onto the board on `port`) and
    profile every kernel call; returns (image, profile)."""
    from tinyee.targets import open_target

    with open_target(board, port) as target:
        image = target.build(export_dir, manifest, build_dir, kernels, profile_ops=True)
        link = target.connect(image.elf, timeout=60.0)
        result = profile_cascade(link, board, image.segments, inputs)
        result.update(kernel_path=link.identify().get("path"), kernels=kernels)
    return image, result
