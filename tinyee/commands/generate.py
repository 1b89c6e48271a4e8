"""`tinyee generate`: a self-contained C library of the exported cascade for a product's firmware."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import log, result, warn_slow_paths


def run(export_dir: Path, board_name: str, out: Path, kernels: str = "optimized"):
    from tinyee.boards import load_board
    from tinyee.compile.analysis import slow_paths
    from tinyee.compile.library import generate_library
    from tinyee.manifest import Manifest

    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    with log.status(f"generating the library for {board.name}"):
        lib = generate_library(export_dir, manifest, board, out, kernels)
    sources = [f for f in lib.files if f.parts[0] == "src" and f.suffix == ".c"]
    result(f"{lib.out}: model {manifest.model_id} for {board.name}, {len(sources)} C files "
              f"({kernels} kernels), arena {max(s.plan.size for s in lib.segments):,} B")
    if lib.flash_bytes is not None:
        result(f"  libtinyee.a for {board.name}: flash {lib.flash_bytes:,} of {board.flash_bytes:,} bytes, "
                  f"RAM {lib.ram_bytes:,} of {board.ram_bytes:,} bytes")
    result(f"  include {lib.out / 'include' / 'tinyee_model.h'}; integration: {lib.out / 'README.md'}")
    warn_slow_paths(slow_paths(lib.segments))
    return lib
