"""BATCH_MATMUL: reference kernel batch_matmul.c; optimised: a matrix product with row and column sums
for the zero points, operands with strided depth packed into scratch (batch_matmul_optimized.c)."""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, ScratchArg, tensor_args

OP = "BATCH_MATMUL"
MAX_BATCH_DIMS = 3


def _batch_strides(shape) -> list[int]:
    dims = [1] * (2 + MAX_BATCH_DIMS - len(shape)) + list(shape)
    strides, acc = [0] * len(dims), 1
    for i in range(len(dims) - 1, -1, -1):
        strides[i] = acc if dims[i] > 1 else 0
        acc *= dims[i]
    return strides[:MAX_BATCH_DIMS]


def lower(ctx, op) -> Call:
    o = op.options
    lhs, rhs, y = ctx.tensor(op.inputs[0]), ctx.tensor(op.inputs[1]), ctx.tensor(op.outputs[0])
    s_l, zp_l = ctx.quant_params(op, op.inputs[0])
    s_r, zp_r = ctx.quant_params(op, op.inputs[1])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    if len(y.shape) > 2 + MAX_BATCH_DIMS:
        ctx.fail(op, f"more than {MAX_BATCH_DIMS} batch dimensions")
    adj_x, adj_y = bool(o.adjX), bool(o.adjY)
    a, b = lhs.shape[-2:]
    rows, depth = (b, a) if adj_x else (a, b)
    c, e = rhs.shape[-2:]
    cols = c if adj_y else e
    out_dims = [1] * (2 + MAX_BATCH_DIMS - len(y.shape)) + list(y.shape)
    m, s = requant.per_tensor_product(s_l, s_r, s_out)
    params = dict(
        batch=out_dims[:MAX_BATCH_DIMS], lhs_batch_stride=_batch_strides(lhs.shape),
        rhs_batch_stride=_batch_strides(rhs.shape), rows=rows, cols=cols, depth=depth,
        lhs_row_stride=1 if adj_x else depth, lhs_depth_stride=rows if adj_x else 1,
        rhs_depth_stride=1 if adj_y else cols, rhs_col_stride=depth if adj_y else 1,
        lhs_offset=-zp_l, rhs_offset=-zp_r, out_offset=zp_out, mult=m, shift=s,
    )
    return Call(op, "tee_batch_matmul_s8", "tee_batch_matmul_params", params, {},
                tensor_args(lhs=op.inputs[0], rhs=op.inputs[1], output=op.outputs[0]))


def optimize(ctx, c: Call) -> Call:
    p = c.params
    packs = {"pack_lhs": int(p["lhs_depth_stride"] != 1), "pack_rhs": int(p["rhs_depth_stride"] != 1)}
    return dataclasses.replace(c, kernel="tee_batch_matmul_gemm_s8", params={**p, **packs},
                               args={"lhs": c.args["lhs"], "rhs": c.args["rhs"], "scratch": ScratchArg(),
                                     "output": c.args["output"]})


def macs(p: dict) -> int:
    return int(np.prod(p["batch"])) * p["rows"] * p["cols"] * p["depth"]
