"""Where commands print: results (tables, figures, JSON) to stdout; progress and messages to stderr.

With --json a command's stdout is one JSON document, so its tables and result lines go to stderr.
Off a terminal, tables are laid out wide instead of being cut at 80 columns.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write_text, check_writable

PIPED_WIDTH = 200

# Markup is off: messages carry paths, class names and compiler output, whose [brackets] are text.
# Colour comes from labelled() instead.
log = Console(stderr=True, soft_wrap=True, markup=False,
              width=None if sys.stderr.isatty() else PIPED_WIDTH)  # grepped and logged
_stdout = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH, soft_wrap=True, markup=False)
_json_to_stdout = False


def labelled(label: str, style: str, text: str) -> Text:
    """`label` in colour, then `text` verbatim."""
    return Text.assemble((label, style), " ", text)


def json_output(target: str | None) -> None:
    """Announce a command's --json target: "-" (stdout) moves its human-readable results to stderr."""
    global _json_to_stdout
    _json_to_stdout = target == "-"
    if target not in (None, "-"):
        check_writable(Path(target).parent)


def result(*renderables, **options) -> None:
    """A result line or table for a person."""
    (log if _json_to_stdout else _stdout).print(*renderables, **options)


def warn_slow_paths(slow: list[dict]) -> None:
    """One warning per kernel call an optimised build left on a reference kernel (compile.analysis.slow_paths)."""
    for r in slow:
        log.print(labelled("warning:", "yellow", f"segment {r['segment']}, op #{r['op_index']} {r['op']} runs the "
                                                 f"reference kernel {r['kernel']}: {r['reason']}"))


def write_json(document: dict, target: str | None) -> None:
    """The command's result as JSON: to stdout for "-", else to the file (replaced whole, never half-written)."""
    if target is None:
        return
    try:
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    except ValueError as e:  # NaN or infinity: a result that means nothing is not written as one
        raise TinyeeError(f"the result holds a value that is not a number ({e}); nothing written") from e
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(target)
    atomic_write_text(path, text)
    log.print(f"wrote {path}")


def parse_floats(text: str | None) -> list[float] | None:
    """'0.8,0.9' -> [0.8, 0.9]; None stays None."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as e:
        raise TinyeeError(f"{text!r} is not a comma-separated list of numbers") from e
    if not all(math.isfinite(v) for v in values):
        raise TinyeeError(f"{text!r} holds a value that is not a finite number")
    return values
