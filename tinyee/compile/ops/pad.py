"""PAD (pad.c): the input surrounded by the output zero point."""

from __future__ import annotations

from tinyee.compile.call import Call, tensor_args

OP = "PAD"


def lower(ctx, op) -> Call:
    ctx.same_quant(op, [op.inputs[0]], op.outputs[0])
    x = ctx.tensor(op.inputs[0])
    pads = ctx.const_ints(op, op.inputs[1])
    ctx.check_rank(op, len(x.shape))
    params = dict(ndims=len(x.shape), in_dims=list(x.shape), pad_before=pads[0::2], pad_after=pads[1::2],
                  pad_value=ctx.quant_params(op, op.outputs[0])[1])
    return Call(op, "tee_pad_s8", "tee_pad_params", params, {}, tensor_args(input=op.inputs[0], output=op.outputs[0]))
