"""STRIDED_SLICE (strided_copy.c): begin/end/stride per axis with TFLite's masks, clamped as TFLite does."""

from __future__ import annotations

import numpy as np

from tinyee.compile.call import Call, tensor_args
from tinyee.compile.ops.context import coalesce_loops, contiguous_strides

OP = "STRIDED_SLICE"


def lower(ctx, op) -> Call:
    o = op.options
    ctx.same_quant(op, [op.inputs[0]], op.outputs[0])
    if o.ellipsisMask or o.newAxisMask or getattr(o, "offset", False):
        ctx.fail(op, "ellipsis, new-axis and offset strided slices are not supported")
    x = ctx.tensor(op.inputs[0])
    begin, end, steps = (ctx.const_ints(op, i) for i in op.inputs[1:4])
    dims, st = list(x.shape), contiguous_strides(x.shape)
    out_dims, in_strides, start_off = [], [], 0
    for ax, n in enumerate(dims):
        step = steps[ax]
        if step == 0:
            ctx.fail(op, "stride 0")
        lo_clamp, hi_clamp = (0, n) if step > 0 else (-1, n - 1)
        if o.beginMask >> ax & 1:
            start = 0 if step > 0 else n - 1
        else:
            start = begin[ax] + n if begin[ax] < 0 else begin[ax]
            start = min(max(start, lo_clamp), hi_clamp)
        if o.shrinkAxisMask >> ax & 1:
            stop = start + 1
        elif o.endMask >> ax & 1:
            stop = n if step > 0 else -1
        else:
            stop = end[ax] + n if end[ax] < 0 else end[ax]
            stop = min(max(stop, lo_clamp), hi_clamp)
        count = max(0, -(-(stop - start) // step)) if step > 0 else max(0, -(-(start - stop) // -step))
        out_dims.append(count)
        in_strides.append(st[ax] * step)
        start_off += start * st[ax]
    if int(np.prod(out_dims)) != ctx.size(op.outputs[0]):
        ctx.fail(op, f"slice of {out_dims} does not match the output shape {ctx.tensor(op.outputs[0]).shape}")
    loop_dims, (strides,) = coalesce_loops(out_dims, in_strides)
    params = dict(ndims=len(loop_dims), out_dims=loop_dims, in_strides=strides, in_start=start_off)
    return Call(op, "tee_strided_copy_s8", "tee_gather_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]))
