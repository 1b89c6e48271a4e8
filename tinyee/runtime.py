"""Host int8 runtimes for exported segments.

``tflm`` (the tflite-micro wheel's interpreter, TFLite Micro's reference kernels) is the
reference the firmware must match bit for bit; ``litert`` (LiteRT with its reference op
resolver) is a second opinion. Both take and return raw int8 tensors.
"""

from __future__ import annotations

import numpy as np

from tinyee.compile.lower import lower
from tinyee.errors import TinyeeError, first_line
from tinyee.native_output import native_output_captured
from tinyee.tflite import TfliteModel

BACKENDS = ("tflm", "litert")


def quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float -> int8 as TFLite's QUANTIZE does: round half away from zero, add the zero point, clamp."""
    v = np.asarray(x, np.float32) / np.float32(scale)
    q = np.trunc(v.astype(np.float64) + np.copysign(0.5, v)) + zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


class SegmentRunner:
    """One int8 segment on a host runtime: run(int8 input) -> (int8 probs [C], int8 feature or None)."""

    def __init__(self, model_bytes: bytes, backend: str = "tflm", name: str = "<segment>"):
        self.model = TfliteModel(model_bytes, name)
        if len(self.model.inputs) != 1:
            raise TinyeeError(f"{name}: a segment has one input, found {len(self.model.inputs)}")
        # Outputs are told apart by rank: [1, classes] probabilities, [1, H, W, C] feature map.
        ranks = [len(t.shape) for t in self.model.outputs]
        if sorted(ranks) not in ([2], [2, 4]):
            raise TinyeeError(f"{name}: outputs of ranks {ranks}; expected probabilities (rank 2) and "
                              "optionally a feature map (rank 4)")
        self.probs_index = ranks.index(2)
        self.feature_index = ranks.index(4) if 4 in ranks else None
        self.input = self.model.inputs[0]
        self.probs = self.model.outputs[self.probs_index]
        self.feature = self.model.outputs[self.feature_index] if self.feature_index is not None else None
        self.backend = backend
        lower(self.model)  # only what the firmware can run, and nothing inconsistent, reaches an interpreter
        with native_output_captured():  # LiteRT announces its delegates on stderr
            try:
                self._open(model_bytes, backend, name)
            except (RuntimeError, ValueError, MemoryError, UnicodeDecodeError) as e:
                raise TinyeeError(f"{name}: the {backend} interpreter refused the model: {first_line(e)}") from None

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
            self._in = self._it.get_input_details()[0]["index"]
            self._out = [d["index"] for d in self._it.get_output_details()]
        else:
            raise TinyeeError(f"unknown runtime {backend!r}; choose one of {BACKENDS}")

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(self.input.shape)
        try:
            outs = self._invoke(x)
        except (RuntimeError, ValueError) as e:
            raise TinyeeError(f"{self.model.name}: the {self.backend} interpreter failed: {first_line(e)}") from None
        feature = outs[self.feature_index].copy() if self.feature_index is not None else None
        return outs[self.probs_index].reshape(-1).copy(), feature

    def _invoke(self, x: np.ndarray) -> list[np.ndarray]:
        if self.backend == "tflm":
            self._it.set_input(x, 0)
            self._it.invoke()
            return [self._it.get_output(i) for i in range(len(self.model.outputs))]
        self._it.set_tensor(self._in, x)
        self._it.invoke()
        return [self._it.get_tensor(i) for i in self._out]

