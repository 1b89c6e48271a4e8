"""Serial benchmark: stream inputs to a board, record every sample as it arrives.

Each record is appended to ``results.jsonl`` and flushed before the next sample, so an
interrupted run loses nothing and ``--resume`` continues where it stopped. A sample that fails
after the link's retries is recorded as lost, never dropped silently; a board that stops
answering ends the run with the results kept.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from tinyee.device.protocol import DeviceError, DeviceLink
from tinyee.errors import TinyeeError

RESULTS_NAME = "results.jsonl"
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

    def take(self, n: int) -> "BenchPlan":
        return dataclasses.replace(self, inputs_q=self.inputs_q[:n], labels=self.labels[:n],
                                   host_exit=self.host_exit[:n], host_class=self.host_class[:n])


def read_results(path: Path) -> list[dict]:
    """Records of an earlier run; a torn last line (the run was killed mid-write) is ignored."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def run_bench(link: DeviceLink, plan: BenchPlan, out_dir: Path, resume: bool = False,
              progress: Callable[[Iterable], Iterable] = lambda it: it) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_NAME
    done: dict[int, dict] = {}
    if resume:
        for r in read_results(path):
            if r.get("model_id") != plan.model_id or r.get("board") != plan.board:
                raise TinyeeError(f"{path} holds results of model {r.get('model_id')} on {r.get('board')}; "
                                  f"not resuming a run of {plan.model_id} on {plan.board}")
            if "error" not in r:
                done[r["sample"]] = r
    elif path.exists():
        path.unlink()
    losses = 0
    with open(path, "a") as f:
        for n in progress(range(len(plan.inputs_q))):
            if n in done:
                continue
            record = {"model_id": plan.model_id, "board": plan.board, "sample": n, "label": int(plan.labels[n])}
            data = plan.inputs_q[n].tobytes()
            try:
                r = link.infer(data)
                record.update(exit=r.exit, cls=r.cls, confidence=r.confidence, ticks=r.ticks,
                              host_exit=int(plan.host_exit[n]), host_class=int(plan.host_class[n]))
                record["agree"] = r.exit == record["host_exit"] and r.cls == record["host_class"]
                if n < plan.force_samples:
                    record["forced_ticks"] = [link.infer(data, force_exit=k).ticks for k in range(plan.force_exits)]
                losses = 0
            except DeviceError as e:
                record["error"] = str(e)
                losses += 1
            f.write(json.dumps(record) + "\n")
            f.flush()
            if losses >= MAX_CONSECUTIVE_LOSSES:
                raise DeviceError(f"the board stopped answering ({losses} samples in a row lost: {record['error']}); "
                                  f"results so far are in {path}, continue with --resume")
    return [r for r in read_results(path) if r.get("model_id") == plan.model_id]
