"""FULLY_CONNECTED: reference kernel fully_connected.c; optimised: a matrix product with the input zero
point folded into the bias (fully_connected_optimized.c, symmetric weights only)."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args
from tinyee.compile.ops._conv import optimized_requant

OP = "FULLY_CONNECTED"


def lower(ctx, op) -> Call:
    o = op.options
    x, w = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1])
    s_in, zp_in = ctx.quant_params(op, op.inputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    if o.weightsFormat != 0:
        ctx.fail(op, "shuffled weights are not supported")
    if len(w.shape) != 2 or min(w.shape) < 1:
        ctx.fail(op, f"weights of shape {list(w.shape)}: need [units, depth]")
    out_depth, in_depth = w.shape
    ctx.constant(op, op.inputs[1], np.int8, w.shape)
    rows, left = divmod(ctx.size(op.inputs[0]), in_depth)
    if left or ctx.size(op.outputs[0]) != rows * out_depth:
        ctx.fail(op, f"input {list(x.shape)} and output {list(ctx.tensor(op.outputs[0]).shape)} do not fit "
                     f"weights {list(w.shape)}")
    if len(w.scales) not in (1, out_depth):
        ctx.fail(op, f"the weights have {len(w.scales)} scales for {out_depth} units")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        ctx.constant(op, op.inputs[2], np.int32, (out_depth,))
    per_channel = len(w.scales) > 1
    if per_channel:
        mult, shift = requant.per_channel(s_in, list(w.scales), s_out)
    else:
        m, s = requant.per_tensor_product(s_in, w.scales[0], s_out)
        mult, shift = [m], [s]
    lo, hi = requant.activation_range(o.fusedActivationFunction, s_out, zp_out)
    params = dict(rows=rows, in_depth=in_depth, out_depth=out_depth,
                  in_offset=-zp_in, filter_offset=-w.zero_points[0], out_offset=zp_out, act_min=lo, act_max=hi,
                  per_channel=int(per_channel))
    bias = op.inputs[2] if len(op.inputs) > 2 else -1
    return Call(op, "tee_fully_connected_s8", "tee_fc_params", params, {"mult": mult, "shift": shift},
                tensor_args(input=op.inputs[0], filter=op.inputs[1], bias=bias, output=op.outputs[0]))


def optimize(ctx, c: Call) -> Call:
    return dataclasses.replace(
        c, kernel="tee_fully_connected_gemm_s8",
        arrays={**c.arrays, **optimized_requant(ctx, c)},
        args={k: v for k, v in c.args.items() if k != "bias"})


def macs(p: dict) -> int:
    return p["rows"] * p["in_depth"] * p["out_depth"]
