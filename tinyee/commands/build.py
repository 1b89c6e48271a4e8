"""`tinyee build`: the benchmark firmware (the model's library + UART harness) for a board."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import log


def run(export_dir: Path, board_name: str, out: Path, opt: str, kernels: str = "optimized",
        profile_ops: bool = False):
    from tinyee.boards import load_board
    from tinyee.compile.firmware import build_firmware
    from tinyee.manifest import Manifest

    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    with log.status(f"building firmware for {board.name}"):
        image = build_firmware(export_dir, manifest, board, out, opt, kernels, profile_ops)
    log.print(f"{board.name}: {image.elf} ({kernels} kernels{', per-op profiling' if profile_ops else ''})")
    log.print(f"  flash {image.flash_bytes:,} of {board.flash_bytes:,} bytes "
              f"({100 * image.flash_bytes / board.flash_bytes:.1f}%), weights {image.weights_bytes:,}")
    log.print(f"  RAM   {image.ram_bytes:,} of {board.ram_bytes:,} bytes ({100 * image.ram_bytes / board.ram_bytes:.1f}%), "
              f"arena {image.arena_bytes:,} (the cascade's segments share it)")
    for seg in image.memory["segments"]:
        log.print(f"    segment {seg['segment']}: peak {seg['peak_arena_bytes']:,} B; alive at its busiest step "
                  f"{seg['live_bound_bytes']:,} B; largest op {seg['largest_op_bytes']:,} B")
    return board, image
