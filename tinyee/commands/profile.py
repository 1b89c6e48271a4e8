"""`tinyee profile`: the ticks of every kernel call of the cascade on a board (all segments run)."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import json_output, log, result, warn_slow_paths, write_json
from tinyee.fileio import check_writable


def run(board_name: str, export_dir: Path, port: str | None, data: str | None, samples: int, out: Path,
        kernels: str, json_out: str | None = None) -> dict:
    from rich.table import Table

    from tinyee.bench import by_op_type, profile_on_board
    from tinyee.bench.plots import plot_profile
    from tinyee.boards import load_board
    from tinyee.eval.evaluate import device_inputs
    from tinyee.manifest import Manifest

    json_output(json_out)
    check_writable(out)
    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    inputs, _ = device_inputs(manifest, data, samples)
    with log.status(f"profiling on {board.name} ({kernels} kernels)"):
        _, report = profile_on_board(board, export_dir, manifest, inputs, out / "firmware", kernels, port)
    unit = report["unit"]
    table = Table(title=f"tinyee profile: {board.name}, {kernels} kernels ({report['kernel_path']} path), "
                        f"median of {len(inputs)} inputs, {unit.replace('_', ' ')}")
    for c in ("segment", "op", "calls", "MACs", unit.replace("_", " "), "share of segment"):
        table.add_column(c, justify="right")
    for row in by_op_type(report):
        total = report["segments"][row["segment"]][unit]
        table.add_row(str(row["segment"]), row["op"], str(row["calls"]), f"{row['macs']:,}", f"{row[unit]:,.0f}",
                      f"{100 * row[unit] / total:.1f}%")
    result(table)
    result(_costliest_calls(report))
    for seg in report["segments"]:
        result(f"segment {seg['segment']}: {seg[unit]:,.0f} {unit.replace('_', ' ')}, {seg['macs']:,} MACs")
    warn_slow_paths(report["slow_paths"])
    write_json(report, str(out / "profile.json"))
    plot_profile(report, by_op_type(report), board.macs_per_instruction, out / "profile.png")
    log.print(f"wrote {out / 'profile.png'}")
    write_json(report, json_out)
    return report


COSTLIEST = 10


def _costliest_calls(report: dict):
    """The most expensive kernel calls of the cascade, one row each: where a slow call hides in a type's total."""
    from rich.table import Table

    unit = report["unit"]
    slow = {(r["segment"], r["op_index"]): r["reason"] for r in report["slow_paths"]}
    table = Table(title=f"the {COSTLIEST} most expensive kernel calls")
    for c in ("segment", "op #", "op", "kernel", "MACs", unit.replace("_", " "), "MACs per tick", "note"):
        table.add_column(c, justify="left" if c in ("op", "kernel", "note") else "right")
    for r in sorted(report["ops"], key=lambda r: -r["ticks"])[:COSTLIEST]:
        table.add_row(str(r["segment"]), str(r["op_index"]), r["op"], r["kernel"], f"{r['macs']:,}",
                      f"{r[unit]:,.0f}", f"{r['macs'] / r['ticks']:.2f}" if r["ticks"] else "-",
                      "reference kernel: " + slow[r["segment"], r["op_index"]] if (r["segment"], r["op_index"]) in slow
                      else "")
    return table
