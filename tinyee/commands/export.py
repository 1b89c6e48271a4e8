"""`tinyee export`: one full-integer int8 TFLite model per exit segment, and the manifest."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import log, parse_floats, result
from tinyee.fileio import check_writable
from tinyee.manifest import Manifest


def run(checkpoint: Path, out: Path, rep: str, rep_samples: int | None, thresholds: str | None,
        criterion: str = "max_softmax", ranges: str | None = None) -> Manifest:
    from tinyee.data import load_split
    from tinyee.export import export_checkpoint
    from tinyee.export.ranges import RangeEstimator

    check_writable(out)
    values = parse_floats(thresholds)  # bad values fail before any work
    estimator = RangeEstimator.parse(ranges) if ranges is not None else None  # None: the checkpoint's default
    rep_set = load_split(rep, "rep", rep_samples)
    with log.status("exporting") as status:
        manifest = export_checkpoint(checkpoint, rep_set, out, values,
                                     progress=lambda msg: status.update(msg), criterion=criterion,
                                     ranges=estimator)
    for s in manifest.segments:
        result(f"  {s.file}: {s.macs / 1e6:.2f} M MACs, {s.param_bytes / 1024:.1f} KiB weights, "
                  f"{s.tflite_bytes / 1024:.1f} KiB file, in {list(s.input.shape)} "
                  f"(scale {s.input.scale:.6g}, zp {s.input.zero_point}), {s.info.get('export_seconds')} s")
    result(f"exported {manifest.num_exits} segments to {out} in {manifest.export_seconds} s "
           f"(calibrated on {manifest.calibration_samples} images, {manifest.activation_ranges} activation ranges)")
    return manifest
