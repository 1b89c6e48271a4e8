"""MAX_POOL_2D (max_pool_2d.c): the largest value of the part of each window inside the input."""

from tinyee.compile.ops._pool import pool_call

OP = "MAX_POOL_2D"


def lower(ctx, op):
    return pool_call(ctx, op, "tee_max_pool_s8")
