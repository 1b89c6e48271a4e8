"""Host int8 runtimes for exported segments.

``tflm`` (the tflite-micro wheel's interpreter, TFLite Micro's reference kernels) is the
reference the firmware must match bit for bit; ``litert`` (LiteRT with its reference op
resolver) is a second opinion. Both take and return raw int8 tensors.
"""

from __future__ import annotations

import numpy as np

from tinyee.compile.lower import lower
from tinyee.crash_guard import run_in_child
from tinyee.errors import TinyeeError, first_line
from tinyee.native_output import native_output_captured
from tinyee.tflite import TfliteModel, segment_outputs

BACKENDS = ("tflm", "litert")


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 as TFLite's QUANTIZE does: round half away from zero, add the zero point, clamp."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    q = np.trunc(v.astype(np.float64) + np.copysign(0.5, v)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


class SegmentRunner:
    """One int8 segment on a host runtime: run(int8 inputs) -> (int8 probs [C], int8 boundary tensors).

    The boundary (the feature map, then any carry; empty for the last segment) is what the next
    segment's run takes as its inputs (tinyee.tflite.segment_outputs).
    """

    def __init__(self, model_bytes: bytes, backend: str = "tflm", name: str = "<segment>"):
        self.model = TfliteModel(model_bytes, name)
        if not self.model.inputs:
            raise TinyeeError(f"{name}: the model has no input")
        self.probs, self.boundary = segment_outputs(self.model)
        self.inputs = self.model.inputs
        self.input = self.inputs[0]
        self._order = [self.model.outputs.index(t) for t in [self.probs, *self.boundary]]
        self.backend = backend
        lower(self.model)  # only what the firmware can run, and nothing inconsistent, reaches an interpreter
        with native_output_captured():  # LiteRT announces its delegates on stderr
            try:
                run_in_child(lambda: self._probe(model_bytes, backend, name), f"{name}: the {backend} interpreter")
                self._open(model_bytes, backend, name)
            except (RuntimeError, ValueError, MemoryError, UnicodeDecodeError) as e:
                raise TinyeeError(f"{name}: the {backend} interpreter refused the model: {first_line(e)}") from None

    def _probe(self, model_bytes: bytes, backend: str, name: str) -> None:
        """Open the interpreter and run it once on zero inputs."""
        self._open(model_bytes, backend, name)
        self._invoke([np.zeros(t.shape, np.int8) for t in self.inputs])

    def _open(self, model_bytes: bytes, backend: str, name: str) -> None:
        if backend == "tflm":
            from tflite_micro.python.tflite_micro import runtime

            arena = 2 * sum(t.nbytes for t in self.model.tensors if not t.is_const) + 64 * 1024
            self._it = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena)
        elif backend == "litert":
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            self._it = Interpreter(model_content=model_bytes,
                                   experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
            self._it.allocate_tensors()
            self._in = [d["index"] for d in self._it.get_input_details()]
            self._out = [d["index"] for d in self._it.get_output_details()]
        else:
            raise TinyeeError(f"unknown runtime {backend!r}; choose one of {BACKENDS}")

    def run(self, inputs: np.ndarray | tuple[np.ndarray, ...]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """inputs: the input tensor, or a tuple with one array per input (a previous run's boundary)."""
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        if len(inputs) != len(self.inputs):
            raise TinyeeError(f"{self.model.name}: {len(inputs)} input tensors given for {len(self.inputs)} inputs")
        xs = [np.ascontiguousarray(x, dtype=np.int8).reshape(t.shape) for x, t in zip(inputs, self.inputs)]
        try:
            outs = self._invoke(xs)
        except (RuntimeError, ValueError) as e:
            raise TinyeeError(f"{self.model.name}: the {self.backend} interpreter failed: {first_line(e)}") from None
        probs, *boundary = (outs[i].copy() for i in self._order)
        return probs.reshape(-1), tuple(boundary)

    def _invoke(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        if self.backend == "tflm":
            for i, x in enumerate(xs):
                self._it.set_input(x, i)
            self._it.invoke()
            return [self._it.get_output(i) for i in range(len(self.model.outputs))]
        for index, x in zip(self._in, xs):
            self._it.set_tensor(index, x)
        self._it.invoke()
        return [self._it.get_tensor(i) for i in self._out]

