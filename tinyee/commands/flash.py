"""`tinyee flash`: put a firmware image on a board (its probe), or run it in QEMU and wait."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import log, result


def run(board_name: str, elf: Path, tool: str | None, dry_run: bool) -> None:
    from tinyee.boards import load_board
    from tinyee.targets import open_target

    with open_target(load_board(board_name), tool=tool, need_port=False) as target:
        if dry_run:
            result(target.dry_run(elf), markup=False, highlight=False)
            return
        target.start(elf)
        log.print(target.wait(log.print))
