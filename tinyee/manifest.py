"""The export manifest: the one record every stage after export reads (eval, calibrate, build,
generate, bench), typed and validated here when it is loaded.

The exit rule is stored once, as a criterion and thresholds in its units (probability or nats);
the integer thresholds the firmware compares against are derived from them (tinyee.cascade).
The format is versioned: a manifest of another version, or not a manifest at all, is a clear
error naming the file, never a half-read model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyee.cascade import CRITERIA, threshold_to_q
from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write_text
from tinyee.tflite import TfliteModel, segment_outputs

FORMAT = "tinyee-manifest"
VERSION = 3
READABLE_VERSIONS = (2, 3)  # 2: one input and one feature map per segment, no carry
MANIFEST_NAME = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Reader:
    """Typed access to one JSON object, with errors that name the file and the field."""

    def __init__(self, data, where: str, path: Path):
        if not isinstance(data, dict):
            raise TinyeeError(f"{path}: {where or 'the manifest'} is not a JSON object")
        self.data, self.where, self.path = data, where, path

    def get(self, key: str, kind, default=dataclasses.MISSING):
        if key not in self.data:
            if default is not dataclasses.MISSING:
                return default
            raise TinyeeError(f"{self.path}: {self.where}{key} is missing")
        value = self.data[key]
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind in (int, float, (int, float)))
        if not ok:
            raise TinyeeError(f"{self.path}: {self.where}{key} is {type(value).__name__}, not {_name(kind)}")
        return value

    def numbers(self, key: str) -> list:
        values = self.get(key, list)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise TinyeeError(f"{self.path}: {self.where}{key} must be a list of numbers")
        return values

    def sub(self, key: str) -> "_Reader":
        return _Reader(self.get(key, dict), f"{self.where}{key}.", self.path)

    def items(self, key: str) -> list["_Reader"]:
        return [_Reader(v, f"{self.where}{key}[{i}].", self.path) for i, v in enumerate(self.get(key, list))]


def _name(kind) -> str:
    return " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__


def model_id_of(segments) -> str:
    """A cascade's identity: the hash of its segment files' hashes, in order. Firmware reports it, and
    bench and validate refuse a board that runs another model."""
    return sha256("".join(s.sha256 for s in segments).encode())[:16]


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    @property
    def nbytes(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": "int8", "scale": self.scale,
                "zero_point": self.zero_point}

    @classmethod
    def of(cls, t) -> "TensorSpec":
        """The spec of a tinyee.tflite.Tensor (per-tensor quantized)."""
        return cls(t.name, tuple(int(d) for d in t.shape), float(t.scales[0]), int(t.zero_points[0]))

    @classmethod
    def read(cls, r: _Reader) -> "TensorSpec":
        shape = r.get("shape", list)
        if not all(isinstance(d, int) and d > 0 for d in shape) or r.get("dtype", str) != "int8":
            raise TinyeeError(f"{r.path}: {r.where}shape/dtype is not a positive int8 shape")
        return cls(r.get("name", str), tuple(shape), float(r.get("scale", (int, float))), r.get("zero_point", int))


@dataclass(frozen=True)
class Segment:
    index: int
    file: str
    sha256: str
    tflite_bytes: int
    inputs: tuple[TensorSpec, ...]    # the image (segment 0) or the previous segment's boundary, in order
    probs: TensorSpec
    boundary: tuple[TensorSpec, ...]  # handed to the next segment: the feature map, then any carry (last: none)
    ops: dict[str, int]
    macs: int
    param_bytes: int
    info: dict = field(default_factory=dict)  # export diagnostics: timings, float check, activation bytes

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    def feature(self) -> TensorSpec | None:
        return self.boundary[0] if self.boundary else None

    def to_dict(self) -> dict:
        return {"index": self.index, "file": self.file, "sha256": self.sha256, "tflite_bytes": self.tflite_bytes,
                "inputs": [t.to_dict() for t in self.inputs],
                "outputs": {"probs": self.probs.to_dict(), "boundary": [t.to_dict() for t in self.boundary]},
                "ops": self.ops, "macs": self.macs, "param_bytes": self.param_bytes, **self.info}

    @classmethod
    def read(cls, r: _Reader, version: int) -> "Segment":
        outputs = r.sub("outputs")
        if version == 2:  # one input and at most one feature map
            inputs = (TensorSpec.read(r.sub("input")),)
            boundary = (TensorSpec.read(outputs.sub("feature")),) if "feature" in outputs.data else ()
        else:
            inputs = tuple(TensorSpec.read(t) for t in r.items("inputs"))
            boundary = tuple(TensorSpec.read(t) for t in outputs.items("boundary"))
        if not inputs:
            raise TinyeeError(f"{r.path}: {r.where}inputs is empty")
        known = {"index", "file", "sha256", "tflite_bytes", "input", "inputs", "outputs", "ops", "macs", "param_bytes"}
        return cls(r.get("index", int), r.get("file", str), r.get("sha256", str), r.get("tflite_bytes", int),
                   inputs, TensorSpec.read(outputs.sub("probs")), boundary,
                   r.get("ops", dict), r.get("macs", int), r.get("param_bytes", int),
                   {k: v for k, v in r.data.items() if k not in known})


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the model's float input before int8 quantization: uint8 pixels times
    pixel_scale, fitted to input_size x input_size and the channel count (tinyee.data.to_model_input)."""
    input_size: int
    channels: int
    pixel_scale: float = 1 / 255
    fit: str = "centre zero-pad when smaller, bilinear resize otherwise"
    channel_mapping: str = "grayscale repeated, RGB averaged to one channel"

    @classmethod
    def read(cls, r: _Reader) -> "Preprocess":
        pre = cls(r.get("input_size", int), r.get("channels", int), float(r.get("pixel_scale", (int, float))),
                  r.get("fit", str), r.get("channel_mapping", str))
        if not (pre.input_size > 0 and pre.channels > 0 and math.isfinite(pre.pixel_scale) and pre.pixel_scale > 0):
            raise TinyeeError(f"{r.path}: {r.where}input_size, channels and pixel_scale must be positive")
        return pre


@dataclass(frozen=True)
class Manifest:
    model_id: str
    model: dict                   # name, config (tinyee.model.ModelConfig), checkpoint, checkpoint_sha256
    class_names: tuple[str, ...]  # in label order
    preprocess: Preprocess | None  # None: the input is not an image (an imported model of other data)
    calibration_data: str         # the data the int8 export was calibrated on, as read
    data_spec: str                # where that data set lies ("shipped", a folder, a .npz; "" unknown): the
                                  # default data of eval, calibrate, bench and profile
    calibration_samples: int
    exit_heads: tuple[dict, ...]
    criterion: str
    thresholds: tuple[float, ...]  # one per intermediate exit, in the criterion's units
    segments: tuple[Segment, ...]
    tools: dict
    export_seconds: float
    activation_ranges: str = "minmax"  # how the int8 calibration estimated activation ranges (tinyee.export.ranges)

    def __post_init__(self):
        if self.criterion not in CRITERIA:
            raise TinyeeError(f"unknown exit criterion {self.criterion!r}; choose one of {', '.join(CRITERIA)}")
        if len(self.thresholds) != len(self.segments) - 1:
            raise TinyeeError(f"{len(self.thresholds)} thresholds for {len(self.segments) - 1} intermediate exits")
        if [s.index for s in self.segments] != list(range(len(self.segments))) or not self.segments:
            raise TinyeeError("segments must be numbered 0, 1, ... in order")
        for t in self.thresholds:
            threshold_to_q(t, self.criterion)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_exits(self) -> int:
        return len(self.segments)

    @property
    def input(self) -> TensorSpec:
        return self.segments[0].input

    @property
    def thresholds_q(self) -> list[int]:
        """The integer thresholds the firmware and the host cascade compare scores against."""
        return [threshold_to_q(t, self.criterion) for t in self.thresholds]

    @property
    def macs(self) -> int:
        return sum(s.macs for s in self.segments)

    @property
    def param_bytes(self) -> int:
        return sum(s.param_bytes for s in self.segments)

    def with_thresholds(self, thresholds: list[float], criterion: str | None = None) -> "Manifest":
        return dataclasses.replace(self, thresholds=tuple(float(t) for t in thresholds),
                                   criterion=criterion or self.criterion)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "model_id": self.model_id, "model": self.model,
                "data": {"classes": list(self.class_names),
                         "preprocess": dataclasses.asdict(self.preprocess) if self.preprocess else None,
                         "calibration": self.calibration_data, "spec": self.data_spec,
                         "calibration_samples": self.calibration_samples,
                         "activation_ranges": self.activation_ranges},
                "exit_heads": list(self.exit_heads), "criterion": self.criterion,
                "thresholds": list(self.thresholds), "segments": [s.to_dict() for s in self.segments],
                "tools": self.tools, "export_seconds": self.export_seconds}

    @classmethod
    def from_dict(cls, data, path: Path) -> "Manifest":
        r = _Reader(data, "", path)
        fmt, version = data.get("format"), data.get("version")
        if fmt == "tinyee-manifest-v1":
            raise TinyeeError(f"{path} was written by an older tinyee (manifest v1); re-run `tinyee export`")
        if fmt != FORMAT:
            raise TinyeeError(f"{path} is not a tinyee manifest (format {fmt!r}, expected {FORMAT!r})")
        if version not in READABLE_VERSIONS:
            raise TinyeeError(f"{path} is manifest version {version!r}; this tinyee reads versions "
                              f"{', '.join(map(str, READABLE_VERSIONS))}")
        d = r.sub("data")
        classes = d.get("classes", list)
        if not classes or not all(isinstance(c, str) for c in classes):
            raise TinyeeError(f"{path}: data.classes must be a non-empty list of class names")
        try:
            pre = Preprocess.read(d.sub("preprocess")) if d.data.get("preprocess") is not None else None
            return cls(r.get("model_id", str), r.get("model", dict), tuple(classes), pre,
                       d.get("calibration", str), d.get("spec", str), d.get("calibration_samples", int),
                       tuple(h.data for h in r.items("exit_heads")), r.get("criterion", str),
                       tuple(float(t) for t in r.numbers("thresholds")),
                       tuple(Segment.read(s, version) for s in r.items("segments")), r.get("tools", dict),
                       float(r.get("export_seconds", (int, float))), d.get("activation_ranges", str, "minmax"))
        except TinyeeError as e:
            raise TinyeeError(f"{path}: {e}" if str(path) not in str(e) else str(e)) from e

    @classmethod
    def load(cls, export_dir: Path) -> "Manifest":
        """Read and verify an export's manifest: format and version, types, and every segment file present
        with its recorded hash."""
        export_dir = Path(export_dir)
        path = export_dir / MANIFEST_NAME
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise TinyeeError(f"no {MANIFEST_NAME} in {export_dir}; run `tinyee export` first") from e
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TinyeeError(f"{path} is not a readable manifest: {e}") from e
        manifest = cls.from_dict(data, path)
        for seg in manifest.segments:
            f = export_dir / seg.file
            if Path(seg.file).name != seg.file or not f.is_file():
                raise TinyeeError(f"segment file {f} listed in {path} is missing")
            data = f.read_bytes()
            if sha256(data) != seg.sha256:
                raise TinyeeError(f"segment file {f} does not match the hash in {path}; re-run `tinyee export`")
            manifest._check_against(seg, TfliteModel(data, str(f)), path)
        if manifest.model_id != model_id_of(manifest.segments):
            raise TinyeeError(f"{path}: model_id {manifest.model_id!r} is not the one of its segment files "
                              f"({model_id_of(manifest.segments)}); re-run `tinyee export` (or `tinyee import`)")
        return manifest

    def _check_against(self, seg: Segment, model: TfliteModel, path: Path) -> None:
        """The manifest's copy of a segment's interface and costs must be the file's: the file is hashed,
        the manifest is text anyone can edit."""
        def differs(field: str, said, actual) -> TinyeeError:
            return TinyeeError(f"{path}: segments[{seg.index}].{field} is {said}, but {seg.file} has {actual}; "
                               "re-run `tinyee export` (or `tinyee import`)")

        probs, boundary = segment_outputs(model)
        if len(seg.inputs) != len(model.inputs) or len(seg.boundary) != len(boundary):
            raise differs("inputs/outputs.boundary (counts)", [len(seg.inputs), len(seg.boundary)],
                          [len(model.inputs), len(boundary)])
        for what, spec, tensor in ([(f"inputs[{i}]", s, t) for i, (s, t) in enumerate(zip(seg.inputs, model.inputs))]
                                   + [("outputs.probs", seg.probs, probs)]
                                   + [(f"outputs.boundary[{i}]", s, t)
                                      for i, (s, t) in enumerate(zip(seg.boundary, boundary))]):
            actual = None if not tensor.scales else [
                list(tensor.shape), float(np.float32(tensor.scales[0])), tensor.zero_points[0]]
            if actual != [list(spec.shape), float(np.float32(spec.scale)), spec.zero_point]:
                said = [list(spec.shape), spec.scale, spec.zero_point]
                raise differs(f"{what} (shape, scale, zero point)", said, actual or "no quantization")
        if seg.macs != model.macs or seg.param_bytes != model.param_bytes:
            raise differs("macs/param_bytes", [seg.macs, seg.param_bytes], [model.macs, model.param_bytes])
        if seg.probs.shape[-1] != self.num_classes:
            raise TinyeeError(f"{path}: {self.num_classes} class names, but segment {seg.index} has "
                              f"{seg.probs.shape[-1]} outputs")
        pre, shape = self.preprocess, seg.input.shape
        if seg.index == 0 and pre is not None and (len(shape) != 4 or shape[1:] != (pre.input_size, pre.input_size,
                                                                                     pre.channels)):
            raise TinyeeError(f"{path}: data.preprocess gives {pre.input_size}x{pre.input_size}x{pre.channels} "
                              f"images, but the model's input is {list(shape)}")

    def save(self, export_dir: Path) -> Path:
        """Write atomically: a reader never sees a half-written manifest."""
        path = Path(export_dir) / MANIFEST_NAME
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path
