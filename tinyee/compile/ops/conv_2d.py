"""CONV_2D: reference kernel conv_2d.c; optimised: a matrix product over im2col rows (conv_2d_optimized.c)."""

from __future__ import annotations

import dataclasses

from tinyee.compile.call import Call, ScratchArg
from tinyee.compile.ops._conv import conv_call, optimized_requant

OP = "CONV_2D"


def lower(ctx, op) -> Call:
    return conv_call(ctx, op, "tee_conv2d_s8", depthwise=False)


def optimize(ctx, c: Call) -> Call:
    return dataclasses.replace(
        c, kernel="tee_conv2d_gemm_s8", arrays={**c.arrays, **optimized_requant(ctx, c)},
        args={"input": c.args["input"], "filter": c.args["filter"], "scratch": ScratchArg(), "output": c.args["output"]})


def with_scratch(c: Call, size: int) -> Call:
    """A pointwise convolution with as many output as input channels may write over its input: its
    kernel then keeps one block of outputs in scratch until the block's inputs are read."""
    p = c.params
    pointwise = (p["k_h"], p["k_w"], p["stride_h"], p["stride_w"], p["pad_h"], p["pad_w"]) == (1, 1, 1, 1, 0, 0)
    same = pointwise and p["out_c"] == p["in_c"]
    return dataclasses.replace(c, scratch=size, in_place=(c.tensor("input"),) if same else ())


def macs(p: dict) -> int:
    return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"] * p["in_c"]


