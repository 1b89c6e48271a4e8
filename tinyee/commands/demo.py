"""`tinyee demo`: the whole mission on an emulated board, from the shipped checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

from tinyee.commands import bench, build, evaluate, export
from tinyee.commands.console import log

SHIPPED_CHECKPOINT = Path(__file__).resolve().parents[2] / "models" / "mcu-fashion-mnist" / "checkpoint.pt"


def run(out: Path, board_name: str, samples: int) -> None:
    t0 = time.time()
    export.run(SHIPPED_CHECKPOINT, out / "export", "shipped", None, None)
    evaluate.run(out / "export", SHIPPED_CHECKPOINT, "shipped", None, None, "tflm,litert", out / "eval.json")
    build.run(out / "export", board_name, out / board_name, "-O2")
    bench.run(board_name, out / "export", out / board_name / "firmware.elf", None, False, "shipped", samples, 20,
              out / "bench", False, 10.0)
    log.print(f"demo finished in {time.time() - t0:.0f} s")
