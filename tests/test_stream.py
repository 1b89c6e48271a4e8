"""Row streaming (tinyee/compile/stream.py): where the compiler streams, the windows it sizes, the order it
stores. Bit-exactness of streamed code is checked where streams run: test_kernels (ROW_STREAM cases on every
host path), test_firmware (on the emulated M4 and M55) and test_import (MLPerf Tiny IC, host and QEMU)."""


import numpy as np
import pytest

from conftest import MLPERF_TINY
from tinyee.compile import compile_segments
from tinyee.compile.stream import geometry, member_inputs, periodic
from tinyee.tflite import TfliteModel

IC = MLPERF_TINY / "ic_resnet8_int8.tflite"


@pytest.fixture(scope="module")
def ic():
    model = TfliteModel.load(IC)
    return compile_segments([model])[0], compile_segments([model], stream=False)[0]


def test_ic_streams_its_first_blocks_and_halves_its_peak(ic):
    streamed, whole = ic
    assert streamed.streams and not whole.streams
    assert streamed.plan.size <= whole.plan.size // 2
    assert streamed.plan.size == streamed.plan.live_bound
    windows = [w for s in streamed.streams for w in s.windows if w.capacity < w.rows]
    assert windows and all(w.capacity <= 3 for w in windows)  # 3x3 windows: never more than three rows


def test_streamed_plan_never_overlaps_live_buffers(ic):
    bufs = ic[0].plan.buffers
    for i, (off_a, size_a, lo_a, hi_a) in enumerate(bufs):
        for off_b, size_b, lo_b, hi_b in bufs[i + 1:]:
            if not (hi_a < lo_b or hi_b < lo_a):
                assert off_a + size_a <= off_b or off_b + size_b <= off_a


def test_every_read_finds_its_rows_in_the_window(ic):
    """Replays each stream as firmware/kernels/stream.c runs it: every row a member reads has been made and
    is still in its window when read, and every row a stream keeps whole is made exactly once."""
    seg = ic[0]
    for s in seg.streams:
        top = {w.tensor: 0 for w in s.windows}
        made = {w.tensor: (0 if any(seg.calls[st].output == w.tensor for st in s.steps) else w.rows) for w in s.windows}
        cap = {w.tensor: w.capacity for w in s.windows}
        for k in s.order:
            c = seg.calls[s.steps[k]]
            stride, pad, span = geometry(seg.model, c)
            row = made[c.output]
            for t in member_inputs(c):
                rows = next(w.rows for w in s.windows if w.tensor == t)
                first, end = max(row * stride - pad, 0), min(row * stride - pad + span, rows)
                assert top[t] <= first and end <= made[t] and end - top[t] <= cap[t], (c.op.index, row, t)
            top[c.output] = max(top[c.output], row - cap[c.output] + 1)
            made[c.output] = row + 1
        assert all(made[w.tensor] == w.rows for w in s.windows if w.capacity == w.rows)


def test_stored_order_expands_back():
    rng = np.random.default_rng(3)
    orders = [tuple(rng.integers(0, 4, n)) for n in (0, 1, 5, 40)]
    orders += [tuple([0, 0, 1] + [2, 3, 4] * 9 + [5]), tuple([1, 2] * 20)]
    for order in orders:
        head, period, repeats = periodic(order)
        stored = order[:head + period] + order[head + period * repeats:]
        expanded = stored[:head] + stored[head:head + period] * repeats + stored[head + period:]
        assert expanded == order
        assert len(stored) <= len(order)
    assert len(order) - period * (repeats - 1) == 2  # the pure repeat is stored as one period
