"""Read int8 TFLite flatbuffers through the schema that ships in the tflite-micro wheel.

Gives the op list, tensors with their quantization, and the per-model numbers the manifest
reports (MACs, parameter bytes, activation bytes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyee.errors import TinyeeError, first_line
from tinyee.native_output import native_output_captured

OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
DTYPES = {
    schema.TensorType.INT8: np.int8, schema.TensorType.UINT8: np.uint8, schema.TensorType.INT16: np.int16,
    schema.TensorType.INT32: np.int32, schema.TensorType.INT64: np.int64, schema.TensorType.FLOAT32: np.float32,
    schema.TensorType.BOOL: np.bool_,
}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    data: np.ndarray | None  # constant tensors only

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def is_const(self) -> bool:
        return self.data is not None

    def quant(self) -> dict:
        """Per-tensor quantization as JSON-able dict (scale kept as the exact float32 value)."""
        return {"scale": float(np.float32(self.scales[0])), "zero_point": int(self.zero_points[0])}


@dataclass(frozen=True)
class Op:
    index: int
    name: str
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: object


def verify(data: bytes, name: str) -> None:
    """Run the flatbuffers verifier (LiteRT verifies a model before building its interpreter) before
    anything reads the file: an unverified model never reaches the TFLM interpreter, which trusts its
    input. What the verifier cannot see (an op's shapes and quantization) lowering checks. Give it the
    model as TFLM reads it (with_tflm_quantization)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TinyeeError(f"{name} is not a TFLite model (no TFL3 identifier)")
    with native_output_captured():
        try:
            Interpreter(model_content=bytes(data), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        except (ValueError, RuntimeError) as e:
            raise TinyeeError(f"{name} is not a valid TFLite model: {first_line(e)}") from None


def _object_model(data: bytes):
    """The model through the object API (schema.ModelT), or None for bytes it cannot read (unverified bytes
    may raise any exception in the generated reader; the verifier then names what is wrong)."""
    try:
        return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception:
        return None


def with_tflm_quantization(data: bytes, model=None) -> bytes:
    """The model with the quantized_dimension of every per-tensor quantization set to 0. TFLite Micro reads
    that field only for per-channel tensors; LiteRT checks it against the tensor's rank for all (TFLM's
    person-detection example carries 3 on 1-D tensors), and tinyee must accept what TFLM runs. model: the
    bytes already read through the object API (_object_model), edited in place; bytes it cannot read are
    returned as they are."""
    model = _object_model(data) if model is None else model
    if model is None:
        return data
    quantizations = [t.quantization for g in model.subgraphs or [] for t in g.tensors or []]
    stray = [q for q in quantizations if q is not None and q.quantizedDimension and len(q.scale if q.scale is not
                                                                                            None else []) <= 1]
    if not stray:
        return data
    for q in stray:
        q.quantizedDimension = 0
    return packed(model, len(data))


class TfliteModel:
    def __init__(self, data: bytes, name: str = "<bytes>"):
        self.name = name
        self._m = _object_model(data)  # read once: the verifier checks it as TFLM reads it, then tinyee does
        verify(with_tflm_quantization(data, self._m), name)
        if self._m is None:  # the verifier passed, so this is a schema the reader does not know
            raise TinyeeError(f"{name} cannot be read as a TFLite model")
        if len(self._m.subgraphs or []) != 1:
            raise TinyeeError(f"{name}: {len(self._m.subgraphs or [])} subgraphs; tinyee segments have exactly one")
        graph = self._m.subgraphs[0]
        self.tensors = [self._tensor(i, t) for i, t in enumerate(graph.tensors or [])]
        self.ops = [self._op(i, op) for i, op in enumerate(graph.operators or [])]
        self.inputs = [self.tensors[i] for i in self._indices(graph.inputs, "graph input")]
        self.outputs = [self.tensors[i] for i in self._indices(graph.outputs, "graph output")]

    def _indices(self, values, what: str, optional: bool = False) -> tuple[int, ...]:
        out = tuple(int(x) for x in (values if values is not None else []))
        bad = [i for i in out if not (0 <= i < len(self.tensors) or optional and i == -1)]
        if bad:
            raise TinyeeError(f"{self.name}: {what} refers to tensor {bad[0]}, but there are {len(self.tensors)}")
        return out

    @classmethod
    def load(cls, path: Path) -> "TfliteModel":
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise TinyeeError(f"cannot read {path}: {e}") from e
        return cls(data, str(path))

    def _tensor(self, i: int, t) -> Tensor:
        q = t.quantization
        scales = tuple(float(s) for s in (q.scale if q is not None and q.scale is not None else []))
        zps = tuple(int(z) for z in (q.zeroPoint if q is not None and q.zeroPoint is not None else []))
        dtype = DTYPES.get(t.type)
        if dtype is None:
            raise TinyeeError(f"{self.name}: tensor {i} has unsupported element type {t.type}")
        if not all(np.isfinite(s) and s > 0 for s in scales) or len(zps) not in (0, len(scales)):
            raise TinyeeError(f"{self.name}: tensor {i} has invalid quantization (scales {list(scales)[:4]}, "
                              f"zero points {list(zps)[:4]})")
        if dtype in (np.int8, np.uint8) and any(not np.iinfo(dtype).min <= z <= np.iinfo(dtype).max for z in zps):
            raise TinyeeError(f"{self.name}: tensor {i} has a zero point outside {np.dtype(dtype).name}")
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        if any(d < 0 for d in shape):
            raise TinyeeError(f"{self.name}: tensor {i} has a dynamic or negative shape {list(shape)}")
        buffers = self._m.buffers or []
        buf = buffers[t.buffer].data if 0 <= t.buffer < len(buffers) else None
        data = None
        if buf is not None and len(buf):
            expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            if len(buf) != expected:
                raise TinyeeError(f"{self.name}: tensor {i} of shape {list(shape)} has {len(buf)} bytes of data, "
                                  f"not {expected}")
            data = np.frombuffer(bytes(buf), dtype=dtype).reshape(shape)
        name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else str(t.name)
        return Tensor(i, name, shape, dtype, scales, zps, data)

    def _op(self, i: int, op) -> Op:
        codes = self._m.operatorCodes or []
        if not 0 <= op.opcodeIndex < len(codes):
            raise TinyeeError(f"{self.name}: op {i} has operator code {op.opcodeIndex} of {len(codes)}")
        code = codes[op.opcodeIndex]
        # Codes above 127 only fit the newer builtinCode field; older files use the deprecated one.
        name = OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), f"UNKNOWN_{code.builtinCode}")
        inputs = self._indices(op.inputs, f"op {i} ({name})", optional=True)
        outputs = self._indices(op.outputs, f"op {i} ({name})")
        if not outputs:
            raise TinyeeError(f"{self.name}: op {i} ({name}) has no output")
        return Op(i, name, inputs, outputs, op.builtinOptions)

    @cached_property
    def op_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(op.name for op in self.ops).items()))

    def op_macs(self, op: Op) -> int:
        """Multiply-accumulates of one op (0 for ops without a dot product)."""
        weight_ranks = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 2}
        if op.name in weight_ranks and (len(op.inputs) < 2 or op.inputs[1] < 0 or
                                        len(self.tensors[op.inputs[1]].shape) != weight_ranks[op.name]):
            raise TinyeeError(f"{self.name}: op {op.index} ({op.name}) needs a rank-{weight_ranks[op.name]} "
                              "weight tensor as its second input")
        if op.name == "BATCH_MATMUL" and (len(op.inputs) < 2 or len(self.tensors[op.inputs[0]].shape) < 2):
            raise TinyeeError(f"{self.name}: op {op.index} (BATCH_MATMUL) needs two inputs of rank 2 or more")
        out = self.tensors[op.outputs[0]]
        n_out = int(np.prod(out.shape, dtype=np.int64))
        if op.name == "CONV_2D":  # filter [Cout, Kh, Kw, Cin]
            return n_out * int(np.prod(self.tensors[op.inputs[1]].shape[1:]))
        if op.name == "DEPTHWISE_CONV_2D":  # filter [1, Kh, Kw, Cout]
            kh, kw = self.tensors[op.inputs[1]].shape[1:3]
            return n_out * kh * kw
        if op.name == "FULLY_CONNECTED":  # weights [Out, In]
            return n_out * self.tensors[op.inputs[1]].shape[-1]
        if op.name == "BATCH_MATMUL":
            lhs = self.tensors[op.inputs[0]].shape
            adj_x = bool(getattr(op.options, "adjX", False))
            return n_out * (lhs[-2] if adj_x else lhs[-1])
        return 0

    @cached_property
    def macs(self) -> int:
        return sum(self.op_macs(op) for op in self.ops)

    @cached_property
    def param_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors if t.is_const)

    @cached_property
    def peak_op_activation_bytes(self) -> int:
        """Largest sum of one op's non-constant input and output bytes: a lower bound on the arena."""
        def live(op):
            ids = {i for i in op.inputs + op.outputs if i >= 0 and not self.tensors[i].is_const}
            return sum(self.tensors[i].nbytes for i in ids)
        return max((live(op) for op in self.ops), default=0)


def segment_outputs(model: TfliteModel) -> tuple[Tensor, list[Tensor]]:
    """A cascade segment's exit softmax (its first rank-2 output) and its boundary: the other outputs, in
    graph order, which the next segment takes as its inputs in the same order (the feature map, then any
    carry)."""
    probs = next((t for t in model.outputs if len(t.shape) == 2), None)
    if probs is None:
        raise TinyeeError(f"{model.name}: outputs of shapes {[list(t.shape) for t in model.outputs]}; "
                          "a segment outputs its exit's probabilities as a [1, classes] tensor")
    return probs, [t for t in model.outputs if t is not probs]


def chain_mismatch(producer: list[Tensor], consumer: list[Tensor]) -> str | None:
    """Why a segment's boundary outputs do not chain into the next segment's inputs (shape, quantization), or None."""
    if len(producer) != len(consumer):
        return f"{len(producer)} boundary tensors handed on, {len(consumer)} inputs taken"
    for i, (out, inp) in enumerate(zip(producer, consumer)):
        if tuple(out.shape) != tuple(inp.shape) or (out.scales and out.quant() != inp.quant()):
            return (f"boundary tensor {i}: output {list(out.shape)} {out.quant() if out.scales else ''} but input "
                    f"{list(inp.shape)} {inp.quant() if inp.scales else ''}")
    return None


def packed(model, size_hint: int) -> bytes:
    """A TFLite model read with the object API (schema.ModelT), edited, and written back as bytes."""
    builder = flatbuffers.Builder(size_hint + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def in_signature_order(data: bytes, input_names: list[str]) -> bytes:
    """The model with its graph inputs in the order of input_names and its outputs in the order
    output_0, output_1, ... of its signature (onnx2tf's names for the ONNX outputs, in order)."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    if len(m.signatureDefs or []) != 1:
        raise TinyeeError(f"the converted model has {len(m.signatureDefs or [])} signatures, not one")
    sig = m.signatureDefs[0]

    def by_name(maps):
        return {(t.name.decode() if isinstance(t.name, bytes) else t.name): int(t.tensorIndex) for t in maps or []}

    inputs, outputs = by_name(sig.inputs), by_name(sig.outputs)
    order = [f"output_{i}" for i in range(len(outputs))]
    if sorted(inputs) != sorted(input_names) or sorted(outputs) != sorted(order):
        raise TinyeeError(f"the converted model's signature has inputs {sorted(inputs)} and outputs {sorted(outputs)}, "
                          f"not {input_names} and {order}")
    m.subgraphs[0].inputs = [inputs[n] for n in input_names]
    m.subgraphs[0].outputs = [outputs[n] for n in order]
    return packed(m, len(data))


def replace_scale(data: bytes, old_scale: float, zero_point: int, new_scale: float) -> tuple[bytes, int]:
    """Rewrite every per-tensor quantization (old_scale, zero_point) to new_scale; returns (model, count)."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    count = 0
    for t in m.subgraphs[0].tensors:
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) == 1 and \
                np.float32(q.scale[0]) == np.float32(old_scale) and list(q.zeroPoint) == [zero_point]:
            q.scale = [float(np.float32(new_scale))]
            count += 1
    return packed(m, len(data)), count


def strip_float_edges(data: bytes) -> tuple[bytes, list[str]]:
    """Drop a QUANTIZE that turns a float model input into int8 and a DEQUANTIZE that turns an int8 output
    into float, so the model's inputs and outputs are the int8 tensors (the caller converts at the edges).
    Returns the model and what was dropped."""
    m = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    g = m.subgraphs[0]
    ops = list(g.operators or [])

    def name(op):
        code = m.operatorCodes[op.opcodeIndex]
        return OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode))

    def readers(t):
        return [op for op in ops if t in list(op.inputs)]

    dropped, inputs, outputs = [], list(g.inputs), list(g.outputs)
    for op in list(ops):
        src, dst = int(op.inputs[0]), int(op.outputs[0])
        if name(op) == "QUANTIZE" and src in inputs and g.tensors[src].type == schema.TensorType.FLOAT32 \
                and g.tensors[dst].type == schema.TensorType.INT8 and readers(src) == [op]:
            inputs[inputs.index(src)] = dst
            dropped.append("QUANTIZE of the float input")
            ops.remove(op)
        elif name(op) == "DEQUANTIZE" and dst in outputs and g.tensors[src].type == schema.TensorType.INT8 \
                and g.tensors[dst].type == schema.TensorType.FLOAT32:
            outputs[outputs.index(dst)] = src
            dropped.append("DEQUANTIZE of an int8 output")
            ops.remove(op)
    if not dropped:
        return data, []
    g.operators, g.inputs, g.outputs = ops, inputs, outputs
    return packed(m, len(data)), dropped
