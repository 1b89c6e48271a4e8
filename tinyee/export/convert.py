"""One segment: torch -> ONNX -> onnx2tf (SavedModel, NHWC) -> full-integer int8 TFLite."""

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
from tinyee.tflite import TfliteModel

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


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def torch_to_onnx(segment: torch.nn.Module, sample_nhwc: np.ndarray, path: Path) -> None:
    outputs = ["probs"] if segment.is_last else ["probs", "feature"]
    sample = _nchw(sample_nhwc[:1])
    try:
        # The TorchScript exporter is deprecated but converts these models cleanly through onnx2tf.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(segment.eval(), (sample,), str(path), dynamo=False,
                              opset_version=ONNX_OPSET, input_names=["input"], output_names=outputs)
    except Exception as e:  # the exporter raises many types for unsupported layers
        raise TinyeeError(f"ONNX export of {path.stem} failed (unsupported layer?): {e}") from e


def onnx_to_saved_model(onnx_path: Path, out_dir: Path, rep_nhwc: np.ndarray) -> Path:
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
            onnx2tf.convert(input_onnx_file_path=str(onnx_path), output_folder_path=str(out_dir),
                            non_verbose=True, output_signaturedefs=True)
    except (Exception, SystemExit) as e:  # onnx2tf calls sys.exit(1) on some failures
        raise TinyeeError(f"onnx2tf could not convert {onnx_path.name}: {e!r}\n{log.getvalue()[-3000:]}") from e
    return out_dir


def check_float_conversion(segment: torch.nn.Module, float_tflite: Path, samples_nhwc: np.ndarray) -> float:
    """Max abs difference between torch and onnx2tf's float32 TFLite: catches layout mistakes."""
    from ai_edge_litert.interpreter import Interpreter

    with native_output_captured():
        it = Interpreter(model_path=str(float_tflite))
        it.allocate_tensors()
    inp, outs = it.get_input_details()[0], it.get_output_details()
    worst = 0.0
    for x in samples_nhwc:
        it.set_tensor(inp["index"], x[None].astype(np.float32))
        it.invoke()
        got = {len(d["shape"]): it.get_tensor(d["index"]) for d in outs}
        with torch.no_grad():
            ref = segment(_nchw(x[None]))
        ref = (ref,) if segment.is_last else ref
        worst = max(worst, float(np.abs(got[2] - ref[0].numpy()).max()))
        if not segment.is_last:
            worst = max(worst, float(np.abs(got[4] - ref[1].numpy().transpose(0, 2, 3, 1)).max()))
    if worst > FLOAT_CHECK_TOLERANCE:
        raise TinyeeError(f"{float_tflite.name}: onnx2tf's float model differs from PyTorch by {worst:.3g} "
                          f"(> {FLOAT_CHECK_TOLERANCE}); the conversion changed the function")
    return worst


def saved_model_to_int8(saved_model: Path, rep_nhwc: np.ndarray, ranges: RangeEstimator) -> bytes:
    with native_output_captured():
        return quantize_saved_model(saved_model, rep_nhwc, ranges)


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
    probs = [t for t in model.outputs if len(t.shape) == 2]
    if len(probs) != 1 or probs[0].quant() != {"scale": 1 / 256, "zero_point": -128}:
        raise TinyeeError(f"{model.name}: the exit output must be one int8 softmax with scale 1/256, zero point -128")
