"""Row streaming: runs of row-local kernel calls executed one output row at a time (firmware/kernels/stream.c).

A stream is a run of consecutive convolutions, depthwise convolutions and element-wise calls over NHWC
tensors. Inside it, each tensor that no later call reads lives in a window of the rows its readers still
need, not whole; the stream's inputs and outputs stay whole. Rows are made on demand, so no row is computed
twice (patch-based inference as in MCUNetV2, with line buffers instead of overlapping patches). The order
of the rows and each window's size are fixed here, at build time; the C runtime only follows the order.

``choose_streams`` picks streams where they lower a segment's peak arena, one at a time around the step
where it peaks, and returns them with the segment's plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyee.compile.call import Call, readers
from tinyee.compile.plan import Plan, Window, align, plan_arena
from tinyee.tflite import TfliteModel

# Each streamable optimised kernel -> the C function that makes one output row of it.
ROW_MAKERS = {"tee_conv2d_gemm_s8": "tee_conv2d_gemm_row_s8",
              "tee_depthwise_conv2d_simd_s8": "tee_depthwise_conv2d_simd_row_s8",
              "tee_binary_table_s8": "tee_binary_table_row_s8", "tee_binary_simd_s8": "tee_binary_simd_row_s8",
              "tee_lut_s8": "tee_lut_row_s8"}
KEPT_SCRATCH = {"tee_binary_table_s8"}  # tables made with the first row and read by the others
CONVOLUTIONS = {"tee_conv2d_gemm_s8", "tee_depthwise_conv2d_simd_s8"}
MAX_PARTS = 32  # windows and members a stream may have (TEE_STREAM_MAX in stream.c)
INT8_MAX, UINT16_MAX = 127, 65535
ROW_ALIGN = 16  # a window's rows move up in copies of up to 16 bytes at a time (stream.c)


@dataclass(frozen=True)
class Stream:
    steps: tuple[int, ...]                # the member calls (consecutive steps)
    windows: tuple[Window, ...]           # the tensors the members touch; capacity < rows: a window
    order: tuple[int, ...]                # the member (index into steps) that makes each next row
    scratch: int                          # bytes: the convolutions' shared scratch, then each kept one
    scratch_at: tuple[int, ...]           # each member's scratch offset in it
    head: int                             # the order as stored: a head, a period repeated, the rest
    period: int
    repeats: int

    def window_of(self, tensor: int) -> int:
        return next(i for i, w in enumerate(self.windows) if w.tensor == tensor)

    @property
    def stored_order(self) -> tuple[int, ...]:
        """The order as the firmware stores it (tee_stream in tinyee_kernels.h)."""
        looped = self.head + self.period * self.repeats
        return self.order[:self.head + self.period] + self.order[looped:]


def periodic(order: tuple[int, ...]) -> tuple[int, int, int]:
    """(head, period, repeats) storing `order` in the fewest bytes as a head, a period repeated, the rest."""
    n = len(order)
    best = (n, 0, 0)  # as is

    def cost(h, p, r):
        return n - p * (r - 1) if p else n

    for p in range(1, min(n // 2, 4 * MAX_PARTS) + 1):
        run = [0] * (n + 1)  # run[i]: how many of order[i:] equal the element p later
        for i in range(n - p - 1, -1, -1):
            run[i] = run[i + 1] + 1 if order[i] == order[i + p] else 0
        for h in range(n - 2 * p + 1):
            r = 1 + run[h] // p
            if r > 1 and cost(h, p, r) < cost(*best):
                best = (h, p, r)
    return best


def _rows(model: TfliteModel, t: int) -> tuple[int, int] | None:
    """(rows, bytes per row) of an NHWC batch-1 activation, else None."""
    tensor = model.tensors[t]
    if tensor.is_const or len(tensor.shape) != 4 or tensor.shape[0] != 1:
        return None
    return int(tensor.shape[1]), int(tensor.nbytes // tensor.shape[1])


def member_inputs(c: Call) -> list[int]:
    return [c.tensor(r) for r in ("input", "input1", "input2") if r in c.args]


def geometry(model: TfliteModel, c: Call) -> tuple[int, int, int] | None:
    """(stride, pad, span) in rows of a call that can run row by row: output row r reads input rows
    [r * stride - pad, + span); None where it cannot."""
    if c.kernel not in ROW_MAKERS or any(_rows(model, t) is None for t in [*member_inputs(c), c.output]):
        return None
    if c.kernel in CONVOLUTIONS:
        p = c.params
        rows = p["stride_h"], p["pad_h"], (p["k_h"] - 1) * p["dil_h"] + 1
        return rows if max(rows) <= INT8_MAX else None  # int8 fields of tee_stream_member
    shape = model.tensors[c.output].shape
    if any(model.tensors[t].shape != shape for t in member_inputs(c)):
        return None
    if c.kernel != "tee_lut_s8" and (c.params["ndims"], c.params["in1_strides"][0], c.params["in2_strides"][0]) != (1, 1, 1):
        return None
    return 1, 0, 1


def build_stream(model: TfliteModel, calls: list[Call], steps: range) -> Stream | None:
    """The stream of calls[steps], or None where one cannot run them (or saves nothing)."""
    members = [calls[s] for s in steps]
    geo = [geometry(model, c) for c in members]
    if len(members) < 2 or None in geo:
        return None
    producer = {c.output: i for i, c in enumerate(members)}
    read_by = readers(calls)
    kept_whole = {t.index for t in model.outputs} | {t for t in producer if any(s > steps[-1] for s in read_by.get(t, []))}
    tensors = list(dict.fromkeys(t for c in members for t in [*member_inputs(c), c.output]))
    shape = {t: _rows(model, t) for t in tensors}  # (rows, bytes per row)
    rows = {t: n for t, (n, _) in shape.items()}
    windowed = [t for t in producer if t not in kept_whole]
    if len(tensors) > MAX_PARTS or len(members) > MAX_PARTS or not windowed or \
            any(shape[t][1] % ROW_ALIGN for t in windowed):
        return None
    made, order = [0] * len(members), []

    def need(i: int, upto: int) -> int:
        stride, pad, span = geo[i]
        return (upto - 1) * stride - pad + span

    def make(i: int, upto: int) -> None:
        while made[i] < upto:
            for t in member_inputs(members[i]):
                if t in producer:
                    make(producer[t], min(rows[t], need(i, made[i] + 1)))
            order.append(i)
            made[i] += 1

    finals = [i for i, c in enumerate(members) if c.output in kept_whole]
    last = max(rows[members[i].output] for i in finals)
    for k in range(1, last + 1):
        for i in finals:
            make(i, -(-k * rows[members[i].output] // last))
    scratch = _scratch(members)
    if scratch[0] > UINT16_MAX:
        return None
    capacity = _capacities(members, geo, order, rows, {t for t in tensors if t in kept_whole or t not in producer})
    return Stream(tuple(steps), tuple(Window(t, rows[t], capacity[t], shape[t][1]) for t in tensors),
                  tuple(order), *scratch, *periodic(tuple(order)))


def _capacities(members: list[Call], geo, order, rows: dict[int, int], whole: set[int]) -> dict[int, int]:
    """Rows each window must hold: at each row made, that row and every earlier one a later read needs."""
    reads: dict[int, list[tuple[int, int]]] = {}  # tensor -> (time, first row read)
    writes: dict[int, list[tuple[int, int]]] = {}  # tensor -> (time, row written)
    made = [0] * len(members)
    for time, i in enumerate(order):
        stride, pad, _ = geo[i]
        row, made[i] = made[i], made[i] + 1
        for t in member_inputs(members[i]):
            reads.setdefault(t, []).append((time, max(row * stride - pad, 0)))
        writes.setdefault(members[i].output, []).append((time, row))
    capacity = {t: rows[t] for t in whole}
    for t, ws in writes.items():
        if t in whole:
            continue
        later = sorted(reads.get(t, []), reverse=True)
        lowest, need, k = rows[t], 1, 0
        for time, row in sorted(ws, reverse=True):  # suffix minimum of the first rows read after each write
            while k < len(later) and later[k][0] > time:
                lowest = min(lowest, later[k][1])
                k += 1
            need = max(need, row + 1 - min(lowest, row))
        capacity[t] = need
    return capacity


def _scratch(members: list[Call]) -> tuple[int, tuple[int, ...]]:
    """One scratch for the convolutions (they run one at a time), after it each kept table's own."""
    shared = max((c.scratch for c in members if c.kernel not in KEPT_SCRATCH), default=0)
    at, end = [], align(shared)
    for c in members:
        if c.kernel in KEPT_SCRATCH:
            at.append(end)
            end += align(c.scratch)
        else:
            at.append(0)
    return end, tuple(at)


def _peak_step(calls: list[Call], plan: Plan) -> int:
    """The step at which the most arena bytes are alive."""
    def alive(step):
        return sum(size for _, size, lo, hi in plan.buffers if lo <= step <= hi)
    return max(range(len(calls)), key=alive)


def choose_streams(model: TfliteModel, calls: list[Call], pinned: dict[int, int] | None = None
                   ) -> tuple[list[Stream], Plan]:
    """Streams that lower the segment's peak arena, and the plan with them. Each round tries every run of
    streamable calls through the step where the arena peaks and keeps the best, while the peak drops."""
    streams: list[Stream] = []
    plan = plan_arena(model, calls, pinned)
    streamable = [geometry(model, c) is not None for c in calls]
    while True:
        peak = _peak_step(calls, plan)
        taken = {s for st in streams for s in st.steps}
        if not streamable[peak] or peak in taken:
            return streams, plan
        lo = peak
        while lo > 0 and streamable[lo - 1] and lo - 1 not in taken:
            lo -= 1
        hi = peak
        while hi + 1 < len(calls) and streamable[hi + 1] and hi + 1 not in taken:
            hi += 1
        best = None
        for a in range(lo, peak + 1):
            for b in range(max(peak, a + 1), hi + 1):
                s = build_stream(model, calls, range(a, b + 1))
                if s is None:
                    continue
                trial = plan_arena(model, calls, pinned, [*streams, s])
                if trial.size < (best[1].size if best else plan.size):
                    best = (s, trial)
        if best is None:
            return streams, plan
        streams.append(best[0])
        plan = best[1]
