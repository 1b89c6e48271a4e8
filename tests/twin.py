"""The firmware's software twin: the real harness (firmware/harness) and the model's library,
compiled for the host with tests/twin/host_board.c as its board. It serves the protocol on a local
TCP port that pyserial opens as socket://, so tests run the firmware's own protocol code, exits and
classes without an emulator."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tinyee.compile.firmware import harness_sources
from tinyee.compile.library import library_sources
from tinyee.compile.sources import BOARD_DIR, HARNESS_DIR, KERNEL_DIR

HOST_BOARD = Path(__file__).parent / "twin" / "host_board.c"
BOARD_CONFIG = """#define TEE_BOARD_NAME "twin"
#define TEE_CLOCK_HZ 1000000000u
#define TEE_SEMIHOSTING 1
#define TEE_TICK_NAME "counter"
#define TEE_BOARD_HAS_DSP 0
#define TEE_BOARD_HAS_MVE 0
"""


def build_twin(src: Path, segments, out: Path, model_id: str | None = None) -> Path:
    """Compile the twin from generated sources in `src`; `model_id` makes it claim another model."""
    (src / "board_config.h").write_text(BOARD_CONFIG)
    if model_id is not None:
        header = src / "tinyee_model.h"
        text = header.read_text()
        start = text.index('#define TINYEE_MODEL_ID "') + len('#define TINYEE_MODEL_ID "')
        header.write_text(text[:start] + model_id + text[text.index('"', start):])
    sources = [*(p for p in library_sources(segments) if p.suffix == ".c"), src / "tinyee_model.c",
               *harness_sources(), HOST_BOARD]
    cmd = ["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-DTINYEE_PROFILE_OPS=0",
           *(f"-I{d}" for d in (KERNEL_DIR, BOARD_DIR, HARNESS_DIR, src)), *map(str, sources), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


class Twin:
    """A running twin; `url` is its UART. Ends when the host hangs up or on close(); close_all() ends the
    ones a failed test left waiting for a host that never came."""

    running: list["Twin"] = []

    def __init__(self, binary: Path):
        self.proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, text=True)
        self.url = f"socket://127.0.0.1:{int(self.proc.stdout.readline())}"
        Twin.running.append(self)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    @classmethod
    def close_all(cls) -> None:
        while cls.running:
            cls.running.pop().close()
