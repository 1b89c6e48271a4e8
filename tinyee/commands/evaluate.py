"""`tinyee eval`: the int8 cascade on the host (TFLite Micro reference) beside the float model."""

from __future__ import annotations

import json
from pathlib import Path

from tinyee.commands.console import json_output, labelled, log, parse_floats, result, write_json
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest, sha256


def run(export_dir: Path, checkpoint: Path | None, data: str | None, samples: int | None, thresholds: str | None,
        runtimes: str, json_out: str | None) -> dict:
    from tinyee.cascade import resolve_thresholds
    from tinyee.eval import evaluate, render
    from tinyee.eval.evaluate import load_data

    json_output(json_out)
    manifest = Manifest.load(export_dir)
    thr = (resolve_thresholds(parse_floats(thresholds), manifest.num_exits, manifest.criterion)
           if thresholds is not None
           else list(manifest.thresholds))
    model = _float_model(checkpoint, manifest, export_dir)
    report = evaluate(export_dir, manifest, load_data(manifest, data, "test", samples), thr, model,
                      tuple(runtimes.split(",")))
    for table in render(report):
        result(table)
    write_json(report, json_out)
    return report


def _float_model(checkpoint: Path | None, manifest: Manifest, export_dir: Path):
    """The float model the export was made from: --checkpoint must be that very file (or, for an export of
    an in-memory model, one of the same config); the recorded one is used when it is still there unchanged."""
    from tinyee.model import load_checkpoint

    recorded, config = manifest.model.get("checkpoint"), manifest.model.get("config")
    if checkpoint is None:
        if not recorded:
            log.print("no float checkpoint for this model (imported): int8 results only")
            return None
        if not Path(recorded).is_file():
            log.print(labelled("warning:", "yellow", f"float checkpoint {recorded} not found: int8 results only"))
            return None
    if config is None:
        raise TinyeeError(f"{export_dir} was imported from .tflite files: there is no float model to compare "
                          f"{checkpoint} with; leave out --checkpoint")
    path = Path(checkpoint or recorded)
    model, _ = load_checkpoint(path)
    expected = manifest.model.get("checkpoint_sha256")
    if expected and sha256(path.read_bytes()) != expected:
        if checkpoint is None:
            log.print(labelled("warning:", "yellow", f"float checkpoint {path} changed since the export: int8 results only"))
            return None
        raise TinyeeError(f"checkpoint {path} is not the one {export_dir} was exported from ({recorded}, sha256 "
                          f"{expected[:12]}...); export it first, or leave out --checkpoint")
    if json.loads(json.dumps(model.cfg.to_dict())) != config:  # as the manifest stores it
        raise TinyeeError(f"checkpoint {path} has another model config than {export_dir} was exported from; "
                          "export it first, or leave out --checkpoint")
    return model
