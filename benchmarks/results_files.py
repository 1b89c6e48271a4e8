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


def percents(values, suffix: str = "") -> str:
    """Fractions as percentages with two decimals, separated by slashes (one per exit)."""
    return " / ".join(f"{100 * v:.2f}{suffix}" for v in values)


def markdown_table(columns: dict, rows) -> str:
    """A Markdown table: columns maps each header to a function of the row giving the cell."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r) for cell in columns.values()) + " |" for r in rows]
    return "\n".join(lines) + "\n"
