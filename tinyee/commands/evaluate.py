"""`tinyee eval`: the int8 cascade on the host (TFLite Micro reference) beside the float model."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import json_output, log, parse_floats, result, write_json
from tinyee.manifest import Manifest


def run(export_dir: Path, checkpoint: Path | None, data: str | None, samples: int | None, thresholds: str | None,
        runtimes: str, json_out: str | None) -> dict:
    from tinyee.cascade import resolve_thresholds
    from tinyee.eval import evaluate, render
    from tinyee.eval.evaluate import load_data
    from tinyee.model import load_checkpoint

    json_output(json_out)
    manifest = Manifest.load(export_dir)
    thr = (resolve_thresholds(parse_floats(thresholds), manifest.num_exits, manifest.criterion) if thresholds
           else list(manifest.thresholds))
    ckpt = checkpoint or manifest.model.get("checkpoint")
    model = load_checkpoint(Path(ckpt))[0] if ckpt and Path(ckpt).is_file() else None
    if model is None:
        log.print(f"[yellow]float checkpoint {ckpt} not found: int8 results only[/yellow]" if ckpt else
                  "no float checkpoint for this model (imported): int8 results only")
    report = evaluate(export_dir, manifest, load_data(manifest, data, "test", samples), thr, model,
                      tuple(runtimes.split(",")))
    for table in render(report):
        result(table)
    write_json(report, json_out)
    return report
