"""PAD (pad.c): the input surrounded by the output zero point."""

from __future__ import annotations

from tinyee.compile.call import Call, tensor_args

OP = "PAD"


def _merged(dims: list[int], before: list[int], after: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Trailing dimensions without padding merged into the one before them, so that the kernel copies
    whole rows (one memcpy per image row of an NHWC pad, not one per pixel)."""
    dims, before, after = list(dims), list(before), list(after)
    while len(dims) > 1 and before[-1] == after[-1] == 0:
        n = dims.pop()
        before.pop(), after.pop()
        dims[-1], before[-1], after[-1] = dims[-1] * n, before[-1] * n, after[-1] * n
    return dims, before, after


def lower(ctx, op) -> Call:
    ctx.same_quant(op, [op.inputs[0]], op.outputs[0])
    x = ctx.tensor(op.inputs[0])
    pads = ctx.const_ints(op, op.inputs[1])
    ctx.check_rank(op, len(x.shape))
    dims, before, after = _merged(list(x.shape), pads[0::2], pads[1::2])
    params = dict(ndims=len(dims), in_dims=dims, pad_before=before, pad_after=after,
                  pad_value=ctx.quant_params(op, op.outputs[0])[1])
    return Call(op, "tee_pad_s8", "tee_pad_params", params, {}, tensor_args(input=op.inputs[0], output=op.outputs[0]))
