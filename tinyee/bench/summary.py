"""Bench summary: per-exit latency, exit distribution, accuracy, host agreement, threshold sweep,
written as JSON, CSV and a PNG plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from tinyee.boards import Board
from tinyee.cascade import cascade
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
    return summary


def write_outputs(summary: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "summary.json", out_dir / "summary.csv", out_dir / "bench.png"]
    paths[0].write_text(json.dumps(summary, indent=2) + "\n")
    unit = summary["latency_unit"]
    with open(paths[1], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["exit", "samples_exited", "fraction", "ticks_min", "ticks_median", "ticks_p90", "ticks_max",
                    f"{unit}_median"])
        for row, frac in zip(summary["per_exit"], summary["exit_fractions"]):
            t = row.get("ticks", {})
            w.writerow([row["exit"], row["samples_exited"], f"{frac:.4f}", t.get("min"), t.get("median"), t.get("p90"),
                        t.get("max"), row.get(unit, {}).get("median")])
    _plot(summary, paths[2])
    return paths


def _plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit_label = "emulated instructions" if summary["emulated"] else "µs"
    scale = 1e9 / summary["clock_hz"] if summary["emulated"] else 1e6 / summary["clock_hz"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    rows = [r for r in summary["per_exit"] if "ticks" in r]
    ks = [r["exit"] for r in rows]
    med = np.array([r["ticks"]["median"] for r in rows]) * scale
    lo = med - np.array([r["ticks"]["min"] for r in rows]) * scale
    hi = np.array([r["ticks"]["max"] for r in rows]) * scale - med
    axes[0].bar(ks, med, yerr=[lo, hi], capsize=4, color="#4c72b0")
    axes[0].set(title="Latency to each exit (median, min-max)", xlabel="exit", ylabel=unit_label, xticks=ks)
    axes[1].bar(range(len(summary["exit_fractions"])), summary["exit_fractions"], color="#55a868")
    axes[1].set(title="Exit distribution on device", xlabel="exit", ylabel="fraction of samples",
                xticks=range(len(summary["exit_fractions"])))
    if "threshold_sweep" in summary:
        sw = summary["threshold_sweep"]
        axes[2].plot([s["average_ticks"] * scale for s in sw], [100 * s["accuracy"] for s in sw], "o-", label="threshold sweep")
        end = summary["final_exit_only"]
        axes[2].plot([end["ticks"] * scale], [100 * end["accuracy"]], "s", color="black", label="final exit only")
        op = next(s for s in sw if s["threshold"] == summary["thresholds"][0])
        axes[2].plot([op["average_ticks"] * scale], [100 * op["accuracy"]], "*", ms=14, color="#c44e52",
                     label=f"operating point (t={op['threshold']})")
        axes[2].set(title="Accuracy vs average latency", xlabel=f"average {unit_label}", ylabel="accuracy (%)")
        axes[2].legend(fontsize=8)
    fig.suptitle(f"tinyee bench: model {summary['model_id']} on {summary['board']}"
                 + (" (emulated: instruction counts, not time)" if summary["emulated"] else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
