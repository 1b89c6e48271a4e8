"""Readable tables for an evaluation report."""

from __future__ import annotations

from rich.table import Table


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def render(report: dict) -> list[Table]:
    exits = report["exits"]
    per_exit = Table(title=f"Per exit ({report['samples']} images, {report['data']})")
    cols = ["exit", "MACs", "float acc", "int8 acc", "float/int8 agree"]
    extra = [rt for rt in report["runtimes"][1:]]
    cols += [f"{rt} int8 acc" for rt in extra] + [f"{rt} bit-exact" for rt in extra]
    for c in cols:
        per_exit.add_column(c, justify="right")
    cum = 0
    for row, macs in zip(exits, report["segment_macs"]):
        cum += macs
        per_exit.add_row(str(row["exit"]), f"{cum / 1e6:.2f} M", _pct(row.get("float_accuracy")),
                         _pct(row["int8_accuracy"]), _pct(row.get("float_int8_agreement")),
                         *[_pct(row[f"{rt}_accuracy"]) for rt in extra],
                         *[_pct(row[f"{rt}_bitexact_fraction"]) for rt in extra])
    thr = ", ".join(f"{t:g} (q {q})" for t, q in zip(report["thresholds"], report["thresholds_q"]))
    casc = Table(title=f"Cascade at thresholds {thr}")
    for c in ("model", "accuracy", "exit distribution", "expected MACs", "vs. running all segments"):
        casc.add_column(c, justify="right")
    for kind, c in report["cascade"].items():
        casc.add_row(kind, _pct(c["accuracy"]), " / ".join(_pct(f) for f in c["exit_fractions"]),
                     f"{c['expected_macs'] / 1e6:.2f} M", _pct(c["expected_macs_relative"]))
    return [per_exit, casc]
