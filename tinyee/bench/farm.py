"""A board farm: one `tinyee bench` per board, run at once (emulated boards up to the core count, real boards
each on its own serial port or rfc2217:// serial server), merged into one summary with a section per board.

Each board benches in its own process and folder (`<out>/<name>/`, with its log), so a board that fails
or is interrupted keeps what it captured, and `--resume` continues only the boards not yet done.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tinyee.boards import load_board
from tinyee.errors import DeviceMismatchError, TinyeeError
from tinyee.fileio import atomic_write_text

SUMMARY_NAME = "farm-summary.json"
ENTRY_KEYS = {"name", "board", "port", "flash", "elf"}
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass
class FarmBoard:
    name: str          # the section in the summary and the folder of its results
    board: str         # a board name or board file
    port: str | None   # real boards: device path, socket:// or rfc2217:// URL; None: emulated in QEMU
    flash: bool
    elf: str | None
    emulated: bool


def _entries(path: Path) -> list:
    try:
        text = path.read_text()
        doc = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except OSError as e:
        raise TinyeeError(f"cannot read farm file {path}: {e.strerror or e}") from e
    except (ValueError, tomllib.TOMLDecodeError) as e:
        raise TinyeeError(f"farm file {path} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {e}") from e
    entries = doc.get("board") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise TinyeeError(f"farm file {path} lists no boards: give a list 'board' of entries with at least 'board'")
    return entries


def read_farm(path: Path) -> list[FarmBoard]:
    """The farm file (TOML `[[board]]` tables, or JSON {"board": [...]}), checked entry by entry."""
    boards, names = [], set()
    for i, entry in enumerate(_entries(Path(path)), 1):
        where = f"farm file {path}, board {i}"
        if not isinstance(entry, dict) or not isinstance(entry.get("board"), str):
            raise TinyeeError(f"{where}: needs 'board' (a board name or board file)")
        unknown = set(entry) - ENTRY_KEYS
        if unknown:
            raise TinyeeError(f"{where}: unknown key {sorted(unknown)[0]!r} (keys: {', '.join(sorted(ENTRY_KEYS))})")
        spec = load_board(entry["board"])
        name = entry.get("name", Path(entry["board"]).stem)
        port = entry.get("port")
        if not (isinstance(name, str) and name and set(name) <= NAME_OK) or name in names:
            raise TinyeeError(f"{where}: name {name!r} must be unique letters, digits, '.', '_' or '-'")
        if port is not None and not (isinstance(port, str) and port):
            raise TinyeeError(f"{where}: port must be a serial device or URL (rfc2217://host:port, socket://...)")
        if port is None and not spec.emulated:
            raise TinyeeError(f"{where}: {spec.name} is a real board: give its port (a device or rfc2217:// URL)")
        if not isinstance(entry.get("flash", False), bool) or not isinstance(entry.get("elf", ""), str):
            raise TinyeeError(f"{where}: flash is true or false, elf a path")
        names.add(name)
        boards.append(FarmBoard(name, entry["board"], port, entry.get("flash", False), entry.get("elf"),
                                spec.emulated and port is None))
    return boards


def _done(folder: Path, samples: int) -> dict | None:
    """The board's summary when its bench finished with every sample and none lost."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        newer = (folder / "summary.json").stat().st_mtime >= (folder / "results.jsonl").stat().st_mtime
    except (OSError, ValueError):
        return None
    complete = isinstance(summary, dict) and summary.get("completed") == samples and not summary.get("lost")
    return summary if complete and newer else None


def _bench(entry: FarmBoard, bench_args: list[str], out: Path, resume: bool) -> dict:
    folder = out / entry.name
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "tinyee", "--quiet", "bench", "--board", entry.board, "--out", str(folder),
           *bench_args, *(["--resume"] if resume else [])]
    cmd += ["--port", entry.port] if entry.port else []
    cmd += ["--flash"] if entry.flash else []
    cmd += ["--elf", entry.elf] if entry.elf else []
    started = time.time()
    with open(folder / "bench.log", "w") as log:
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log).returncode
    lines = (folder / "bench.log").read_text(errors="replace").strip().splitlines()
    try:
        summary = json.loads((folder / "summary.json").read_text()) if rc in (0, 4) else None
    except (OSError, ValueError):
        summary = None
    return {"status": "ok" if rc == 0 else "disagreed" if rc == 4 else "failed", "exit_code": rc,
            "started": started, "seconds": time.time() - started, "summary": summary,
            "error": lines[-1] if rc and lines else None}


def run_farm(boards: list[FarmBoard], bench_args: list[str], samples: int, out: Path, resume: bool,
             announce=print) -> dict:
    """Bench every board, emulated ones at most os.cpu_count() at a time; returns the merged summary."""
    sections: dict[str, dict] = {}
    emulators = threading.Semaphore(os.cpu_count() or 1)

    def one(entry: FarmBoard) -> None:
        kept = _done(out / entry.name, samples) if resume else None
        if kept is not None:
            sections[entry.name] = {"status": "ok", "exit_code": 0, "resumed": "already done", "summary": kept}
        else:
            with emulators if entry.emulated else contextlib.nullcontext():
                sections[entry.name] = _bench(entry, bench_args, out, resume)
        s = sections[entry.name]
        announce(f"{entry.name}: {s['status']}" + (f" ({s['error']})" if s.get("error") else "")
                 + (f", {s['seconds']:.0f} s" if "seconds" in s else f", {s.get('resumed', '')}"))

    with ThreadPoolExecutor(max_workers=len(boards)) as pool:
        list(pool.map(one, boards))
    merged = {"samples": samples, "boards": {b.name: {"board": b.board, "port": b.port or "qemu", **sections[b.name]}
                                             for b in boards}}
    atomic_write_text(out / SUMMARY_NAME, json.dumps(merged, indent=2) + "\n")
    return merged


def farm_failure(merged: dict) -> TinyeeError | None:
    """The error the farm run ends with: a disagreement (exit code 4) before any other failure."""
    bad = {name: s for name, s in merged["boards"].items() if s["status"] != "ok"}
    if not bad:
        return None
    names = ", ".join(f"{n} ({s['status']})" for n, s in bad.items())
    if any(s["status"] == "disagreed" for s in bad.values()):
        return DeviceMismatchError(f"boards that disagreed with the host or lost samples: {names}")
    return TinyeeError(f"boards that failed: {names}; their logs are <out>/<name>/bench.log, --resume retries them")
