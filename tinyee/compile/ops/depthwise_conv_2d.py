"""DEPTHWISE_CONV_2D: reference kernel depthwise_conv_2d.c; optimised: four channels at a time, in place
through a ring of input rows where the output keeps the input's shape (depthwise_conv_2d_optimized.c)."""

from __future__ import annotations

import dataclasses

from tinyee.compile.call import Call, ScratchArg
from tinyee.compile.ops._conv import conv_call

OP = "DEPTHWISE_CONV_2D"


def lower(ctx, op) -> Call:
    return conv_call(ctx, op, "tee_depthwise_conv2d_s8", depthwise=True)


def optimize(ctx, c: Call) -> Call:
    return dataclasses.replace(c, kernel="tee_depthwise_conv2d_simd_s8",
                               args={**{k: v for k, v in c.args.items() if k != "output"}, "scratch": ScratchArg(),
                                     "output": c.args["output"]})


def with_scratch(c: Call, size: int) -> Call:
    """With scratch (the row ring), output row y lands on input row y: the output may overwrite the input."""
    return dataclasses.replace(c, scratch=size, in_place=(c.tensor("input"),) if size else ())


def macs(p: dict) -> int:
    return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"]
