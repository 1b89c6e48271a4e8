"""Benchmark firmware: the model's library (generated C, its kernels, the cascade runtime) linked with
the UART harness and the board's code, built by SCons.

The build fails with the numbers when the image does not fit the board's flash or RAM.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyee.boards import Board
from tinyee.compile import CompiledSegment, compile_export
from tinyee.compile.analysis import slow_paths
from tinyee.compile.library import library_sources
from tinyee.compile.footprint import memory_report
from tinyee.compile.sources import BOARD_DIR, FIRMWARE_DIR, HARNESS_DIR, KERNEL_DIR, REPO_ROOT, TOOLCHAIN
from tinyee.errors import DoesNotFitError, TinyeeError
from tinyee.manifest import Manifest

OPT_LEVELS = ("-O2", "-Os", "-O3")


@dataclass
class FirmwareImage:
    board: str
    elf: Path
    flash_bytes: int
    ram_bytes: int
    weights_bytes: int
    model_id: str
    kernels: str
    profile_ops: bool  # per-kernel-call tick counters compiled in (tinyee profile)
    memory: dict  # tinyee.compile.footprint.memory_report of the compiled segments
    segments: list[CompiledSegment]  # where every tensor lives in the arena, for tensor-level checks

    @property
    def arena_bytes(self) -> int:
        return self.memory["cascade_arena_bytes"]

    def summary(self, board: Board) -> dict:
        return {"board": self.board, "elf": str(self.elf), "flash_bytes": self.flash_bytes,
                "flash_limit": board.flash_bytes, "ram_bytes": self.ram_bytes, "ram_limit": board.ram_bytes,
                "arena_bytes": self.arena_bytes, "model_id": self.model_id, "kernels": self.kernels,
                "profile_ops": self.profile_ops,
                "memory": self.memory, "slow_paths": slow_paths(self.segments)}


def harness_sources() -> list[Path]:
    """The UART harness: its commands (main.c) and its framing (link.c)."""
    return [HARNESS_DIR / "main.c", HARNESS_DIR / "link.c"]


def section_sizes(elf: Path) -> tuple[int, int]:
    """(flash, RAM) bytes from the ELF's sections: flash = code, constants, .data image; RAM = .data, .bss, stack."""
    out = subprocess.run([TOOLCHAIN + "size", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\.\S+)\s+(\d+)\s+\d+", out, re.M)}
    flash = sizes.get(".text", 0) + sizes.get(".ARM.exidx", 0) + sizes.get(".data", 0)
    ram = sizes.get(".data", 0) + sizes.get(".bss", 0) + sizes.get(".stack", 0)
    return flash, ram


def _scons(build_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "SCons", "-Q", "-f", str(FIRMWARE_DIR / "SConstruct"),
                           f"BUILD={build_dir}"], capture_output=True, text=True, cwd=REPO_ROOT)


def build_firmware(export_dir: Path, manifest: Manifest, board: Board, out_dir: Path, opt: str = "-O2",
                   kernels: str = "optimized", profile_ops: bool = False, route: bool = True) -> FirmwareImage:
    """Compile an exported cascade to C and build its benchmark firmware for a board (route: see
    compile_segments)."""
    src = Path(out_dir).resolve() / "src"
    segments = compile_export(export_dir, manifest, src, kernels, route)
    return build_image(src, segments, board, out_dir, opt, manifest.model_id, manifest.param_bytes, kernels,
                       profile_ops)


def build_image(src: Path, segments: list[CompiledSegment], board: Board, out_dir: Path, opt: str, model_id: str,
                weights_bytes: int, kernels: str, profile_ops: bool = False) -> FirmwareImage:
    """Build the firmware around generated sources in `src` (the emitted files of `segments`)."""
    if opt not in OPT_LEVELS:
        raise TinyeeError(f"optimisation level {opt!r}: choose one of {', '.join(OPT_LEVELS)}")
    if shutil.which(TOOLCHAIN + "gcc") is None:
        raise TinyeeError(f"{TOOLCHAIN}gcc not found; install Debian's gcc-arm-none-eabi (scripts/setup.sh does)")
    out_dir = Path(out_dir).resolve()
    (src / "board_config.h").write_text(board.config_header())
    (out_dir / "memory.ld").write_text(board.memory_ld())
    library = [p for p in library_sources(segments) if p.suffix == ".c"]
    sources = [*library, src / "tinyee_model.c", *harness_sources(), *board.sources()]
    config = {
        "toolchain": TOOLCHAIN, "cflags": [*board.cflags, opt, f"-DTINYEE_PROFILE_OPS={int(profile_ops)}"],
        "include_dirs": [str(KERNEL_DIR), str(BOARD_DIR), str(HARNESS_DIR), str(src)],
        "sources": [str(s) for s in sources], "linker_script": str(REPO_ROOT / "boards" / "common" / "cortex-m.ld"),
    }
    (out_dir / "build.json").write_text(json.dumps(config, indent=2) + "\n")
    result = _scons(out_dir)
    if result.returncode:
        overflow = re.findall(r"region `(\w+)' overflowed by (\d+) bytes", result.stderr)
        if overflow:
            raise DoesNotFitError(_does_not_fit(board, out_dir, model_id, weights_bytes))
        raise TinyeeError(f"firmware build for {board.name} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    elf = out_dir / "firmware.elf"
    flash, ram = section_sizes(elf)
    return FirmwareImage(board.name, elf, flash, ram, weights_bytes, model_id, kernels, profile_ops,
                         memory_report(segments), segments)


def _does_not_fit(board: Board, out_dir: Path, model_id: str, weights_bytes: int) -> str:
    """Relink with roomy memory to measure the image, then say by how much it misses."""
    probe = out_dir / "probe"
    probe.mkdir(exist_ok=True)
    (probe / "memory.ld").write_text(board.memory_ld(scale=64))
    config = json.loads((out_dir / "build.json").read_text())
    (probe / "build.json").write_text(json.dumps(config))
    result = _scons(probe)
    if result.returncode:
        return f"model {model_id} does not fit board {board.name}, and not even 64x its memory"
    flash, ram = section_sizes(probe / "firmware.elf")
    shutil.rmtree(probe)
    parts = []
    if flash > board.flash_bytes:
        parts.append(f"flash needs {flash:,} bytes of {board.flash_bytes:,} ({flash - board.flash_bytes:,} too many)")
    if ram > board.ram_bytes:
        parts.append(f"RAM needs {ram:,} bytes of {board.ram_bytes:,} ({ram - board.ram_bytes:,} too many)")
    return (f"model {model_id} does not fit board {board.name}: " + "; ".join(parts) +
            f" (weights {weights_bytes:,} B)")
