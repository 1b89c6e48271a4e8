"""Lower an int8 TFLite segment to reference kernel calls with every parameter precomputed.

Each op's lowering lives in its registry module (tinyee/compile/ops); anything the firmware cannot
run exactly is refused here, naming the op and the model. Lowering is also where a model from a file
is checked op by op: an op whose shapes or parameters are inconsistent is refused, not crashed on.
"""

from __future__ import annotations

import numpy as np

from tinyee.compile.call import Call
from tinyee.compile.ops import OPS
from tinyee.compile.ops.context import LoweringContext
from tinyee.tflite import TfliteModel


def lower(model: TfliteModel) -> list[Call]:
    ctx = LoweringContext(model)
    calls = []
    written = {t.index for t in model.inputs}
    for op in model.ops:
        _check_dataflow(ctx, op, written)
        for i in op.inputs + op.outputs:
            t = ctx.tensor(i) if i >= 0 else None
            if t is not None and not t.is_const and t.dtype != np.int8:
                ctx.fail(op, f"tensor {t.name!r} is {np.dtype(t.dtype).name}; the firmware runs int8 only")
        if op.name not in OPS:
            ctx.fail(op, "no int8 kernel in tinyee's firmware for this op")
        try:
            calls.append(OPS[op.name].lower(ctx, op))
        except (IndexError, ValueError, ZeroDivisionError, KeyError, TypeError, OverflowError, AttributeError) as e:
            # The file passed the flatbuffers verifier, but this op's tensors do not make sense together.
            ctx.fail(op, f"its tensors' shapes or parameters do not fit the op ({type(e).__name__}: {e})")
    return calls


def _check_dataflow(ctx: LoweringContext, op, written: set[int]) -> None:
    """Ops run in file order: each reads constants, graph inputs or tensors an earlier op wrote, and writes
    each of its outputs once (a tensor read before anything writes it would be whatever the arena held)."""
    for i in op.inputs:
        if i >= 0 and i not in written and not ctx.tensor(i).is_const:
            ctx.fail(op, f"reads tensor {ctx.tensor(i).name!r}, which is neither a constant, an input nor written "
                         "by an earlier op")
    for i in op.outputs:
        if i in written or ctx.tensor(i).is_const:
            ctx.fail(op, f"writes tensor {ctx.tensor(i).name!r}, which is a constant, an input or written before")
        written.add(i)
