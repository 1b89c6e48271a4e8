"""`tinyee import`: int8 .tflite files tinyee did not export, as an export folder every later command takes."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import parse_floats, result
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest


def _class_names(spec: str | None) -> list[str] | None:
    """Comma-separated names, or a text file with one name per line."""
    if spec is None:
        return None
    path = Path(spec)
    if path.is_file():
        try:
            return [line.strip() for line in path.read_text().splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            raise TinyeeError(f"cannot read class names from {path}: {e}") from e
    return [name.strip() for name in spec.split(",")]


def run(files: list[Path], out: Path, thresholds: str | None, criterion: str, classes: str | None,
        pixel_scale: float) -> Manifest:
    from tinyee.export.importer import import_tflite

    manifest = import_tflite(list(files), out, parse_floats(thresholds), criterion, _class_names(classes), pixel_scale)
    for s in manifest.segments:
        result(f"  {s.file} (from {s.info['imported_from']}): {s.macs / 1e6:.2f} M MACs, "
                  f"{s.param_bytes / 1024:.1f} KiB weights, in {list(s.input.shape)} "
                  f"(scale {s.input.scale:.6g}, zp {s.input.zero_point}), ops {s.ops}")
    kind = "image" if manifest.preprocess else "non-image (no preprocessing: use --data random)"
    result(f"imported model {manifest.model_id} ({manifest.num_exits} exit(s), {manifest.num_classes} classes, "
              f"{kind} input) into {out}")
    return manifest
