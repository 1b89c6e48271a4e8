"""Firmware compiler: int8 TFLite segments -> C calls into tinyee's kernel library.

``lower`` turns ops into reference kernel calls with precomputed parameters (one registry module
per op in ``ops``), ``optimize`` swaps in the optimised kernels (unless the reference set is asked
for), ``stream`` runs chains of them row by row where that lowers the peak arena, ``plan`` places
tensors in one static arena shared by all segments, ``emit`` writes the C
sources; ``library`` packages them as a product's library, ``firmware`` builds the benchmark
firmware, ``native`` builds them on the host for bit-exactness checks, ``analysis`` describes them.
"""

from __future__ import annotations

from pathlib import Path

from tinyee.compile.emit import CompiledSegment, write_sources
from tinyee.compile.lower import lower
from tinyee.compile.optimize import KERNEL_SETS, optimize
from tinyee.compile.plan import plan_arena
from tinyee.compile.stream import choose_streams
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest
from tinyee.tflite import TfliteModel, chain_mismatch, segment_outputs


def compile_segments(models: list[TfliteModel], kernels: str = "optimized", route: bool = True,
                     stream: bool = True) -> list[CompiledSegment]:
    """Lower and plan each segment; segment k+1's inputs sit where segment k left its boundary tensors.
    route: the optimised set runs mixture-of-experts layers' experts only on their tokens (False: densely,
    as the TFLite graph is written; for measuring what routing saves). stream: the optimised set runs
    chains of convolutions row by row where that lowers a segment's peak arena (stream.py)."""
    if kernels not in KERNEL_SETS:
        raise TinyeeError(f"kernel set {kernels!r}: choose one of {', '.join(KERNEL_SETS)}")
    all_calls = [lower(m) for m in models]
    if kernels == "optimized":
        all_calls = optimize(models, all_calls, route)
    out, pinned = [], None
    for k, (m, calls) in enumerate(zip(models, all_calls)):
        streams, plan = (choose_streams(m, calls, pinned) if kernels == "optimized" and stream
                         else ([], plan_arena(m, calls, pinned)))
        # a cascade segment, or a lone model (single-op conformance tests) whose first output stands for the exit
        probs, boundary = segment_outputs(m) if any(len(t.shape) == 2 for t in m.outputs) else (m.outputs[0], [])
        out.append(CompiledSegment(k, m, calls, plan, probs.index, tuple(t.index for t in boundary), tuple(streams)))
        if boundary and k + 1 < len(models):
            nxt = models[k + 1]
            why = chain_mismatch(boundary, nxt.inputs)
            if why:
                raise TinyeeError(f"{nxt.name} does not chain with {m.name}: {why}")
            pinned = {t.index: plan.offsets[b.index] for t, b in zip(nxt.inputs, boundary)}
    return out


def compile_export(export_dir: Path, manifest: Manifest, out_dir: Path, kernels: str = "optimized",
                   route: bool = True) -> list[CompiledSegment]:
    """Generate the C of an exported cascade (tinyee.compile.emit) in out_dir; returns the compiled segments."""
    models = [TfliteModel.load(Path(export_dir) / s.file) for s in manifest.segments]
    segments = compile_segments(models, kernels, route)
    write_sources(Path(out_dir), segments, manifest.model_id, manifest.thresholds_q, manifest.num_classes,
                  manifest.criterion, kernels)
    return segments


__all__ = ["KERNEL_SETS", "CompiledSegment", "compile_segments", "compile_export", "write_sources"]
