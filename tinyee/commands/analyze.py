"""`tinyee analyze`: the compiled cascade layer by layer, with no device (in the spirit of stedgeai analyze)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tinyee.commands.console import json_output, result, warn_slow_paths, write_json


def run(export_dir: Path, board_name: str, kernels: str, json_out: str | None = None) -> dict:
    from rich.table import Table

    from tinyee.boards import load_board
    from tinyee.compile import compile_export
    from tinyee.compile.analysis import analyze, inner_loop_path
    from tinyee.manifest import Manifest

    json_output(json_out)
    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    with tempfile.TemporaryDirectory(prefix="tinyee-analyze-") as tmp:
        segments = compile_export(export_dir, manifest, Path(tmp), kernels)
    path = inner_loop_path(board.spec.get("features", [])) if kernels == "optimized" else "-"
    report = {"model_id": manifest.model_id, "board": board.name, "kernels": kernels, **analyze(segments, path)}
    table = Table(title=f"tinyee analyze: model {manifest.model_id}, {kernels} kernels for {board.name} "
                        f"({path} inner loops)")
    for c in ("seg", "#", "op", "kernel", "path", "output", "MACs", "const B", "arena offset", "out B", "life",
              "scratch B"):
        table.add_column(c, justify="left" if c in ("op", "kernel", "output", "path") else "right")
    for r in report["layers"]:
        table.add_row(str(r["segment"]), str(r["op_index"]), r["op"], r["kernel"], r["path"],
                      "x".join(map(str, r["output_shape"])), f"{r['macs']:,}", f"{r['const_bytes']:,}",
                      "-" if r["output_offset"] is None else f"{r['output_offset']:,}",
                      f"{r['output_bytes']:,}" + (f" ({r['output_rows_held']} of {r['output_shape'][1]} rows)" if r["output_rows_held"] else ""),
                      "{}..{}".format(*r["output_life"]) + (" in place" if r["in_place"] else "") +
                      (f" stream {r['stream']}" if r["stream"] is not None else ""),
                      f"{r['scratch_bytes']:,}" if r["scratch_bytes"] else "")
    result(table)
    for s, to_exit in zip(report["segments"], report["cascade"]["macs_to_exit"]):
        result(f"segment {s['segment']}: {s['calls']} kernel calls, {s['macs']:,} MACs ({to_exit:,} to exit "
               f"{s['segment']}), constants {s['const_bytes']:,} B, peak arena {s['peak_arena_bytes']:,} B "
               f"(bytes alive at the busiest step {s['live_bound_bytes']:,})")
    c = report["cascade"]
    result(f"cascade: {c['exits']} exits, constants {c['const_bytes']:,} B (flash, code aside), "
           f"one arena of {c['peak_arena_bytes']:,} B")
    warn_slow_paths(report["slow_paths"])
    write_json(report, json_out)
    return report
