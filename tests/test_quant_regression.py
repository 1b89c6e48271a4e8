"""Quantization accuracy regression: float vs int8 per exit and for the cascade, against stored baselines.

Baselines: tests/baselines/quant_accuracy.json (re-measure with scripts/update_baselines.py).
"""

import json

import pytest

from quant_eval import BASELINE_FILE, evaluate_report

MAX_DROP_VS_FLOAT = 0.015     # an int8 exit may be at most 1.5 points less accurate than its float twin
MAX_DROP_VS_BASELINE = 0.005  # ... and at most 0.5 points below the stored int8 baseline
MIN_RUNTIME_AGREEMENT = 0.99  # TFLM vs LiteRT-reference predictions (FC rounding differs by 1 LSB)


@pytest.fixture(scope="module")
def report(shipped_export):
    out, _, model = shipped_export
    return evaluate_report(out, model)


@pytest.fixture(scope="module")
def baseline():
    return json.loads(BASELINE_FILE.read_text())


def test_evaluation_covers_the_shipped_set(report):
    assert report["samples"] == 2000 and len(report["exits"]) == 3


@pytest.mark.parametrize("exit_index", [0, 1, 2])
def test_int8_exit_close_to_float(report, exit_index):
    row = report["exits"][exit_index]
    assert row["int8_accuracy"] >= row["float_accuracy"] - MAX_DROP_VS_FLOAT, row


@pytest.mark.parametrize("exit_index", [0, 1, 2])
def test_exit_accuracies_not_below_baseline(report, baseline, exit_index):
    row, base = report["exits"][exit_index], baseline["exits"][exit_index]
    # The float model is deterministic on CPU: a change here means the shipped checkpoint changed.
    assert row["float_accuracy"] == pytest.approx(base["float_accuracy"], abs=1e-3)
    assert row["int8_accuracy"] >= base["int8_accuracy"] - MAX_DROP_VS_BASELINE, (row, base)


def test_cascade_accuracy_not_below_baseline_or_float(report, baseline):
    int8, fl = report["cascade"]["int8"], report["cascade"]["float"]
    assert report["thresholds"] == baseline["thresholds"]
    assert int8["accuracy"] >= baseline["cascade_int8"]["accuracy"] - MAX_DROP_VS_BASELINE
    assert int8["accuracy"] >= fl["accuracy"] - MAX_DROP_VS_FLOAT
    # Early exit must actually save compute on this data, as it did when the baseline was taken.
    assert int8["expected_macs_relative"] <= baseline["cascade_int8"]["expected_macs_relative"] + 0.02


def test_second_runtime_agrees(report):
    for row in report["exits"]:
        assert row["litert_agreement"] >= MIN_RUNTIME_AGREEMENT, row
