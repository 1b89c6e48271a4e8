"""`tinyee build`: the benchmark firmware (the model's library + UART harness) for a board."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import json_output, log, result, warn_slow_paths, write_json
from tinyee.fileio import check_writable


def run(export_dir: Path, board_name: str, out: Path, opt: str, kernels: str = "optimized",
        profile_ops: bool = False, json_out: str | None = None):
    from tinyee.boards import load_board
    from tinyee.compile.firmware import build_firmware
    from tinyee.manifest import Manifest

    json_output(json_out)
    check_writable(out)
    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    with log.status(f"building firmware for {board.name}"):
        image = build_firmware(export_dir, manifest, board, out, opt, kernels, profile_ops)
    result(f"{board.name}: {image.elf} ({kernels} kernels{', per-op profiling' if profile_ops else ''})")
    result(f"  flash {image.flash_bytes:,} of {board.flash_bytes:,} bytes "
              f"({100 * image.flash_bytes / board.flash_bytes:.1f}%), weights {image.weights_bytes:,}")
    result(f"  RAM   {image.ram_bytes:,} of {board.ram_bytes:,} bytes ({100 * image.ram_bytes / board.ram_bytes:.1f}%), "
              f"arena {image.arena_bytes:,} (the cascade's segments share it)")
    for seg in image.memory["segments"]:
        result(f"    segment {seg['segment']}: peak {seg['peak_arena_bytes']:,} B; alive at its busiest step "
                  f"{seg['live_bound_bytes']:,} B; largest op {seg['largest_op_bytes']:,} B")
    summary = image.summary(board)
    warn_slow_paths(summary["slow_paths"])
    write_json(summary, json_out)
    return board, image
