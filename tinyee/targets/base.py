"""The target interface every way of running firmware implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

from tinyee.boards import Board
from tinyee.device.protocol import DeviceLink
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest


ELF_ARM = 40  # e_machine of 32-bit Arm


def check_image(elf: Path) -> Path:
    """A firmware image must be a 32-bit little-endian Arm ELF file: anything else is refused before a
    probe writes it to flash or an emulator tries to boot it."""
    elf = Path(elf)
    try:
        with open(elf, "rb") as f:
            header = f.read(20)
    except FileNotFoundError:
        raise TinyeeError(f"firmware image {elf} not found") from None
    except OSError as e:
        raise TinyeeError(f"cannot read firmware image {elf}: {e.strerror or e}") from e
    if len(header) < 20 or header[:4] != b"\x7fELF":
        raise TinyeeError(f"{elf} is not an ELF file; give the firmware.elf that `tinyee build` wrote")
    if header[4] != 1 or header[5] != 1 or int.from_bytes(header[18:20], "little") != ELF_ARM:
        raise TinyeeError(f"{elf} is an ELF file, but not for a 32-bit Arm microcontroller")
    return elf


class Target(ABC):
    """One board session: ``with target: link = target.connect(elf)``; close() always releases the board."""

    def __init__(self, board: Board):
        self.board = board

    def build(self, export_dir: Path, manifest: Manifest, out_dir: Path, kernels: str = "optimized",
              profile_ops: bool = False):
        """The benchmark firmware for this target's board (tinyee.compile.firmware)."""
        from tinyee.compile.firmware import build_firmware

        return build_firmware(export_dir, manifest, self.board, out_dir, kernels=kernels, profile_ops=profile_ops)

    @abstractmethod
    def start(self, elf: Path | None) -> None:
        """Run the image: start the emulator, or flash the board (None: run what is on it)."""

    @abstractmethod
    def open(self):
        """The serial transport to the running firmware (a pyserial port)."""

    @abstractmethod
    def close(self) -> None:
        """Release the transport and anything started; safe to call twice."""

    @abstractmethod
    def dry_run(self, elf: Path) -> str:
        """The command start() would run for `elf`."""

    def wait(self, announce: Callable[[str], None]) -> str:
        """After start(): block while this process must keep the firmware running (announcing how to reach
        it first); returns how it ended."""
        return f"{self.board.name} runs the image"

    def alive(self) -> bool:
        """False once the firmware's host process (an emulator) has died."""
        return True

    def link_clock(self) -> dict:
        """What the link's time-outs count in (Transport's clock and stall): a real board's are wall seconds."""
        return {}

    def connect(self, elf: Path | None, timeout: float = 10.0, model_id: str | None = None) -> DeviceLink:
        """Start the image, open the transport and wait for the firmware's banner; with model_id, check that
        the firmware runs that model."""
        self.start(elf)
        link = DeviceLink(self.open(), timeout=timeout, **self.link_clock())
        link.wait_ready()
        if model_id is not None and link.identify().get("model") != model_id:
            raise TinyeeError(f"the firmware on {self.board.name} runs model {link.info.get('model')}, but the export "
                              f"is model {model_id}: rebuild and flash it (tinyee build / tinyee flash, or --flash)")
        return link

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
