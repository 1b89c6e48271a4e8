"""`tinyee flash`: put a firmware image on a board (its probe), or run it in QEMU and wait."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import log, show


def run(board_name: str, elf: Path, tool: str | None, dry_run: bool) -> None:
    from tinyee.boards import load_board
    from tinyee.targets import ProbeTarget, QemuTarget, flash_dry_run

    board = load_board(board_name)
    if dry_run:
        show.print(flash_dry_run(board, elf, tool), markup=False, highlight=False)
        return
    if not board.emulated:
        ProbeTarget(board, None, tool).start(elf)
        log.print(f"flashed {elf} to {board.name}")
        return
    with QemuTarget(board) as qemu:
        qemu.start(elf)
        qemu.close_transport()  # frees the socket for the user's terminal or `tinyee bench --port`
        log.print(f"{board.name} is running {elf} in QEMU; its UART is {qemu.url}. Ctrl-C stops it.")
        try:
            qemu.proc.wait()
        except KeyboardInterrupt:
            log.print("stopping QEMU")
