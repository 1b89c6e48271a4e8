"""`tinyee import`: int8 .tflite models that tinyee did not export (TFLM, STM32Cube.AI, Edge Impulse,
MLPerf Tiny) as an export folder with a manifest, so that every later stage takes them.

One file is a single-exit model. Several files are a cascade: every file but the last outputs
its exit's int8 softmax (rank 2) and a feature map that is the next file's input, with the same
shape and quantization; the last outputs its class scores (rank 2). A QUANTIZE of a float input and
a DEQUANTIZE of an output are dropped: the firmware runs int8 inside, and the library converts a
float input with tinyee_quantize_input. Every op and dtype is checked
by the compiler's lowering, so a model tinyee cannot run exactly fails here, naming op and file.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from tinyee.cascade import resolve_thresholds
from tinyee.errors import TinyeeError
from tinyee.manifest import MANIFEST_NAME, Manifest, Preprocess, Segment, TensorSpec, model_id_of, sha256
from tinyee.runtime import SegmentRunner
from tinyee.staging import staged_folder
from tinyee.tflite import TfliteModel, strip_float_edges, with_tflm_quantization

SOFTMAX_QUANT = (1 / 256, -128)


def _image_preprocess(input_spec: TensorSpec, pixel_scale: float) -> Preprocess | None:
    """Images fit a [1, H, H, 1 or 3] input; anything else (audio features, sensor windows) takes no preprocessing."""
    shape = input_spec.shape
    if len(shape) == 4 and shape[1] == shape[2] and shape[3] in (1, 3):
        return Preprocess(shape[1], shape[3], pixel_scale)
    return None


def _check_exit(model: TfliteModel, runner: SegmentRunner, last: bool) -> None:
    probs = runner.probs
    if len(probs.scales) != 1:
        raise TinyeeError(f"{model.name}: output {probs.name!r} is not per-tensor quantized")
    if not last and (float(probs.scales[0]), int(probs.zero_points[0])) != SOFTMAX_QUANT:
        raise TinyeeError(f"{model.name}: an intermediate exit must output an int8 softmax (scale 1/256, zero point "
                          f"-128) for the integer confidence compare; {probs.name!r} has "
                          f"{probs.scales[0]:g}, {probs.zero_points[0]}")
    if last and runner.boundary:
        raise TinyeeError(f"{model.name}: the last model of a cascade outputs only its class scores")
    if not last and not runner.boundary:
        raise TinyeeError(f"{model.name}: a cascade model before the last must also output the feature map "
                          "the next one reads")


def import_tflite(files: list[Path], out: Path, thresholds: list[float] | None = None, criterion: str = "max_softmax",
                  class_names: list[str] | None = None, pixel_scale: float = 1 / 255) -> Manifest:
    """Copy the models into out/segment<k>.tflite, check that tinyee compiles them, and write the manifest."""
    from tinyee.compile import compile_segments

    if not files:
        raise TinyeeError("give at least one .tflite file")
    models, runners, blobs, edges = [], [], [], []
    for path in map(Path, files):
        TfliteModel.load(path)  # a clear error for what is no TFLite model at all
        data, dropped = strip_float_edges(with_tflm_quantization(path.read_bytes()))
        models.append(TfliteModel(data, path.name))
        blobs.append(data)
        edges.append(dropped)
        runners.append(SegmentRunner(data, "tflm", path.name))
    for k, (model, runner) in enumerate(zip(models, runners)):
        _check_exit(model, runner, last=k == len(models) - 1)
    compile_segments(models, "reference")  # refuses any op, dtype or chaining the firmware cannot run exactly
    classes = runners[-1].probs.shape[-1]
    if class_names is not None and len(class_names) != classes:
        raise TinyeeError(f"{len(class_names)} class names for a model with {classes} classes")
    thresholds = resolve_thresholds(thresholds, len(models), criterion)
    with staged_folder(out, MANIFEST_NAME) as stage:
        segments = []
        for k, (path, model, runner, data) in enumerate(zip(files, models, runners, blobs)):
            (stage / f"segment{k}.tflite").write_bytes(data)
            segments.append(Segment(k, f"segment{k}.tflite", sha256(data), len(data),
                                    tuple(map(TensorSpec.of, runner.inputs)), TensorSpec.of(runner.probs),
                                    tuple(map(TensorSpec.of, runner.boundary)), model.op_counts, model.macs, model.param_bytes,
                                    {"imported_from": str(path)} | ({"float_edges_removed": edges[k]} if edges[k] else {})))
        manifest = Manifest(
            model_id=model_id_of(segments),
            model={"name": Path(files[-1]).stem, "imported": [str(Path(f).resolve()) for f in files]},
            class_names=tuple(class_names or (str(i) for i in range(classes))),
            preprocess=_image_preprocess(segments[0].input, pixel_scale), calibration_data="", data_spec="",
            calibration_samples=0, exit_heads=(), criterion=criterion, thresholds=tuple(thresholds),
            segments=tuple(segments), tools={"tinyee": importlib.metadata.version("tinyee")}, export_seconds=0.0)
        manifest.save(stage)
    return manifest
