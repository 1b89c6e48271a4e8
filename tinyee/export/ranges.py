"""Activation ranges of the int8 calibration: the converter's min/max, a percentile, or the least-error clip.

TFLiteConverter quantizes in two steps: it records each activation tensor's min and max over the
representative data (its calibrate-only mode), then its quantizer derives every scale and zero point
from those ranges. tinyee runs the two steps itself so that the ranges can come from another estimator
in between. With min/max a handful of outlier activations can stretch a tensor's range several
times, and every other value then lands on a coarser grid; clipping them keeps the grid fine where
the values are, but an outlier that carries the class is then lost. Which wins depends on the model
(measured in README "Quantization"), so min/max stays the default and the others are choices.

The graph inputs keep their min/max: segment k+1's input range must reproduce segment k's output
quantization exactly (the export chains them). Outputs of fixed-range ops (softmax, logistic) get
their fixed quantization from the quantizer whatever range is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyee.errors import TinyeeError
from tinyee.tflite import packed

HISTOGRAM_BINS = 8192  # a bin is 1/32 of the finest int8 step a clipped range can have (range/255)
DEFAULT_PERCENTILE = 99.99


@dataclass(frozen=True)
class RangeEstimator:
    """`minmax` (the converter's own), `percentile` of every activation tensor's values (both tails), or `mse`."""
    kind: str
    percentile: float = DEFAULT_PERCENTILE

    @classmethod
    def parse(cls, text: str) -> "RangeEstimator":
        """'minmax', 'mse', 'percentile' or 'percentile:P' with 50 < P < 100."""
        kind, _, value = text.strip().partition(":")
        if kind in ("minmax", "mse") and not value:
            return cls(kind)
        if kind == "percentile":
            try:
                p = float(value) if value else DEFAULT_PERCENTILE
            except ValueError:
                p = float("nan")
            if not 50 < p < 100:
                raise TinyeeError(f"activation ranges {text!r}: the percentile must be a number in (50, 100)")
            return cls("percentile", p)
        raise TinyeeError(f"unknown activation range estimator {text!r}; use minmax, percentile, percentile:P or mse")

    def __str__(self) -> str:
        return f"percentile:{self.percentile:g}" if self.kind == "percentile" else self.kind


DEFAULT_RANGES = RangeEstimator("minmax")  # no estimator wins on every model: README "Quantization"
# QAT observes moving-average ranges, narrower than the global min/max; exporting its weights with min/max
# undoes part of the fine-tuning (measured: README "Quantization").
AFTER_QAT_RANGES = RangeEstimator("percentile", DEFAULT_PERCENTILE)


def default_ranges(checkpoint_meta: dict) -> RangeEstimator:
    """The estimator an export uses unless told: clipped ranges for a quantization-aware run, else min/max."""
    return AFTER_QAT_RANGES if checkpoint_meta.get("train", {}).get("qat") else DEFAULT_RANGES


def _samples(rep: dict[str, np.ndarray]):
    """One calibration sample at a time, keyed by the SavedModel signature's input names."""
    for n in range(len(next(iter(rep.values())))):
        yield {name: x[n:n + 1].astype(np.float32) for name, x in rep.items()}


def quantize_saved_model(saved_model, rep: dict[str, np.ndarray], estimator: RangeEstimator) -> bytes:
    """A full-integer int8 TFLite model of the SavedModel, its activation ranges from `estimator`;
    rep: calibration samples per signature input."""
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: _samples(rep)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv._experimental_calibrate_only = True  # record the ranges only, as TensorFlow's QuantizationDebugger does
    try:
        calibrated = conv.convert()
        if estimator.kind != "minmax":
            choose = _mse_range if estimator.kind == "mse" else _percentile_range(estimator.percentile)
            calibrated = _with_estimated_ranges(calibrated, rep, choose)
        return mlir_quantize(calibrated, fully_quantize=True, input_data_type=tf.int8, output_data_type=tf.int8)
    except Exception as e:
        raise TinyeeError(f"int8 conversion of {saved_model} failed: {e}") from e


def _percentile_range(percentile: float):
    """[P-th lowest, P-th highest] value, read from the cumulative counts to one bin (rounded outwards)."""
    tail = 1 - percentile / 100

    def choose(counts: np.ndarray, edges: np.ndarray) -> tuple[float, float]:
        cumulative = np.cumsum(counts)
        first = int(np.searchsorted(cumulative, tail * cumulative[-1], side="right"))
        last = int(np.searchsorted(cumulative, (1 - tail) * cumulative[-1], side="left"))
        return float(edges[first]), float(edges[min(last, len(counts) - 1) + 1])

    return choose


MSE_SHRINK = np.linspace(1.0, 0.25, 16)  # candidate fractions of each end of the min/max range


def _mse_range(counts: np.ndarray, edges: np.ndarray) -> tuple[float, float]:
    """The clipped range whose int8 grid (TFLite's asymmetric scheme) has the least squared error on the values."""
    centers = (edges[:-1] + edges[1:]) / 2
    lo, hi = min(float(edges[0]), 0.0), max(float(edges[-1]), 0.0)
    lows, highs = (a.ravel() for a in np.meshgrid(lo * MSE_SHRINK, hi * MSE_SHRINK))
    scale = (highs - lows) / 255
    zero = np.clip(-128 - np.round(lows / scale), -128, 127)
    q = np.clip(np.round(centers[None] / scale[:, None]) + zero[:, None], -128, 127)
    error = ((q - zero[:, None]) * scale[:, None] - centers[None]) ** 2 @ counts
    best = int(np.argmin(error))
    return float(lows[best]), float(highs[best])


def _with_estimated_ranges(calibrated: bytes, rep: dict[str, np.ndarray], choose) -> bytes:
    """The calibrated model with each activation range replaced by choose(histogram counts, bin edges).

    The recorded min/max bound each tensor's values, so one pass over the data fills a fixed-bin
    histogram per tensor between them.
    """
    from ai_edge_litert.interpreter import Interpreter

    model = schema.ModelT.InitFromPackedBuf(bytearray(calibrated), 0)
    graph = model.subgraphs[0]
    inputs = set(int(i) for i in graph.inputs)
    ranged = {i: (float(t.quantization.min[0]), float(t.quantization.max[0]))
              for i, t in enumerate(graph.tensors)
              if i not in inputs and t.type == schema.TensorType.FLOAT32 and t.quantization is not None
              and t.quantization.min is not None and len(t.quantization.min) == 1
              and float(t.quantization.max[0]) > float(t.quantization.min[0])}
    interpreter = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True)
    run = interpreter.get_signature_runner()
    counts = {i: np.zeros(HISTOGRAM_BINS, np.int64) for i in ranged}
    for sample in _samples(rep):
        run(**sample)
        for i, (lo, hi) in ranged.items():
            v = interpreter.get_tensor(i).ravel()
            bins = ((v - lo) * (HISTOGRAM_BINS / (hi - lo))).astype(np.int64).clip(0, HISTOGRAM_BINS - 1)
            counts[i] += np.bincount(bins, minlength=HISTOGRAM_BINS)
    for i, (lo, hi) in ranged.items():
        low, high = choose(counts[i], np.linspace(lo, hi, HISTOGRAM_BINS + 1))
        q = graph.tensors[i].quantization
        q.min, q.max = [min(0.0, low)], [max(0.0, high)]  # the quantizer needs 0 inside every range
    return packed(model, len(calibrated))
