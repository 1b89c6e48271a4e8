"""CONCATENATION (concatenation.c): inputs sharing quantization, copied chunk by chunk."""

from __future__ import annotations

import numpy as np

from tinyee.compile.call import Call, IntArg, IntsArg, TensorArg, TensorListArg

OP = "CONCATENATION"


def lower(ctx, op) -> Call:
    o = op.options
    if o.fusedActivationFunction:
        ctx.fail(op, "fused activation on CONCATENATION")
    ctx.same_quant(op, list(op.inputs), op.outputs[0])
    y = ctx.tensor(op.outputs[0])
    axis = o.axis % len(y.shape)
    chunks = tuple(int(np.prod(ctx.tensor(i).shape[axis:])) for i in op.inputs)
    return Call(op, "tee_concat_s8", args={"outer": IntArg(int(np.prod(y.shape[:axis]))),
                                           "num_inputs": IntArg(len(op.inputs)),
                                           "inputs": TensorListArg(tuple(op.inputs)), "chunk": IntsArg(chunks),
                                           "output": TensorArg(op.outputs[0])})
