"""Progress of long loops on stderr: a tqdm bar on a terminal; elsewhere (CI logs, pipes, files) a
line every few seconds, so a long step is never silent."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator

LINE_INTERVAL_S = 10.0


class _Lines:
    """tqdm's iteration and set_postfix, written as rate-limited plain lines."""

    def __init__(self, items: Iterable, desc: str, total: int | None, unit: str):
        self.items, self.desc, self.total, self.unit = items, desc, total, unit
        self.postfix = ""

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def __iter__(self) -> Iterator:
        start = last = time.monotonic()
        for count, item in enumerate(self.items, 1):
            yield item
            now = time.monotonic()
            if now - last >= LINE_INTERVAL_S:
                last = now
                of = f"/{self.total}" if self.total else ""
                extra = f", {self.postfix}" if self.postfix else ""
                print(f"{self.desc}: {count}{of} {self.unit} ({count / (now - start):.1f} {self.unit}/s{extra})",
                      file=sys.stderr, flush=True)


def progress(items: Iterable, desc: str, total: int | None = None, unit: str = "it"):
    total = total if total is not None else (len(items) if hasattr(items, "__len__") else None)
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(items, desc=desc, total=total, unit=unit, leave=False)
    return _Lines(items, desc, total, unit)
