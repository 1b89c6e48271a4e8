"""One segment: torch -> ONNX -> onnx2tf (SavedModel, NHWC) -> full-integer int8 TFLite.

Sample data is passed as one array per segment input, in TFLite's layout (feature maps NHWC,
a carry [N, K] as is), keyed by the segment's input names; the int8 model's graph inputs and
outputs are put in the segment's order (inputs as named, outputs: probabilities, feature map,
carry), which the runtimes and the compiler rely on.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from tinyee.errors import TinyeeError
from tinyee.export.ranges import RangeEstimator, quantize_saved_model
from tinyee.native_output import native_output_captured
from tinyee.compile.ops import SUPPORTED_OPS as FIRMWARE_INT8_OPS
from tinyee.tflite import TfliteModel, in_signature_order, segment_outputs

ONNX_OPSET = 17
# onnx2tf runs a dummy inference on 3-channel 4-D inputs with sample images it would fetch from
# GitHub unless this file is in its working directory; tinyee writes it from its own calibration data.
ONNX2TF_SAMPLE_FILE = "calibration_image_sample_data_20x128x128x3_float32.npy"
FLOAT_CHECK_TOLERANCE = 1e-3


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _to_torch(x: np.ndarray) -> torch.Tensor:
    """A TFLite-layout array as the torch segment takes it (feature maps NHWC -> NCHW)."""
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x))


def _to_tflite(t: torch.Tensor) -> np.ndarray:
    x = t.numpy()
    return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x


def torch_to_onnx(segment: torch.nn.Module, samples: dict[str, np.ndarray], path: Path) -> None:
    sample = tuple(_to_torch(x[:1]) for x in samples.values())
    try:
        # The TorchScript exporter is deprecated but converts these models cleanly through onnx2tf.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(segment.eval(), sample, str(path), dynamo=False, opset_version=ONNX_OPSET,
                              input_names=list(samples), output_names=segment.output_names)
    except Exception as e:  # the exporter raises many types for unsupported layers
        raise TinyeeError(f"ONNX export of {path.stem} failed (unsupported layer?): {e}") from e


def onnx_to_saved_model(onnx_path: Path, out_dir: Path, rep_nhwc: np.ndarray) -> Path:
    """rep_nhwc: samples of the first input (onnx2tf's dummy inference wants images)."""
    with native_output_captured():
        import onnx2tf  # imports TensorFlow, which registers its CUDA plugins noisily

    workdir = out_dir.parent
    if rep_nhwc.ndim == 4 and rep_nhwc.shape[-1] == 3:
        reps = np.resize(rep_nhwc, (20,) + rep_nhwc.shape[1:])
        scale = (128 + rep_nhwc.shape[1] - 1) // rep_nhwc.shape[1]
        big = reps.repeat(scale, axis=1).repeat(scale, axis=2)[:, :128, :128]
        np.save(workdir / ONNX2TF_SAMPLE_FILE, np.ascontiguousarray(big, dtype=np.float32))
    try:
        with _cwd(workdir), native_output_captured(), contextlib.redirect_stdout(io.StringIO()) as log:
            # onnx2tf runs the `onnxsim` command when it finds one on PATH (an activated venv has it),
            # which merged q/k/v into one matrix product and slices and raised the shipped model's arena by
            # 27%: off, so the same checkpoint always exports the same segments.
            onnx2tf.convert(input_onnx_file_path=str(onnx_path), output_folder_path=str(out_dir),
                            non_verbose=True, output_signaturedefs=True, not_use_onnxsim=True)
    except (Exception, SystemExit) as e:  # onnx2tf calls sys.exit(1) on some failures
        raise TinyeeError(f"onnx2tf could not convert {onnx_path.name}: {e!r}\n{log.getvalue()[-3000:]}") from e
    return out_dir


def check_float_conversion(segment: torch.nn.Module, float_tflite: Path, samples: dict[str, np.ndarray]) -> float:
    """Max abs difference between torch and onnx2tf's float32 TFLite over every output: catches layout mistakes."""
    from ai_edge_litert.interpreter import Interpreter

    with native_output_captured():
        run = Interpreter(model_path=str(float_tflite)).get_signature_runner()
        run(**{name: x[:1].astype(np.float32) for name, x in samples.items()})  # LiteRT announces its delegate
    worst = 0.0
    for n in range(len(next(iter(samples.values())))):
        got = run(**{name: x[n:n + 1].astype(np.float32) for name, x in samples.items()})
        with torch.no_grad():
            ref = segment(*(_to_torch(x[n:n + 1]) for x in samples.values()))
        for name, r in zip(segment.output_names, (ref,) if segment.is_last else ref, strict=True):
            worst = max(worst, float(np.abs(got[name] - _to_tflite(r)).max()))
    if worst > FLOAT_CHECK_TOLERANCE:
        raise TinyeeError(f"{float_tflite.name}: onnx2tf's float model differs from PyTorch by {worst:.3g} "
                          f"(> {FLOAT_CHECK_TOLERANCE}); the conversion changed the function")
    return worst


def saved_model_to_int8(saved_model: Path, rep: dict[str, np.ndarray], ranges: RangeEstimator) -> bytes:
    """The int8 model, its graph inputs in rep's order and its outputs in the ONNX model's order."""
    with native_output_captured():
        return in_signature_order(quantize_saved_model(saved_model, rep, ranges), list(rep))


def check_int8_segment(model: TfliteModel, allowed_ops=FIRMWARE_INT8_OPS) -> None:
    """Every op must be one the firmware implements, and every activation tensor int8."""
    for op in model.ops:
        if op.name not in allowed_ops:
            raise TinyeeError(
                f"{model.name}: op #{op.index} {op.name} is not supported by tinyee's int8 firmware kernels "
                f"(supported: {', '.join(sorted(allowed_ops))})"
            )
        for i in op.inputs + op.outputs:
            t = model.tensors[i] if i >= 0 else None
            if t is not None and not t.is_const and t.dtype != np.int8:
                raise TinyeeError(f"{model.name}: op #{op.index} {op.name} tensor {t.name!r} is "
                                  f"{np.dtype(t.dtype).name}, not int8 (full-integer conversion failed)")
    if segment_outputs(model)[0].quant() != {"scale": 1 / 256, "zero_point": -128}:
        raise TinyeeError(f"{model.name}: the exit output must be an int8 softmax with scale 1/256, zero point -128")
