"""What a compiled cascade costs: multiply-accumulates per kernel call and arena bytes per segment."""

from __future__ import annotations

import numpy as np

from tinyee.compile.emit import CompiledSegment
from tinyee.compile.lower import Call


def call_macs(c: Call) -> int:
    """int8 multiply-accumulates of one kernel call (0 for calls that do none)."""
    p = c.params
    if c.op.name == "CONV_2D":
        return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"] * p["in_c"]
    if c.op.name == "DEPTHWISE_CONV_2D":
        return p["out_h"] * p["out_w"] * p["out_c"] * p["k_h"] * p["k_w"]
    if c.op.name == "FULLY_CONNECTED":
        return p["rows"] * p["in_depth"] * p["out_depth"]
    if c.op.name == "BATCH_MATMUL":
        return int(np.prod(p["batch"])) * p["rows"] * p["cols"] * p["depth"]
    return 0


def memory_report(segments: list[CompiledSegment]) -> dict:
    """Arena bytes per segment (peak of the plan, bytes alive at its busiest step, largest single op's
    inputs + outputs + scratch) and for the cascade, which runs the segments in one arena."""
    rows = [{"segment": s.index, "peak_arena_bytes": s.plan.size, "live_bound_bytes": s.plan.live_bound,
             "largest_op_bytes": s.plan.largest_op} for s in segments]
    return {"segments": rows, "cascade_arena_bytes": max(r["peak_arena_bytes"] for r in rows)}
