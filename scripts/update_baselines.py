"""Re-measure the quantization accuracy baselines the regression tests compare against.

Run after an intended change to the shipped model or the export, and commit the result:
    .venv/bin/python scripts/update_baselines.py
"""

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from quant_eval import BASELINE_FILE, evaluate_shipped  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate_shipped(Path(tmp))
    baseline = {
        "about": "Shipped checkpoint exported with the shipped calibration data, evaluated on the shipped "
                 "2000-image Fashion-MNIST test subset; written by scripts/update_baselines.py.",
        "model_id": report["model_id"],
        "thresholds": report["thresholds"],
        "exits": [{k: row[k] for k in ("exit", "float_accuracy", "int8_accuracy")} for row in report["exits"]],
        "cascade_int8": {k: report["cascade"]["int8"][k] for k in ("accuracy", "exit_fractions", "expected_macs_relative")},
    }
    BASELINE_FILE.write_text(json.dumps(baseline, indent=2) + "\n")
    print(json.dumps(baseline, indent=2))


if __name__ == "__main__":
    main()
