"""DEPTHWISE_CONV_2D: reference kernel depthwise_conv_2d.c; optimised (depthwise_conv_2d_optimized.c):
the input offset folded into the bias, several channels at a time, in place through a ring of input
rows where the output keeps the input's shape."""

from __future__ import annotations

import dataclasses

from tinyee.compile.call import Call, ScratchArg
from tinyee.compile.ops._conv import conv_call, optimized_requant

OP = "DEPTHWISE_CONV_2D"


def lower(ctx, op) -> Call:
    return conv_call(ctx, op, "tee_depthwise_conv2d_s8", depthwise=True)


def optimize(ctx, c: Call) -> Call:
    arrays = {**c.arrays, **optimized_requant(ctx, c, depthwise=True)}
    return dataclasses.replace(c, kernel="tee_depthwise_conv2d_simd_s8", arrays=arrays,
                               args={"input": c.args["input"], "filter": c.args["filter"], "scratch": ScratchArg(),
                                     "output": c.args["output"]})


def with_scratch(c: Call, size: int) -> Call:
    """Stride 1 with the output shaped as the input: output row y lands on input row y (the kernel keeps the
    rows still to be read in a ring in scratch), so the output may overwrite the input."""
    p = c.params
    same = p["stride_h"] == p["stride_w"] == 1 and (p["out_h"], p["out_w"]) == (p["in_h"], p["in_w"])
    return dataclasses.replace(c, scratch=size, in_place=(c.tensor("input"),) if same else ())


def macs(p: dict) -> int:
    return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"]
