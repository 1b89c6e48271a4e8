"""Static arena planning: every activation tensor and kernel scratch buffer gets a fixed offset in
one shared arena.

Buffers whose lifetimes overlap never share bytes. RESHAPE outputs alias their input, and an
element-wise op writes over an input that dies at that op (same size, read before written).
Placement is greedy (lowest free offset) in a few orders (largest first, as TFLite Micro's greedy
planner, then by first use and by lifetime), then, while the peak is above the bytes alive at the
busiest step (no placement can beat that), in seeded random orders; the smallest peak wins. A segment's
input can be pinned where the previous segment left its feature map, so the cascade hands the
int8 feature map over in place. Calls run as a stream (stream.py) are alive together for the whole
stream, its tensors held in windows of rows take only their window's bytes, and its members share one scratch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tinyee.compile.call import Call
from tinyee.tflite import TfliteModel

ALIGN = 16  # keeps every buffer aligned for word and vector loads
RANDOM_ORDERS = 500  # extra placement orders tried while the peak exceeds the live-bytes bound


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(frozen=True)
class Window:
    """A tensor as a stream holds it: `capacity` of its `rows` (all of them: the whole tensor)."""
    tensor: int
    rows: int
    capacity: int
    row_bytes: int


@dataclass
class Plan:
    offsets: dict[int, int]  # tensor index -> arena offset
    scratch: dict[int, int]  # op index -> arena offset of its scratch buffer
    size: int                # bytes this segment needs (its peak)
    buffers: list[tuple[int, int, int, int]]  # (offset, bytes, first step, last step), for reports
    largest_op: int          # max over ops of its activation inputs + outputs + scratch
    live_bound: int          # max over steps of the bytes alive then: no placement needs less


def plan_arena(model: TfliteModel, calls: list[Call], pinned: dict[int, int] | None = None, streams=()) -> Plan:
    """streams: stream.Stream objects (anything with steps, windows and scratch) over these calls."""
    pinned = dict(pinned or {})
    span = {step: (s.steps[0], s.steps[-1]) for s in streams for step in s.steps}
    root: dict = {}  # tensor -> tensor whose buffer it shares

    def owner(t):
        while t in root:
            t = root[t]
        return t

    for c in calls:
        if c.alias:
            root[c.alias[0]] = owner(c.alias[1])

    def activation(t):
        return t >= 0 and not model.tensors[t].is_const

    life: dict = {}
    size: dict = {}

    def use(t, step):
        if not activation(t):
            return
        o = owner(t)
        lo, hi = life.get(o, (step, step))
        life[o] = (min(lo, step), max(hi, step))
        size[o] = max(size.get(o, 0), model.tensors[t].nbytes)

    for t in model.inputs:
        use(t.index, -1)
    for step, c in enumerate(calls):
        for t in c.tensors():
            for at in span.get(step, (step,)):
                use(t, at)
    for t in model.outputs:
        use(t.index, len(calls))
    for s in streams:
        for w in s.windows:
            if w.capacity < w.rows:
                size[owner(w.tensor)] = w.capacity * w.row_bytes
    pinned_owner = {owner(t): off for t, off in pinned.items()}
    for step, c in enumerate(calls):
        if step in span:
            continue
        out = owner(c.op.outputs[0]) if c.op.outputs else None
        for t in c.in_place:
            o = owner(t)
            if o not in life or out not in life:  # constants live in flash
                continue
            if (o != out and life[o][1] == step and size[o] == size[out] and out not in pinned_owner
                    and life[out][0] == step):
                life[o] = (life[o][0], life[out][1])
                root[out] = o
                del life[out], size[out]
                break
    for step, c in enumerate(calls):
        if c.scratch and step not in span:
            key = ("scratch", c.op.index)
            life[key], size[key] = (step, step), c.scratch
    for s in streams:
        if s.scratch:
            key = ("scratch", calls[s.steps[0]].op.index)
            life[key], size[key] = span[s.steps[0]], s.scratch

    def op_bytes(c):
        ts = {owner(t) for t in c.tensors() if activation(t)}
        return sum(align(size[o]) for o in ts) + align(c.scratch)

    largest_op = max((op_bytes(c) for c in calls if c.kernel), default=0)
    fixed = [(off, align(size[o]), *life[o]) for o, off in pinned_owner.items()]
    free = [o for o in life if o not in pinned_owner]
    orders = [sorted(free, key=lambda o: (-size[o], life[o][0])),
              sorted(free, key=lambda o: (life[o][0], -size[o])),
              sorted(free, key=lambda o: (-(life[o][1] - life[o][0]), -size[o]))]
    steps = {b for lo, hi in life.values() for b in (lo, hi)}
    live_bound = max((sum(align(size[o]) for o, (lo, hi) in life.items() if lo <= st <= hi) for st in steps), default=0)
    best = min((_place(order, size, life, fixed) for order in orders), key=lambda r: r[1])
    rng = random.Random(0)
    for _ in range(RANDOM_ORDERS):
        if best[1] <= live_bound:
            break
        rng.shuffle(free)
        best = min(best, _place(free, size, life, fixed), key=lambda r: r[1])
    offsets, peak, placed = best
    offsets.update(pinned_owner)
    tensors = {t: offsets[owner(t)] for t in range(len(model.tensors)) if owner(t) in offsets}
    scratch = {k[1]: off for k, off in offsets.items() if isinstance(k, tuple)}
    return Plan(tensors, scratch, peak, sorted(placed), largest_op, live_bound)


def _place(order, size, life, fixed):
    placed = list(fixed)
    offsets = {}
    for o in order:
        nbytes, (lo, hi) = align(size[o]), life[o]
        busy = sorted((off, off + sz) for off, sz, a, b in placed if not (b < lo or a > hi))
        candidate = 0
        for start, end in busy:
            if candidate + nbytes <= start:
                break
            candidate = max(candidate, end)
        offsets[o] = candidate
        placed.append((candidate, nbytes, lo, hi))
    return offsets, max((off + sz for off, sz, _, _ in placed), default=0), placed
