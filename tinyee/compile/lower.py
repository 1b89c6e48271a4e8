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
    for op in model.ops:
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
