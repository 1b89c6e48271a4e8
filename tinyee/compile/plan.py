"""Static arena planning: every activation tensor gets a fixed offset in one shared arena.

Tensors whose lifetimes overlap never share bytes; RESHAPE outputs alias their input. Placement
is greedy (largest buffer first, lowest free offset), like TFLite Micro's greedy planner.
A segment's input can be pinned where the previous segment left its feature map, so the
cascade hands the int8 feature map over in place.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyee.compile.lower import Call
from tinyee.tflite import TfliteModel

ALIGN = 16  # keeps every buffer aligned for word and vector loads


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Plan:
    offsets: dict[int, int]  # tensor index -> arena offset
    size: int                # bytes this segment needs (its peak)
    buffers: list[tuple[int, int, int, int]]  # (offset, bytes, first step, last step), for reports


def plan_arena(model: TfliteModel, calls: list[Call], pinned: dict[int, int] | None = None) -> Plan:
    pinned = dict(pinned or {})
    root = {}  # alias: tensor -> buffer owner

    def owner(t):
        while t in root:
            t = root[t]
        return t

    for c in calls:
        if c.alias:
            root[c.alias[0]] = owner(c.alias[1])
    life: dict[int, list[int]] = {}

    def use(t, step):
        if t < 0 or model.tensors[t].is_const:
            return
        o = owner(t)
        lo, hi = life.get(o, (step, step))
        life[o] = [min(lo, step), max(hi, step)]

    for t in model.inputs:
        use(t.index, -1)
    for step, c in enumerate(calls):
        for t in c.op.inputs + c.op.outputs:
            use(t, step)
    for t in model.outputs:
        use(t.index, len(calls))

    def nbytes(o):
        members = [t for t in range(len(model.tensors)) if owner(t) == o]
        return max(model.tensors[t].nbytes for t in members)

    placed: list[tuple[int, int, int, int]] = []
    pinned_owner = {owner(t): off for t, off in pinned.items()}
    for o, off in pinned_owner.items():
        placed.append((off, _align(nbytes(o)), *life[o]))
    order = sorted((o for o in life if o not in pinned_owner), key=lambda o: (-nbytes(o), life[o][0]))
    offsets = dict(pinned_owner)
    for o in order:
        size, (lo, hi) = _align(nbytes(o)), life[o]
        busy = sorted((off, off + sz) for off, sz, a, b in placed if not (b < lo or a > hi))
        candidate = 0
        for start, end in busy:
            if candidate + size <= start:
                break
            candidate = max(candidate, end)
        offsets[o] = candidate
        placed.append((candidate, size, lo, hi))
    all_offsets = {t: offsets[owner(t)] for t in range(len(model.tensors)) if owner(t) in offsets}
    return Plan(all_offsets, max((off + sz for off, sz, _, _ in placed), default=0), sorted(placed))
