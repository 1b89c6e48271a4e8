"""Serial benchmark: stream inputs to a board, record every sample as it arrives.

Each record is appended to ``results.jsonl`` and synced to disk before the next sample, so an
interrupted run loses nothing and ``--resume`` continues where it stopped (the same run only:
``run.json`` holds its parameters; a torn last line is moved aside, never appended onto). One run
at a time writes to a folder; a new run moves an earlier one's results aside. A sample that fails
after the link's retries is recorded as lost, never dropped silently; a board that stops
answering ends the run with the results kept.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from tinyee.device.protocol import DeviceError, DeviceLink
from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write_text, check_writable, exclusive

RESULTS_NAME = "results.jsonl"
RUN_NAME = "run.json"  # the parameters of the run whose records results.jsonl holds
MAX_CONSECUTIVE_LOSSES = 3


@dataclass
class BenchPlan:
    model_id: str
    board: str
    inputs_q: np.ndarray      # [N, ...] int8 inputs
    labels: np.ndarray        # [N]
    host_exit: np.ndarray     # host int8 cascade, [N]
    host_class: np.ndarray    # [N]
    force_exits: int          # segments to time with forced exits (0 = off)
    force_samples: int        # on how many of the samples

    def parameters(self) -> dict:
        """What makes two runs the same run: --resume refuses to mix records of different ones."""
        return {"model_id": self.model_id, "board": self.board, "samples": len(self.inputs_q),
                "inputs_crc32": zlib.crc32(np.ascontiguousarray(self.inputs_q).tobytes()),
                "force_exits": self.force_exits, "force_samples": self.force_samples}

    def take(self, n: int) -> "BenchPlan":
        return dataclasses.replace(self, inputs_q=self.inputs_q[:n], labels=self.labels[:n],
                                   host_exit=self.host_exit[:n], host_class=self.host_class[:n])


def read_results(path: Path) -> list[dict]:
    """Records of an earlier run; a line that is not a whole JSON record (torn by a kill) is not one."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("sample"), int):
            records.append(record)
    return records


def _repair_torn_tail(path: Path) -> None:
    """A run killed mid-write leaves a last line without its newline: move it to results.jsonl.torn, so
    the next record starts on a line of its own."""
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    with open(path.with_name(path.name + ".torn"), "ab") as f:
        f.write(data[cut:] + b"\n")
    with open(path, "rb+") as f:
        f.truncate(cut)


def _start_or_resume(out_dir: Path, plan: BenchPlan, resume: bool, announce: Callable[[str], None]) -> dict[int, dict]:
    """The samples already done. A fresh run moves an earlier one's files aside rather than deleting them;
    --resume continues only a run of the same model, board, inputs and forced exits."""
    path, params_path = out_dir / RESULTS_NAME, out_dir / RUN_NAME
    params = plan.parameters()
    if path.exists() and not resume:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        for old in (path, params_path):
            if old.exists():
                old.rename(old.with_name(f"{old.stem}.{stamp}{old.suffix}"))
        announce(f"moved the earlier run's results in {out_dir} aside (*.{stamp}.*)")
    if not path.exists():
        atomic_write_text(params_path, json.dumps(params, indent=2) + "\n")
        return {}
    if not params_path.is_file():
        raise TinyeeError(f"{path} has no {RUN_NAME} beside it, so it cannot be told whether it is this run; "
                          "start a new run in another --out")
    try:
        before = json.loads(params_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise TinyeeError(f"cannot read {params_path} to resume the run: {e}") from e
    changed = [f"{k} {before.get(k)!r} -> {v!r}" for k, v in params.items() if before.get(k) != v]
    if changed:
        raise TinyeeError(f"--resume with other parameters than the run in {out_dir} ({'; '.join(changed)}): "
                          "resume with the same ones, or start a new run in another --out")
    _repair_torn_tail(path)
    return {r["sample"]: r for r in read_results(path) if "error" not in r}


def run_bench(link: DeviceLink, plan: BenchPlan, out_dir: Path, resume: bool = False,
              progress: Callable[[Iterable], Iterable] = lambda it: it,
              announce: Callable[[str], None] = lambda text: None) -> list[dict]:
    check_writable(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_NAME
    with exclusive(out_dir, "tinyee bench"):
        done = _start_or_resume(out_dir, plan, resume, announce)
        losses = 0
        with open(path, "a") as f:
            for n in progress(range(len(plan.inputs_q))):
                if n in done:
                    continue
                record = _measure(link, plan, n)
                losses = losses + 1 if "error" in record else 0
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())  # a record on disk survives a power cut, not just a kill
                if losses >= MAX_CONSECUTIVE_LOSSES:
                    gone = any(w in record["error"] for w in ("did not answer", "link broke"))
                    what = "the board stopped answering" if gone else "the link fails"
                    raise DeviceError(f"{what} ({losses} samples in a row lost: {record['error']}); "
                                      f"results so far are in {path}, continue with --resume")
    return [r for r in read_results(path) if r.get("model_id") == plan.model_id]


def _measure(link: DeviceLink, plan: BenchPlan, n: int) -> dict:
    """One sample's record: the board's answer and the host's, or why the sample was lost."""
    record = {"model_id": plan.model_id, "board": plan.board, "sample": n, "label": int(plan.labels[n])}
    data = plan.inputs_q[n].tobytes()
    try:
        r = link.infer(data)
        record.update(exit=r.exit, cls=r.cls, confidence=r.confidence, ticks=r.ticks,
                      host_exit=int(plan.host_exit[n]), host_class=int(plan.host_class[n]))
        record["agree"] = r.exit == record["host_exit"] and r.cls == record["host_class"]
        if n < plan.force_samples:
            record["forced_ticks"] = [link.infer(data, force_exit=k).ticks for k in range(plan.force_exits)]
    except DeviceError as e:
        record["error"] = str(e)
    return record
