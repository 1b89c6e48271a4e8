"""Firmware compiler: int8 TFLite segments -> C calls into tinyee's kernel library.

``lower`` turns ops into reference kernel calls with precomputed parameters (one registry module
per op in ``ops``), ``optimize`` swaps in the optimised kernels (unless the reference set is asked
for), ``plan`` places tensors in one static arena shared by all segments, ``emit`` writes the C
sources; ``library`` packages them as a product's library, ``firmware`` builds the benchmark
firmware, ``native`` builds them on the host for bit-exactness checks, ``analysis`` describes them.
"""

from __future__ import annotations

from pathlib import Path

from tinyee.compile.emit import CompiledSegment, write_sources
from tinyee.compile.lower import lower
from tinyee.compile.optimize import KERNEL_SETS, optimize
from tinyee.compile.plan import plan_arena
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest
from tinyee.tflite import TfliteModel


def compile_segments(models: list[TfliteModel], kernels: str = "optimized") -> list[CompiledSegment]:
    """Lower and plan each segment; segment k+1's input sits where segment k's feature map is."""
    if kernels not in KERNEL_SETS:
        raise TinyeeError(f"kernel set {kernels!r}: choose one of {', '.join(KERNEL_SETS)}")
    all_calls = [lower(m) for m in models]
    if kernels == "optimized":
        all_calls = optimize(models, all_calls)
    out, pinned = [], None
    for k, (m, calls) in enumerate(zip(models, all_calls)):
        plan = plan_arena(m, calls, pinned)
        ranks = {len(t.shape): t.index for t in m.outputs}
        probs = ranks.get(2, m.outputs[0].index)
        feature = ranks.get(4) if len(m.outputs) > 1 else None
        out.append(CompiledSegment(k, m, calls, plan, probs, feature))
        if feature is not None and k + 1 < len(models):
            nxt = models[k + 1].inputs[0]
            if tuple(nxt.shape) != tuple(m.tensors[feature].shape) or nxt.quant() != m.tensors[feature].quant():
                raise TinyeeError(f"{models[k + 1].name}: input {list(nxt.shape)} {nxt.quant()} does not chain with "
                                  f"{m.name}'s feature map {list(m.tensors[feature].shape)} {m.tensors[feature].quant()}")
            pinned = {nxt.index: plan.offsets[feature]}
    return out


def compile_export(export_dir: Path, manifest: Manifest, out_dir: Path, kernels: str = "optimized"
                   ) -> list[CompiledSegment]:
    """Generate the C of an exported cascade (tinyee.compile.emit) in out_dir; returns the compiled segments."""
    models = [TfliteModel.load(Path(export_dir) / s.file) for s in manifest.segments]
    segments = compile_segments(models, kernels)
    write_sources(Path(out_dir), segments, manifest.model_id, manifest.thresholds_q, manifest.num_classes,
                  manifest.criterion, kernels)
    return segments


__all__ = ["KERNEL_SETS", "CompiledSegment", "compile_segments", "compile_export", "write_sources"]
