"""Threshold calibration: the four modes on controlled confidences and on the shipped export."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tinyee.calibrate import alpha_thresholds, budget_thresholds, calibrate, confidence
from tinyee.cascade import cascade, threshold_to_q
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest


def synthetic(rng, n=400, exits=3, classes=10):
    """Int8 softmax outputs whose confidence grows with depth and predicts correctness."""
    labels = rng.integers(0, classes, n)
    probs = np.full((exits, n, classes), -128, np.int8)
    for k in range(exits):
        conf = np.clip(rng.normal(40 + 35 * k, 40, n), -100, 127).astype(int)
        right = rng.random(n) < (conf + 128) / 256
        pred = np.where(right, labels, (labels + 1) % classes)
        probs[k, np.arange(n), pred] = conf
    return probs, labels


def test_alpha_rule_scales_each_exits_mean_training_confidence(rng):
    train, _ = synthetic(rng)
    th = alpha_thresholds(train, 0.9)
    mean = confidence(train).mean(axis=1)
    assert th == pytest.approx([min(1.0, 0.9 * m) for m in mean[:-1]])


def test_budget_family_hits_the_requested_exit_shares(rng):
    probs, _ = synthetic(rng, n=1000)
    for q in (0.5, 1.0, 2.0):
        exit_idx, _ = cascade(probs, budget_thresholds(probs, q))
        want = q ** np.arange(3) / (q ** np.arange(3)).sum()
        got = np.bincount(exit_idx, minlength=3) / len(exit_idx)
        assert got[0] == pytest.approx(want[0], abs=0.03)  # ties at the int8 threshold may add a few


def test_budget_and_target_modes_respect_their_constraints(rng):
    probs, labels = synthetic(rng)
    costs = [1.0, 2.5, 4.0]
    b = calibrate("budget", probs, labels, costs, budget=0.5)
    assert b["average_cost"] <= 0.5 * 4.0
    t = calibrate("target", probs, labels, costs, max_drop=0.01)
    assert t["accuracy"] >= t["final_exit_accuracy"] - 0.01
    loose = calibrate("target", probs, labels, costs, max_drop=0.2)
    assert loose["average_cost"] <= t["average_cost"]  # allowing more drop never costs more
    assert t["thresholds_q"] == [threshold_to_q(x) for x in t["thresholds"]]
    with pytest.raises(TinyeeError, match="no thresholds reach"):
        calibrate("budget", probs, labels, costs, budget=0.01)


def test_calibrate_cli_applies_thresholds_that_the_build_uses(shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    export = tmp_path / "export"
    shutil.copytree(out_dir, export)
    r = subprocess.run([sys.executable, "-m", "tinyee", "calibrate", "--export", str(export), "--mode", "target",
                        "--max-drop", "0.005", "--apply"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    report = json.loads((export / "calibration" / "calibration.json").read_text())
    new = Manifest.load(export)
    assert list(new.thresholds) == report["calibration"]["thresholds"] != list(manifest.thresholds)
    assert report["calibration"]["accuracy"] >= report["calibration"]["final_exit_accuracy"] - 0.005
    assert report["held_out"]["average_cost"] < report["final_exit_only"]["average_cost"]
    from tinyee.compile import compile_export

    compile_export(export, new, tmp_path / "src")
    header = (tmp_path / "src" / "tinyee_segments.h").read_text()
    wanted = "".join(f"(int32_t){v}, " for v in report["calibration"]["thresholds_q"])
    assert f"#define TINYEE_DEFAULT_THRESHOLDS {{{wanted}TINYEE_THRESHOLD_ALWAYS}}" in header
