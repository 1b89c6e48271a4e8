"""What CONV_2D and DEPTHWISE_CONV_2D share: window geometry, per-channel requantization, folded bias."""

from __future__ import annotations

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args
from tinyee.compile.ops.context import LoweringContext, same_padding
from tinyee.tflite import Op


def conv_call(ctx: LoweringContext, op: Op, kernel: str, depthwise: bool) -> Call:
    o = op.options
    x, w, y = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1]), ctx.tensor(op.outputs[0])
    if x.shape[0] != 1:
        ctx.fail(op, f"batch {x.shape[0]}: the firmware runs batch 1")
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    if any(z != 0 for z in w.zero_points):
        ctx.fail(op, "filter zero points must be 0 (symmetric int8 weights)")
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4:
        ctx.fail(op, "input, filter and output must be 4-D")
    out_c, in_c = y.shape[3], x.shape[3]
    kh, kw = w.shape[1], w.shape[2]
    filter_shape = (1, kh, kw, out_c) if depthwise else (out_c, kh, kw, in_c)
    ctx.constant(op, op.inputs[1], np.int8, filter_shape)
    if depthwise and (in_c < 1 or out_c % in_c):
        ctx.fail(op, f"{out_c} output channels are not a multiple of {in_c} input channels")
    if len(w.scales) not in (1, out_c):
        ctx.fail(op, f"the filter has {len(w.scales)} scales for {out_c} output channels")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        ctx.constant(op, op.inputs[2], np.int32, (out_c,))
    ctx.window(op, x.shape[1], kh, o.strideH, o.dilationHFactor, y.shape[1])
    ctx.window(op, x.shape[2], kw, o.strideW, o.dilationWFactor, y.shape[2])
    scales = list(w.scales) if len(w.scales) == out_c else [w.scales[0]] * out_c
    mult, shift = requant.per_channel(s_in, scales, s_out)
    lo, hi = requant.activation_range(o.fusedActivationFunction, s_out, zp_out)
    params = dict(
        in_h=x.shape[1], in_w=x.shape[2], in_c=in_c, out_h=y.shape[1], out_w=y.shape[2], out_c=out_c,
        k_h=kh, k_w=kw, stride_h=o.strideH, stride_w=o.strideW, dil_h=o.dilationHFactor, dil_w=o.dilationWFactor,
        pad_h=same_padding(x.shape[1], kh, o.strideH, o.dilationHFactor, y.shape[1]),
        pad_w=same_padding(x.shape[2], kw, o.strideW, o.dilationWFactor, y.shape[2]),
        depth_multiplier=out_c // in_c if depthwise else 1,
        in_offset=-zp_in, out_offset=zp_out, act_min=lo, act_max=hi,
    )
    bias = op.inputs[2] if len(op.inputs) > 2 else -1
    return Call(op, kernel, "tee_conv_params", params, {"mult": mult, "shift": shift},
                tensor_args(input=op.inputs[0], filter=op.inputs[1], bias=bias, output=op.outputs[0]))


def _wrap32(v: np.ndarray) -> list[int]:
    """int64 values as the int32 the C code computes (two's complement wrap-around)."""
    return [int(x) for x in (np.asarray(v, np.int64) + 2**31) % 2**32 - 2**31]


# A channel whose multiplier underflowed (QuantizeMultiplier's 0: every output is the zero point) gets this
# normalized one instead, 2^-32, with a zero bias: x * 2^-32 rounds to 0 for every |x| < 2^31 - 2, and the
# channel's sum of int8 products stays below that where 128 * sum |w| does (checked per channel).
NEGLIGIBLE_MULTIPLIER = (1 << 30, -31)


def optimized_requant(ctx: LoweringContext, c: Call, depthwise: bool = False) -> dict[str, list[int]]:
    """The optimised kernels' per-channel arrays: the folded bias, bias + in_offset * (sum of each output
    channel's weights), which takes the input zero point out of the inner loop, and the multipliers and
    shifts, zero ones replaced (NEGLIGIBLE_MULTIPLIER) so that one requantization serves every channel.
    Output channels are the filter's first axis, or its last for a depthwise filter [1, k_h, k_w, channels]."""
    w = np.asarray(ctx.tensor(c.tensor("filter")).data, np.int64)
    per_channel = w.reshape(-1, w.shape[-1]).T if depthwise else w.reshape(w.shape[0], -1)
    bias = np.asarray(ctx.tensor(c.tensor("bias")).data, np.int64) if c.tensor("bias") >= 0 else 0
    folded = _wrap32(bias + c.params["in_offset"] * per_channel.sum(axis=1))
    mult, shift = list(c.arrays["mult"]), list(c.arrays["shift"])
    safe = 128 * np.abs(per_channel).sum(axis=1) < 2**31 - 2
    # one multiplier for all channels (per-tensor FULLY_CONNECTED) is replaced only where it is safe for all
    owners = [[ch] for ch in range(len(folded))] if len(mult) > 1 else [list(range(len(folded)))]
    for m, channels in enumerate(owners):
        if mult[m] == 0 and all(safe[ch] for ch in channels):
            mult[m], shift[m] = NEGLIGIBLE_MULTIPLIER
            for ch in channels:
                folded[ch] = 0
    return {"mult": mult, "shift": shift, "folded_bias": folded}
