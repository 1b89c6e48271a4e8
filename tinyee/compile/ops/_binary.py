"""What ADD, SUB, MUL and SQUARED_DIFFERENCE share: one broadcasting kernel (binary.c) whose per-op
multipliers each op module computes, and the optimised variants: MUL's as is, the others' with each
input's rescaling tabulated."""

from __future__ import annotations

import dataclasses

from tinyee.compile import requant
from tinyee.compile.call import Call, ScratchArg, tensor_args
from tinyee.compile.ops.context import LoweringContext, coalesce_loops
from tinyee.tflite import Op

# Struct fields that make the kernel run over 256 values in a row (for lookup tables of SiLU's MUL).
TABLE_PARAMS = {"ndims": 1, "out_dims": [256], "in1_strides": [1], "in2_strides": [1]}


def _broadcast(ctx: LoweringContext, op: Op) -> dict:
    y = ctx.tensor(op.outputs[0])
    rank = max(len(y.shape), 1)
    ctx.check_rank(op, rank)
    out = list(y.shape) or [1]

    def strides(shape):
        dims = [1] * (rank - len(shape)) + list(shape)
        st, acc = [0] * rank, 1
        for i in range(rank - 1, -1, -1):
            if dims[i] not in (1, out[i]):
                ctx.fail(op, f"shapes {ctx.tensor(op.inputs[0]).shape} and {ctx.tensor(op.inputs[1]).shape} "
                             "do not broadcast")
            st[i] = acc if dims[i] == out[i] and out[i] > 1 else 0
            acc *= dims[i]
        return st

    loop_dims, (st1, st2) = coalesce_loops(out, strides(ctx.tensor(op.inputs[0]).shape), strides(ctx.tensor(op.inputs[1]).shape))
    return dict(ndims=len(loop_dims), out_dims=loop_dims, in1_strides=st1, in2_strides=st2)


def binary_call(ctx: LoweringContext, op: Op, kind: str, multipliers) -> Call:
    """The kernel call of one binary op; `multipliers(s1, s2, s_out)` gives its left shift and requantization."""
    s1, z1 = ctx.quant_params(op, op.inputs[0])
    s2, z2 = ctx.quant_params(op, op.inputs[1])
    so, zo = ctx.quant_params(op, op.outputs[0])
    fused = getattr(op.options, "fusedActivationFunction", 0) if op.options is not None else 0
    lo, hi = requant.activation_range(fused, so, zo)
    p = dict(op=kind, in1_offset=-z1, in2_offset=-z2, out_offset=zo, left_shift=0, in1_mult=0, in1_shift=0,
             in2_mult=0, in2_shift=0, act_min=lo, act_max=hi, **_broadcast(ctx, op))
    p.update(multipliers(s1, s2, so))
    # An input with the output's shape is read at exactly the element about to be written.
    same = tuple(t for t in op.inputs[:2] if ctx.size(t) == ctx.size(op.outputs[0]))
    return Call(op, "tee_binary_s8", "tee_binary_params", p, {},
                tensor_args(input1=op.inputs[0], input2=op.inputs[1], output=op.outputs[0]), in_place=same)


def rescaled_inputs(s1, s2, twice, left_shift: int) -> dict:
    """ADD/SUB/SQUARED_DIFFERENCE: each input rescaled to twice the larger input scale, after a left shift."""
    (m1, e1), (m2, e2) = (requant.quantize_multiplier(s1 / twice), requant.quantize_multiplier(s2 / twice))
    return dict(left_shift=left_shift, in1_mult=m1, in1_shift=e1, in2_mult=m2, in2_shift=e2)


def simd_rewrite(ctx, c: Call) -> Call:
    """The same parameters to the optimised loop (binary.c: Helium runs four elements per step)."""
    return dataclasses.replace(c, kernel="tee_binary_simd_s8")


def table_rewrite(ctx, c: Call) -> Call | str:
    """Each input's rescaling tabulated in scratch first (binary.c decides where it pays off), with the
    scalar requantization, which takes normalized multipliers only (a zero one keeps the reference)."""
    if not requant.normalized(c.params["in1_mult"], c.params["in2_mult"]):
        return requant.UNDERFLOW
    kernel = "tee_squared_difference_table_s8" if c.params["op"] == "TEE_SQUARED_DIFFERENCE" else "tee_binary_table_s8"
    return dataclasses.replace(c, kernel=kernel,
                               args={"input1": c.args["input1"], "input2": c.args["input2"], "scratch": ScratchArg(),
                                     "output": c.args["output"]})
