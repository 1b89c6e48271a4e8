"""Where commands print: tables and results to stdout, progress and messages to stderr."""

from __future__ import annotations

from rich.console import Console

from tinyee.errors import TinyeeError

log = Console(stderr=True, soft_wrap=True)  # messages are grepped and logged: no hard wraps
show = Console()  # tables


def parse_floats(text: str | None) -> list[float] | None:
    """'0.8,0.9' -> [0.8, 0.9]; None stays None."""
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as e:
        raise TinyeeError(f"{text!r} is not a comma-separated list of numbers") from e
