"""Where the benchmarks' committed results live, and how they are written: each file replaced
atomically (tinyee.fileio), so an interrupted run never leaves a half-written result."""

from __future__ import annotations

import json
from pathlib import Path

from tinyee.fileio import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results"


def save(stem: str, data, markdown: str | None = None) -> Path:
    """RESULTS/<stem>.json (and <stem>.md when given); returns the JSON's path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stem}.json"
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    if markdown is not None:
        atomic_write_text(RESULTS / f"{stem}.md", markdown)
    return path
