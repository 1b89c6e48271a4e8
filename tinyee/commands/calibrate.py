"""`tinyee calibrate`: exit thresholds from the host int8 cascade (alpha rule, compute budget, target
accuracy, latency-aware), a held-out report and plot, and optionally the thresholds in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinyee.commands.console import json_output, log, result, write_json
from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write_text, check_writable
from tinyee.manifest import Manifest

SPLIT_SEED = 0


def exit_costs(manifest: Manifest, cost: str) -> list[float]:
    """Cumulative cost of reaching each exit: MACs, or median ticks from a bench summary.json."""
    if cost == "macs":
        return np.cumsum([s.macs for s in manifest.segments]).tolist()
    try:
        bench = json.loads(Path(cost).read_text())
        costs = [row["ticks"]["median"] for row in bench["per_exit"]]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise TinyeeError(f"--cost {cost}: not a bench summary with per-exit ticks ({e})") from e
    if bench.get("model_id") != manifest.model_id:
        raise TinyeeError(f"{cost} was measured on model {bench.get('model_id')}, not {manifest.model_id}")
    return costs


def run(export_dir: Path, data_spec: str | None, mode: str, alpha: float, budget: float, max_drop: float, cost: str,
        criterion: str | None, calib_samples: int, apply: bool, out: Path | None, json_out: str | None = None) -> dict:
    from tinyee.calibrate import calibrate, candidates, evaluate_thresholds, plot_calibration
    from tinyee.eval.evaluate import int8_exit_probs, load_data, quantized_inputs

    json_output(json_out)
    out = check_writable(out or Path(export_dir) / "calibration")
    manifest = Manifest.load(export_dir)
    criterion = criterion or manifest.criterion
    costs = exit_costs(manifest, cost)
    data = load_data(manifest, data_spec, "test")
    if not 0 < calib_samples < len(data):
        raise TinyeeError(f"--calib-samples {calib_samples}: the test split of {data.source} has {len(data)} images; "
                          "leave some to calibrate and some to report on")
    log.print(f"calibrating on {calib_samples} images of {data.source}, reporting on the other {len(data) - calib_samples}")
    probs = int8_exit_probs(export_dir, manifest, quantized_inputs(manifest, data), "tflm")
    # A seeded random split: data sets stored class by class (image folders) would otherwise calibrate on
    # some classes and report on others.
    order = np.random.default_rng(SPLIT_SEED).permutation(len(data))
    calib, held = np.sort(order[:calib_samples]), np.sort(order[calib_samples:])
    train_probs = None
    if mode == "alpha":  # the exits' mean confidence on the training split of the same data set
        train = load_data(manifest, data_spec, "train")
        train_probs = int8_exit_probs(export_dir, manifest, quantized_inputs(manifest, train), "tflm")
    result = calibrate(mode, probs[:, calib], data.labels[calib], costs, alpha=alpha, train_probs_q=train_probs,
                       budget=budget, max_drop=max_drop, criterion=criterion)
    report = {"mode": mode, "criterion": criterion, "cost": cost, "costs": costs, "data": data.source,
              "split_seed": SPLIT_SEED, "held_out_samples": held.tolist(), "calibration": result,
              "held_out": evaluate_thresholds(probs[:, held], data.labels[held], result["thresholds"], costs, criterion),
              "final_exit_only": {"accuracy": float((probs[-1, held].argmax(-1) == data.labels[held]).mean()),
                                  "average_cost": costs[-1]},
              "held_out_curve": candidates(probs[:, held], data.labels[held], costs, criterion)}
    unit = "MACs" if cost == "macs" else "ticks"
    _render(report, unit, calib_samples, len(data.labels) - calib_samples)
    atomic_write_text(out / "calibration.json", json.dumps(report, indent=2) + "\n")
    plot_calibration(report["held_out_curve"], report["held_out"], report["final_exit_only"], costs[-1], unit,
                     f"{mode}, {criterion}", out / "calibration.png", budget=budget if mode == "budget" else None,
                     max_drop=max_drop if mode == "target" else None)
    log.print(f"report: {out / 'calibration.json'}, {out / 'calibration.png'}")
    if apply:
        manifest.with_thresholds(result["thresholds"], criterion).save(export_dir)
        log.print(f"thresholds written to {Path(export_dir) / 'manifest.json'}; rebuild the firmware to use them")
    write_json(report, json_out)
    return report


def _render(report: dict, unit: str, calibrated: int, held_out: int) -> None:
    from rich.table import Table

    full = report["costs"][-1]
    table = Table(title=f"Calibration ({report['mode']}, {report['criterion']}, cost in {unit}): {calibrated} images "
                        f"to calibrate, {held_out} held out")
    for c in ("", "thresholds", "accuracy", "average cost", "vs. final exit only", "exit distribution"):
        table.add_column(c, justify="right")
    for name, r in (("calibration", report["calibration"]), ("held-out", report["held_out"])):
        table.add_row(name, ", ".join(f"{t:.3f}" for t in r["thresholds"]), f"{100 * r['accuracy']:.2f}%",
                      f"{r['average_cost']:,.0f}", f"{100 * r['average_cost'] / full:.1f}%",
                      " / ".join(f"{100 * f:.1f}%" for f in r["exit_fractions"]))
    final = report["final_exit_only"]
    table.add_row("final exit only", "-", f"{100 * final['accuracy']:.2f}%", f"{full:,.0f}", "100.0%", "")
    result(table)
