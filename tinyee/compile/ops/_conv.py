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
    out_c = y.shape[3]
    scales = list(w.scales) if len(w.scales) == out_c else [w.scales[0]] * out_c
    mult, shift = requant.per_channel(s_in, scales, s_out)
    kh, kw = w.shape[1], w.shape[2]
    lo, hi = requant.activation_range(o.fusedActivationFunction, s_out, zp_out)
    params = dict(
        in_h=x.shape[1], in_w=x.shape[2], in_c=x.shape[3], out_h=y.shape[1], out_w=y.shape[2], out_c=out_c,
        k_h=kh, k_w=kw, stride_h=o.strideH, stride_w=o.strideW, dil_h=o.dilationHFactor, dil_w=o.dilationWFactor,
        pad_h=same_padding(x.shape[1], kh, o.strideH, o.dilationHFactor, y.shape[1]),
        pad_w=same_padding(x.shape[2], kw, o.strideW, o.dilationWFactor, y.shape[2]),
        depth_multiplier=out_c // x.shape[3] if depthwise else 1,
        in_offset=-zp_in, out_offset=zp_out, act_min=lo, act_max=hi,
    )
    bias = op.inputs[2] if len(op.inputs) > 2 else -1
    return Call(op, kernel, "tee_conv_params", params, {"mult": mult, "shift": shift},
                tensor_args(input=op.inputs[0], filter=op.inputs[1], bias=bias, output=op.outputs[0]))


def _wrap32(v: np.ndarray) -> list[int]:
    """int64 values as the int32 the C code computes (two's complement wrap-around)."""
    return [int(x) for x in (np.asarray(v, np.int64) + 2**31) % 2**32 - 2**31]


def folded_bias(ctx: LoweringContext, c: Call, in_offset: int, depthwise: bool = False) -> list[int]:
    """bias + in_offset * (sum of each output channel's weights): the input zero point out of the inner loop.
    Output channels are the filter's first axis, or its last for a depthwise filter [1, k_h, k_w, channels]."""
    w = np.asarray(ctx.tensor(c.tensor("filter")).data, np.int64)
    sums = w.reshape(-1, w.shape[-1]).sum(axis=0) if depthwise else w.reshape(w.shape[0], -1).sum(axis=1)
    bias = np.asarray(ctx.tensor(c.tensor("bias")).data, np.int64) if c.tensor("bias") >= 0 else 0
    return _wrap32(bias + in_offset * sums)
