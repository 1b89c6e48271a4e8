"""What a compiled cascade is, layer by layer, without a device: `tinyee analyze`.

Per kernel call: the op, the kernel and inner-loop path it runs, shapes, MACs, constant bytes (weights,
parameter arrays, tables), where its output lives in the arena (a streamed call's: in a window of rows)
and for which steps, and its scratch.
Per segment and for the cascade: constant bytes (flash, code aside), peak arena and MACs per exit.
"""

from __future__ import annotations

import numpy as np

from tinyee.compile.call import Call, IntsArg, TableArg, TensorArg, array_ctype
from tinyee.compile.emit import CompiledSegment
from tinyee.compile.footprint import call_macs

# Optimised kernels whose inner loops come in Helium, DSP and portable flavours (tee_simd.h; a routed
# expert's are its matrix products').
SIMD_KERNELS = {"tee_conv2d_gemm_s8", "tee_fully_connected_gemm_s8", "tee_batch_matmul_gemm_s8",
                "tee_depthwise_conv2d_simd_s8", "tee_binary_simd_s8", "tee_binary_table_s8", "tee_routed_expert_s8",
                "tee_average_pool_simd_s8", "tee_squared_difference_table_s8"}


def inner_loop_path(features: list[str]) -> str:
    """The path the optimised kernels take on a CPU with these board features (as the compiler picks it)."""
    return "mve" if "mve" in features else "dsp" if "dsp" in features else "portable"


def _const_bytes(seg: CompiledSegment, c: Call) -> int:
    tensors = {a.index for a in c.args.values() if isinstance(a, TensorArg) and a.index >= 0
               and seg.model.tensors[a.index].is_const}
    arrays = sum(array_ctype(f)[1] * len(v) for f, v in c.arrays.items())
    extra = sum(len(a.values) * (1 if isinstance(a, TableArg) else 4) for a in c.args.values()
                if isinstance(a, (TableArg, IntsArg)))
    return sum(seg.model.tensors[t].nbytes for t in tensors) + arrays + extra


def _lifetimes(seg: CompiledSegment) -> dict[int, tuple[int, int]]:
    """Activation tensor -> (step that writes it, last step that reads it); -1 / len(calls) for segment I/O."""
    life = {t.index: (-1, -1) for t in seg.model.inputs}
    for step, c in enumerate(seg.calls):
        for t in c.tensors():
            if t >= 0 and not seg.model.tensors[t].is_const:
                first, _ = life.get(t, (step, step))
                life[t] = (first, step)
    for t in seg.model.outputs:
        life[t.index] = (life.get(t.index, (len(seg.calls), 0))[0], len(seg.calls))
    return life


def slow_paths(segments: list[CompiledSegment]) -> list[dict]:
    """The calls an optimised build left on a reference kernel, and why (Call.slow_path)."""
    return [{"segment": seg.index, "op_index": c.op.index, "op": c.op.name, "kernel": c.kernel, "reason": c.slow_path}
            for seg in segments for c in seg.calls if c.slow_path]


def analyze(segments: list[CompiledSegment], path: str) -> dict:
    layers, seg_rows = [], []
    for seg in segments:
        life = _lifetimes(seg)
        stream_of = {step: k for k, s in enumerate(seg.streams) for step in s.steps}
        window = {w.tensor: w for s in seg.streams for w in s.windows}
        for step, c in enumerate(seg.calls):
            out = c.output
            t = seg.model.tensors[out]
            w = window.get(out)
            w = w if w and w.capacity < w.rows else None  # held whole
            inputs = [list(seg.model.tensors[i].shape) for i in c.op.inputs
                      if i >= 0 and not seg.model.tensors[i].is_const]
            layers.append({
                "segment": seg.index, "step": step, "op_index": c.op.index, "op": c.op.name,
                "kernel": c.kernel or "(alias: no code)", "path": path if c.kernel in SIMD_KERNELS else "-",
                "input_shapes": inputs, "output_shape": list(t.shape), "macs": call_macs(c),
                "const_bytes": _const_bytes(seg, c), "output_offset": seg.plan.offsets.get(out),
                "output_bytes": w.capacity * w.row_bytes if w else t.nbytes, "output_rows_held": w.capacity if w else None,
                "stream": stream_of.get(step), "output_life": list(life.get(out, (step, step))),
                "scratch_bytes": c.scratch, "in_place": bool(c.in_place) and c.kernel != "" and step not in stream_of,
                "slow_path": c.slow_path or None,
            })
        rows = [r for r in layers if r["segment"] == seg.index]
        seg_rows.append({"segment": seg.index, "calls": sum(1 for c in seg.calls if c.kernel),
                         "macs": sum(r["macs"] for r in rows), "const_bytes": sum(r["const_bytes"] for r in rows),
                         "peak_arena_bytes": seg.plan.size, "live_bound_bytes": seg.plan.live_bound})
    macs_to_exit = np.cumsum([s["macs"] for s in seg_rows]).tolist()
    return {"inner_loop_path": path, "layers": layers, "segments": seg_rows, "slow_paths": slow_paths(segments),
            "cascade": {"exits": len(segments), "macs_to_exit": macs_to_exit,
                        "const_bytes": sum(s["const_bytes"] for s in seg_rows),
                        "peak_arena_bytes": max(s["peak_arena_bytes"] for s in seg_rows)}}
