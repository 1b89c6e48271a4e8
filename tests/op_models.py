"""Build single-op int8 TFLite models with the flatbuffer schema from the tflite-micro wheel.

Used by the kernel conformance tests: random shapes, scales and zero points, run through the
TFLM interpreter (the oracle) and through tinyee's generated C.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

TYPES = {np.int8: S.TensorType.INT8, np.int32: S.TensorType.INT32, np.float32: S.TensorType.FLOAT32}


class OpModel:
    def __init__(self):
        self.tensors, self.buffers, self.ops, self.codes = [], [S.BufferT()], [], []

    def tensor(self, shape, scale=None, zero_point=0, data=None, dtype=np.int8, axis=0) -> int:
        t = S.TensorT()
        t.shape = list(shape)
        t.type = TYPES[dtype]
        t.name = f"t{len(self.tensors)}".encode()
        t.buffer = 0
        if data is not None:
            b = S.BufferT()
            b.data = np.ascontiguousarray(data, dtype=dtype).tobytes()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        if scale is not None:
            q = S.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            zps = np.atleast_1d(zero_point)
            q.zeroPoint = [int(z) for z in (zps if len(zps) == len(q.scale) else np.repeat(zps, len(q.scale)))]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const_ints(self, values) -> int:
        values = np.asarray(values, dtype=np.int32)
        return self.tensor(values.shape, data=values, dtype=np.int32)

    def op(self, name: str, inputs, outputs, options=None, options_type=None) -> None:
        code = getattr(S.BuiltinOperator, name)
        if code not in self.codes:
            self.codes.append(code)
        o = S.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options is not None:
            o.builtinOptionsType = getattr(S.BuiltinOptions, options_type)
            o.builtinOptions = options
        self.ops.append(o)

    def build(self, inputs, outputs) -> bytes:
        m = S.ModelT()
        m.version = 3
        codes = []
        for c in self.codes:
            oc = S.OperatorCodeT()
            oc.builtinCode = c
            oc.deprecatedBuiltinCode = min(c, 127)
            oc.version = 1
            codes.append(oc)
        g = S.SubGraphT()
        g.tensors, g.operators, g.inputs, g.outputs = self.tensors, self.ops, list(inputs), list(outputs)
        m.operatorCodes, m.subgraphs, m.buffers = codes, [g], self.buffers
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def options(cls_name: str, **fields):
    o = getattr(S, cls_name + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return o
