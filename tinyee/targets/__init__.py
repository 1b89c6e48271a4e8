"""Where firmware runs, behind one interface (in the spirit of microTVM's project API and pyOCD's
probe/target split): build an image, start it (emulator) or flash it (probe), open its serial
transport, close. The board file chooses the implementation; nothing else asks whether a board
is emulated.
"""

from __future__ import annotations

from tinyee.boards import Board
from tinyee.errors import TinyeeError
from tinyee.targets.base import Target
from tinyee.targets.probe import FLASHERS, ProbeTarget, flasher_for
from tinyee.targets.qemu import QemuTarget


def open_target(board: Board, port: str | None = None, tool: str | None = None, need_port: bool = True) -> Target:
    """The target for a board: QEMU for an emulated board, unless a serial port is given (a board already
    running, real or emulated); a real board is reached on `port` and flashed with its probe tool (or `tool`).
    need_port=False: only to flash a real board."""
    if port is None and board.emulated:
        return QemuTarget(board)
    if port is None and need_port:
        raise TinyeeError(f"{board.name} is a real board: give its serial port (--port), e.g. /dev/ttyACM0")
    return ProbeTarget(board, port, tool)


__all__ = ["FLASHERS", "ProbeTarget", "QemuTarget", "Target", "flasher_for", "open_target"]
