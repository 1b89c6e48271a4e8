"""What a compiled cascade costs: multiply-accumulates per kernel call and arena bytes per segment."""

from __future__ import annotations

from tinyee.compile.emit import CompiledSegment
from tinyee.compile.call import Call
from tinyee.compile import route
from tinyee.compile.ops import OPS


def call_macs(c: Call) -> int:
    """int8 multiply-accumulates of one kernel call (0 for calls that do none, fused chains included; a routed
    expert's on every row, as the dense graph runs it)."""
    if c.op.name == route.NAME:
        return route.dense_macs(c)
    module = OPS.get(c.op.name)
    return module.macs(c.params) if hasattr(module, "macs") and c.params else 0


def memory_report(segments: list[CompiledSegment]) -> dict:
    """Arena bytes per segment (peak of the plan, bytes alive at its busiest step, largest single op's
    inputs + outputs + scratch) and for the cascade, which runs the segments in one arena."""
    rows = [{"segment": s.index, "peak_arena_bytes": s.plan.size, "live_bound_bytes": s.plan.live_bound,
             "largest_op_bytes": s.plan.largest_op} for s in segments]
    return {"segments": rows, "cascade_arena_bytes": max(r["peak_arena_bytes"] for r in rows)}
