"""`tinyee generate`: a self-contained C library of an exported cascade, for a product's firmware.

OUT/include holds the one header a product includes, OUT/src the generated model, the cascade
runtime and only the kernel files the model calls; a README, an example, a Makefile fragment and
an SConscript come with it. With arm-none-eabi-gcc present, the library is cross-built with the
board's flags and its flash and RAM are checked against the board.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from string import Template

from tinyee.boards import Board
from tinyee.compile import CompiledSegment, compile_export
from tinyee.compile.emit import called_functions
from tinyee.compile.sources import LIBRARY_DIR, RUNTIME_SOURCE, TOOLCHAIN, kernel_files
from tinyee.errors import DoesNotFitError, TinyeeError
from tinyee.manifest import Manifest
from tinyee.staging import staged_folder

DIST_DIR = LIBRARY_DIR / "dist"


@dataclass
class GeneratedLibrary:
    out: Path
    files: list[Path]                 # relative to out
    segments: list[CompiledSegment]
    flash_bytes: int | None           # of libtinyee.a cross-built for the board (None: no toolchain here)
    ram_bytes: int | None


def library_sources(segments: list[CompiledSegment]) -> list[Path]:
    """The static C a compiled cascade links against: the runtime and the kernel files its calls need."""
    return [RUNTIME_SOURCE, *kernel_files(called_functions(segments))]


def generate_library(export_dir: Path, manifest: Manifest, board: Board, out: Path,
                     kernels: str = "optimized") -> GeneratedLibrary:
    with staged_folder(out, "include/tinyee_model.h") as stage:
        src, include = stage / "src", stage / "include"
        segments = compile_export(export_dir, manifest, src, kernels)
        include.mkdir()
        (src / "tinyee_model.h").rename(include / "tinyee_model.h")
        for path in library_sources(segments):
            target = src / path.name
            if target.exists():
                raise TinyeeError(f"two library files are named {path.name}")
            shutil.copy2(path, target)
        shutil.copytree(DIST_DIR / "example", stage / "example")
        for name in ("tinyee.mk", "SConscript"):
            shutil.copy2(DIST_DIR / name, stage / name)
        cflags = " ".join(shlex.quote(f) for f in board.cflags)
        _render(DIST_DIR / "Makefile", stage / "Makefile", board=board.name, cflags=cflags)
        flash, ram = _cross_build_sizes(stage, board)
        _render(DIST_DIR / "README.md", stage / "README.md", **_readme_fields(export_dir, manifest, board, segments,
                                                                             kernels, cflags, flash, ram))
        files = sorted(p.relative_to(stage) for p in stage.rglob("*") if p.is_file())
    return GeneratedLibrary(Path(out).resolve(), files, segments, flash, ram)


def _render(template: Path, target: Path, **fields) -> None:
    target.write_text(Template(template.read_text()).substitute(fields))


def _cross_build_sizes(stage: Path, board: Board) -> tuple[int | None, int | None]:
    """Build libtinyee.a with the board's flags (the generated Makefile); its flash and RAM, checked to fit."""
    if shutil.which(TOOLCHAIN + "gcc") is None or shutil.which("make") is None:
        return None, None
    with tempfile.TemporaryDirectory(prefix="tinyee-lib-") as build:
        r = subprocess.run(["make", "-C", str(stage), f"TINYEE_BUILD={build}", f"{build}/libtinyee.a"],
                           capture_output=True, text=True)
        if r.returncode:
            raise TinyeeError(f"the library does not build for {board.name}:\n{(r.stdout + r.stderr)[-3000:]}")
        size = subprocess.run([TOOLCHAIN + "size", "-t", f"{build}/libtinyee.a"], capture_output=True, text=True,
                              check=True).stdout
    text, data, bss = (int(v) for v in size.strip().splitlines()[-1].split()[:3])
    flash, ram = text + data, data + bss
    if flash > board.flash_bytes or ram > board.ram_bytes:
        raise DoesNotFitError(f"the library does not fit board {board.name}: flash {flash:,} of {board.flash_bytes:,} "
                          f"bytes, RAM {ram:,} of {board.ram_bytes:,} bytes (before your application's own)")
    return flash, ram


def _readme_fields(export_dir, manifest, board, segments, kernels, cflags, flash, ram) -> dict:
    shape = segments[0].model.inputs[0]
    size_row = (f"| library size for {board.name} | flash {flash:,} bytes, RAM {ram:,} bytes "
                f"(`libtinyee.a`, {TOOLCHAIN}gcc -O2) |\n" if flash is not None else "")
    return dict(model_id=manifest.model_id, export_dir=Path(export_dir), board=board.name, cpu=board.spec["cpu"],
                num_exits=len(segments), num_classes=manifest.num_classes, kernels=kernels,
                input_shape="x".join(map(str, shape.shape)), input_scale=f"{shape.scales[0]:.9g}",
                input_zero_point=shape.zero_points[0], arena_bytes=f"{max(s.plan.size for s in segments):,}",
                weights_bytes=f"{manifest.param_bytes:,}", criterion=manifest.criterion,
                thresholds=", ".join(f"{t:g} (q {q})" for t, q in zip(manifest.thresholds, manifest.thresholds_q))
                or "none", size_row=size_row, cflags=cflags)
