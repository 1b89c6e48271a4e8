"""`tinyee data-subset`: a class-balanced real subset like the one shipped in calibration/."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import result


def run(source: Path, out: Path, rep: int, eval_: int, seed: int) -> None:
    from tinyee.data import make_subset

    result(make_subset(source, out, rep, eval_, seed))
