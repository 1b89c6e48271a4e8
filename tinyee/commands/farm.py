"""`tinyee bench --farm FILE`: the bench on every board of a farm at once, one merged summary."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import json_output, log, result, write_json
from tinyee.fileio import check_writable


def run(farm_file: Path, export_dir: Path, data: str | None, samples: int, force_samples: int, out: Path,
        resume: bool, timeout: float, kernels: str, json_out: str | None) -> dict:
    from tinyee.bench.farm import SUMMARY_NAME, farm_failure, read_farm, run_farm
    from tinyee.manifest import Manifest

    json_output(json_out)
    check_writable(out)
    boards = read_farm(farm_file)
    Manifest.load(export_dir)  # a broken export fails once here, not once per board
    args = ["--export", str(export_dir), "--samples", str(samples), "--force-samples", str(force_samples),
            "--timeout", str(timeout), "--kernels", kernels, *(["--data", data] if data else [])]
    emulated = sum(b.emulated for b in boards)
    log.print(f"benching {len(boards)} boards ({emulated} emulated) into {out}")
    merged = run_farm(boards, args, samples, out, resume, announce=log.print)
    _report(merged)
    log.print(f"wrote {out / SUMMARY_NAME}")
    write_json(merged, json_out)
    failure = farm_failure(merged)
    if failure is not None:
        raise failure
    return merged


def _report(merged: dict) -> None:
    from rich.table import Table

    table = Table(title=f"tinyee bench farm ({merged['samples']} samples per board)")
    for c in ("board", "port", "status", "device acc.", "host agreement", "average ticks", "ticks to last exit",
              "unit"):
        table.add_column(c, justify="left" if c in ("board", "port", "status", "unit") else "right")
    for name, s in merged["boards"].items():
        summary = s.get("summary") or {}
        last = (summary.get("per_exit") or [{}])[-1].get("ticks", {}).get("median")
        pct = lambda v: f"{100 * v:.2f}%" if v is not None else "-"  # noqa: E731
        table.add_row(name, s["port"], s["status"], pct(summary.get("device_accuracy")),
                      pct(summary.get("host_agreement")),
                      f"{summary['average_ticks']:,.0f}" if summary.get("average_ticks") else "-",
                      f"{last:,.0f}" if last else "-", summary.get("latency_unit", "-").replace("_", " "))
    result(table)
