"""TRANSPOSE (strided_copy.c): the input read through permuted strides."""

from __future__ import annotations

from tinyee.compile.call import Call, tensor_args
from tinyee.compile.ops.context import coalesce_loops, contiguous_strides

OP = "TRANSPOSE"


def lower(ctx, op) -> Call:
    ctx.same_quant(op, [op.inputs[0]], op.outputs[0])
    x = ctx.tensor(op.inputs[0])
    perm = ctx.const_ints(op, op.inputs[1])
    ctx.check_rank(op, len(perm))
    st = contiguous_strides(x.shape)
    loop_dims, (strides,) = coalesce_loops([x.shape[p] for p in perm], [st[p] for p in perm])
    params = dict(ndims=len(loop_dims), out_dims=loop_dims, in_strides=strides, in_start=0)
    return Call(op, "tee_strided_copy_s8", "tee_gather_params", params, {},
                tensor_args(input=op.inputs[0], output=op.outputs[0]))
