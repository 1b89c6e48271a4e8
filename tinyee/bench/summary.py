"""Bench summary: per-exit latency, exit distribution, accuracy, host agreement, threshold sweep,
written as JSON, CSV and a PNG plot."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from tinyee.boards import Board
from tinyee.cascade import cascade
from tinyee.fileio import atomic_write_text
from tinyee.manifest import Manifest

SWEEP = {"max_softmax": [round(t, 2) for t in np.linspace(0.5, 1.0, 11)],
         "entropy": [round(t, 2) for t in np.linspace(0.0, 1.5, 16)]}


def _stats(values: list[int]) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"n": int(v.size), "min": float(v.min()), "median": float(np.median(v)), "p90": float(np.percentile(v, 90)),
            "max": float(v.max())}


def summarize(records: list[dict], board: Board, manifest: Manifest, host_probs: np.ndarray, labels: np.ndarray) -> dict:
    latest = {}
    for r in records:
        latest[r["sample"]] = r  # a resumed run may have retried a lost sample
    ok = [r for r in latest.values() if "error" not in r]
    lost = sorted(r["sample"] for r in latest.values() if "error" in r)
    exits = manifest.num_exits
    unit, per_tick = board.latency_unit
    forced = [r["forced_ticks"] for r in ok if r.get("forced_ticks")]
    per_exit = []
    for k in range(exits):
        # Latency to exit k: all segments up to k, from forced runs of every exit when the bench made them.
        if forced:
            cum, source = [sum(f[k]) for f in forced], "forced"
        else:
            cum, source = [sum(r["ticks"]) for r in ok if r["exit"] == k], "cascade"
        row = {"exit": k, "samples_exited": sum(r["exit"] == k for r in ok), "latency_source": source}
        if cum:
            row["ticks"] = _stats(cum)
            row[unit] = {key: val * per_tick for key, val in row["ticks"].items() if key != "n"}
        per_exit.append(row)
    total = [sum(r["ticks"]) for r in ok]
    end_latency = per_exit[-1].get("ticks", {}).get("median")
    agree = [r["agree"] for r in ok]
    summary = {
        "model_id": manifest.model_id, "board": board.name, "emulated": board.emulated,
        "latency_unit": unit, "clock_hz": board.spec["clock_hz"],
        "samples": len(latest), "completed": len(ok), "lost": lost,
        "criterion": manifest.criterion, "thresholds": list(manifest.thresholds),
        "device_accuracy": float(np.mean([r["cls"] == r["label"] for r in ok])) if ok else None,
        "exit_fractions": [float(np.mean([r["exit"] == k for r in ok])) if ok else 0.0 for k in range(exits)],
        "per_exit": per_exit,
        "average_ticks": float(np.mean(total)) if total else None,
        "run_to_end_ticks": end_latency,
        "average_vs_run_to_end": float(np.mean(total) / end_latency) if total and end_latency else None,
        "host_agreement": float(np.mean(agree)) if agree else None,
        "disagreements": [{k: r[k] for k in ("sample", "exit", "cls", "host_exit", "host_class")}
                          for r in ok if not r["agree"]],
    }
    medians = [row.get("ticks", {}).get("median") for row in per_exit]
    if all(m is not None for m in medians):
        sweep = []
        criterion = manifest.criterion
        for t in sorted(set(SWEEP[criterion]) | set(manifest.thresholds)):
            e, p = cascade(host_probs, [t] * (exits - 1), criterion)
            sweep.append({"threshold": t, "accuracy": float((p == labels).mean()),
                          "average_ticks": float(np.mean(np.asarray(medians)[e]))})
        summary["threshold_sweep"] = sweep
        summary["final_exit_only"] = {"accuracy": float((host_probs[-1].argmax(-1) == labels).mean()),
                                      "ticks": medians[-1]}
        e, p = cascade(host_probs, list(manifest.thresholds), criterion)  # the thresholds the firmware uses
        summary["operating_point"] = {"thresholds": list(manifest.thresholds), "accuracy": float((p == labels).mean()),
                                      "average_ticks": float(np.mean(np.asarray(medians)[e]))}
    return summary


def write_outputs(summary: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "summary.json", out_dir / "summary.csv", out_dir / "bench.png"]
    atomic_write_text(paths[0], json.dumps(summary, indent=2, allow_nan=False) + "\n")
    unit = summary["latency_unit"]
    table = io.StringIO()
    w = csv.writer(table)
    w.writerow(["exit", "samples_exited", "fraction", "ticks_min", "ticks_median", "ticks_p90", "ticks_max",
                f"{unit}_median"])
    for row, frac in zip(summary["per_exit"], summary["exit_fractions"]):
        t = row.get("ticks", {})
        w.writerow([row["exit"], row["samples_exited"], f"{frac:.4f}", t.get("min"), t.get("median"), t.get("p90"),
                    t.get("max"), row.get(unit, {}).get("median")])
    atomic_write_text(paths[1], table.getvalue())
    _plot(summary, paths[2])
    return paths


def _plot(summary: dict, path: Path) -> None:
    from tinyee.bench.plots import plot_bench

    plot_bench(summary, path)
