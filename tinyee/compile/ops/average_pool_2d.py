"""AVERAGE_POOL_2D (average_pool_2d.c): rounded mean over the part of each window inside the input; the
optimised kernel (average_pool_2d_optimized.c) sums a window's channels as vectors."""

import dataclasses

from tinyee.compile.ops._pool import pool_call

OP = "AVERAGE_POOL_2D"


def lower(ctx, op):
    return pool_call(ctx, op, "tee_average_pool_s8")


def optimize(ctx, c):
    return dataclasses.replace(c, kernel="tee_average_pool_simd_s8")
