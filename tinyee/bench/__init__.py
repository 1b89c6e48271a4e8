"""Benchmarks on boards: stream inputs over serial, record per-sample exits and per-exit ticks,
check agreement with the host int8 cascade, summarise as JSON/CSV/PNG; profile kernel calls."""

from tinyee.bench.op_profile import by_op_type, profile_cascade, profile_on_board
from tinyee.bench.runner import RESULTS_NAME, BenchPlan, read_results, run_bench
from tinyee.bench.summary import summarize, write_outputs

__all__ = ["BenchPlan", "RESULTS_NAME", "by_op_type", "profile_cascade", "profile_on_board", "read_results", "run_bench", "summarize",
           "write_outputs"]
