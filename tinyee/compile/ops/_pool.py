"""What the 2-D pooling ops share: window geometry (tee_pool_params) with the input's quantization."""

from __future__ import annotations

from tinyee.compile import requant
from tinyee.compile.call import Call, tensor_args
from tinyee.compile.ops.context import LoweringContext, same_padding
from tinyee.tflite import Op


def pool_call(ctx: LoweringContext, op: Op, kernel: str) -> Call:
    o = op.options
    x, y = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0])
    ctx.same_quant(op, [op.inputs[0]], op.outputs[0])
    s_out, zp_out = ctx.quant_params(op, op.outputs[0])
    lo, hi = requant.activation_range(o.fusedActivationFunction, s_out, zp_out)
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[::3] != y.shape[::3]:
        ctx.fail(op, f"input {list(x.shape)} and output {list(y.shape)} must be 4-D with the same batch and channels")
    ctx.window(op, x.shape[1], o.filterHeight, o.strideH, 1, y.shape[1])
    ctx.window(op, x.shape[2], o.filterWidth, o.strideW, 1, y.shape[2])
    params = dict(in_h=x.shape[1], in_w=x.shape[2], channels=x.shape[3], out_h=y.shape[1], out_w=y.shape[2],
                  k_h=o.filterHeight, k_w=o.filterWidth, stride_h=o.strideH, stride_w=o.strideW,
                  pad_h=same_padding(x.shape[1], o.filterHeight, o.strideH, 1, y.shape[1]),
                  pad_w=same_padding(x.shape[2], o.filterWidth, o.strideW, 1, y.shape[2]),
                  act_min=lo, act_max=hi)
    return Call(op, kernel, "tee_pool_params", params, {}, tensor_args(input=op.inputs[0], output=op.outputs[0]))
