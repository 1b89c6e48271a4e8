"""Export a multi-exit model as one int8 TFLite model per exit segment, plus a manifest.

Segment k+1 is calibrated on segment k's *dequantized int8* output (computed with the TFLM
reference runtime), so its input scale/zero point equal segment k's output ones; the export
checks that equality and fails if it does not hold, rather than requantizing silently.
Everything is written to a scratch directory that replaces the target only on success.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from tinyee.cascade import resolve_thresholds
from tinyee.data import ImageSet, to_model_input
from tinyee.errors import TinyeeError
from tinyee.export.convert import (
    check_float_conversion, check_int8_segment, onnx_to_saved_model, saved_model_to_int8, torch_to_onnx,
)
from tinyee.export.ranges import DEFAULT_RANGES, RangeEstimator, default_ranges
from tinyee.manifest import MANIFEST_NAME, Manifest, Preprocess, Segment, TensorSpec, model_id_of, sha256
from tinyee.model import MultiExitMobileViT, load_checkpoint
from tinyee.model.costs import head_costs
from tinyee.runtime import SegmentRunner, dequantize, quantize
from tinyee.staging import staged_folder
from tinyee.tflite import TfliteModel, replace_scale

FLOAT_CHECK_SAMPLES = 8
TOOLS = ("torch", "onnx", "onnx2tf", "tensorflow", "tflite-micro")


def _segment(k: int, file: str, data: bytes, tfl: TfliteModel, runner: SegmentRunner, info: dict) -> Segment:
    return Segment(
        k, file, sha256(data), len(data), tuple(map(TensorSpec.of, runner.inputs)), TensorSpec.of(runner.probs),
        tuple(map(TensorSpec.of, runner.boundary)), tfl.op_counts, tfl.macs, tfl.param_bytes, info | {
            "activation_bytes": {"input": sum(t.nbytes for t in runner.inputs),
                                 "outputs": sum(t.nbytes for t in tfl.outputs),
                                 "peak_op": tfl.peak_op_activation_bytes}})


def _next_representative(rep: dict[str, np.ndarray], runner: SegmentRunner) -> list[np.ndarray]:
    """Calibration data for the next segment, per boundary tensor: exactly what the device hands it, dequantized.

    The int8 outputs seldom reach -128 and 127 themselves, and the converter derives the next
    input's scale from the observed range; one extra sample (a copy of the first with one
    element at each end of the int8 range, values the boundary tensor can carry) makes the
    observed range the representable one, so the derived scale/zero point equal the producer's.
    """
    xs_q = [quantize(x, t.scales[0], t.zero_points[0]) for x, t in zip(rep.values(), runner.inputs)]
    outs = [runner.run(tuple(x[n] for x in xs_q))[1] for n in range(len(xs_q[0]))]
    reps = []
    for i, t in enumerate(runner.boundary):
        q = np.stack([o[i] for o in outs]).reshape((len(outs),) + tuple(t.shape[1:]))
        anchor = q[:1].copy()
        anchor.reshape(-1)[:2] = (-128, 127)
        reps.append(dequantize(np.concatenate([q, anchor]), t.scales[0], t.zero_points[0]))
    return reps


SCALE_ALIGN_TOLERANCE = 1e-5  # relative: float32 rounding in the converter, never a real rescaling


def _chain_inputs(data: bytes, producer: list, name: str, k: int) -> tuple[bytes, list[float]]:
    """Make each of segment k's inputs quantized as segment k-1's boundary tensor it receives, or fail.

    The converter derives an input scale from the calibration range in float arithmetic and can
    land a few float32 ulps away from the producer's scale. Such a difference is aligned by
    rewriting the scale (on the input and the tensors that share its quantization) to the
    producer's exact value; any larger difference, or another zero point, fails the export.
    Returns the model and the scales it replaced.
    """
    aligned = []
    for i, want in enumerate(producer):
        got = TfliteModel(data, f"{name}.tflite").inputs[i]
        if tuple(got.shape) != tuple(want.shape):
            raise TinyeeError(f"{name}: input {i} shape {list(got.shape)} does not chain with segment{k - 1}'s "
                              f"boundary tensor {list(want.shape)}")
        if got.quant() == want.quant():
            continue
        rel = abs(got.scales[0] - want.scales[0]) / want.scales[0]
        if got.zero_points != want.zero_points or rel > SCALE_ALIGN_TOLERANCE:
            raise TinyeeError(f"{name}: input {i} quantization {got.quant()} does not chain with segment{k - 1}'s "
                              f"boundary output {want.quant()} (relative scale difference {rel:.2e})")
        data, _ = replace_scale(data, got.scales[0], got.zero_points[0], want.scales[0])
        aligned.append(float(np.float32(got.scales[0])))
    return data, aligned


def export_model(model: MultiExitMobileViT, rep_nchw: np.ndarray, out_dir: Path, thresholds: list[float],
                 checkpoint: dict | None = None, dataset: ImageSet | None = None,
                 progress: Callable[[str], None] = lambda msg: None, criterion: str = "max_softmax",
                 ranges: RangeEstimator = DEFAULT_RANGES) -> Manifest:
    """Write out_dir/{segment<k>.tflite, segment<k>.onnx, manifest.json}; return the manifest.

    checkpoint: where the model came from ({"checkpoint": path, "checkpoint_sha256": ...}), if a file;
    dataset: the data set rep_nchw was drawn from (its class names and where it lies go into the manifest);
    ranges: how each activation tensor's int8 range is estimated from the calibration data.
    """
    cfg = model.cfg
    if len(thresholds) != cfg.num_exits - 1:
        raise TinyeeError(f"{len(thresholds)} thresholds for {cfg.num_exits - 1} intermediate exits")
    out_dir = Path(out_dir).resolve()  # onnx2tf runs in another working directory
    with staged_folder(out_dir, MANIFEST_NAME) as scratch:
        reps = [np.ascontiguousarray(rep_nchw.transpose(0, 2, 3, 1), dtype=np.float32)]  # NHWC float
        segments, producer = [], []
        t_all = time.time()
        for k, seg in enumerate(s.for_export() for s in model.segments()):
            t0 = time.time()
            name = f"segment{k}"
            rep = dict(zip(seg.input_names, reps, strict=True))  # what segment k-1 hands on, by input name
            progress(f"{name}: torch -> ONNX -> onnx2tf")
            work = scratch / f"{name}.work"
            work.mkdir()
            onnx_path = scratch / f"{name}.onnx"
            torch_to_onnx(seg, rep, onnx_path)
            saved = onnx_to_saved_model(onnx_path, work / "saved_model", reps[0])
            float_err = check_float_conversion(seg, saved / f"{name}_float32.tflite",
                                               {n: x[:FLOAT_CHECK_SAMPLES] for n, x in rep.items()})
            progress(f"{name}: int8 calibration on {len(reps[0])} samples ({ranges} ranges)")
            data = saved_model_to_int8(saved, rep, ranges)
            check_int8_segment(TfliteModel(data, f"{name}.tflite"))
            data, aligned = _chain_inputs(data, producer, name, k)
            tfl = TfliteModel(data, f"{name}.tflite")
            runner = SegmentRunner(data, "tflm", f"{name}.tflite")
            (scratch / f"{name}.tflite").write_bytes(data)
            shutil.rmtree(work)
            if runner.boundary:
                reps, producer = _next_representative(rep, runner), runner.boundary
            info = {"float_check_max_abs_error": float_err, "export_seconds": round(time.time() - t0, 2)}
            if aligned:
                info["input_scale_aligned_from"] = aligned
            segments.append(_segment(k, f"{name}.tflite", data, tfl, runner, info))
        names = list(dataset.classes) if dataset is not None and len(dataset.classes) == cfg.num_classes else \
            [str(i) for i in range(cfg.num_classes)]
        manifest = Manifest(
            model_id=model_id_of(segments),
            model=json.loads(json.dumps({"name": cfg.name, "config": cfg.to_dict(), **(checkpoint or {})})),
            class_names=tuple(names), preprocess=Preprocess(cfg.input_size, cfg.in_channels),
            calibration_data=dataset.source if dataset is not None else "",
            data_spec=dataset.spec if dataset is not None else "",
            calibration_samples=int(len(rep_nchw)), activation_ranges=str(ranges),
            exit_heads=tuple(head_costs(model)), criterion=criterion, thresholds=tuple(thresholds),
            segments=tuple(segments), tools={t: importlib.metadata.version(t) for t in TOOLS},
            export_seconds=round(time.time() - t_all, 1))
        manifest.save(scratch)
    return manifest


def export_checkpoint(checkpoint: Path, rep_set: ImageSet, out_dir: Path, thresholds: list[float] | None = None,
                      progress: Callable[[str], None] = lambda msg: None, criterion: str = "max_softmax",
                      ranges: RangeEstimator | None = None) -> Manifest:
    """Export a checkpoint file, calibrating on rep_set (thresholds as :func:`resolve_thresholds` takes them);
    ranges: None for the default of the checkpoint (:func:`tinyee.export.ranges.default_ranges`)."""
    checkpoint = Path(checkpoint)
    model, meta = load_checkpoint(checkpoint)
    cfg = model.cfg
    x = to_model_input(rep_set.images, cfg.input_size, cfg.in_channels).numpy()
    origin = {"checkpoint": str(checkpoint), "checkpoint_sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest()}
    return export_model(model, x, out_dir, resolve_thresholds(thresholds, cfg.num_exits, criterion), origin,
                        rep_set, progress, criterion, ranges or default_ranges(meta))
