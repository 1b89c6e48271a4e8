"""Whole-segment bit-exactness of the generated C and the compiler's checks and memory plan."""

import numpy as np
import pytest

from conftest import host_against_tflm
from op_models import OpModel, options
from tinyee.compile import compile_export, compile_segments
from tinyee.compile.native import HostRunner, build_shared_library
from tinyee.data import load_shipped
from tinyee.errors import TinyeeError
from tinyee.eval.evaluate import quantized_inputs
from tinyee.tflite import TfliteModel


@pytest.fixture(scope="module")
def compiled(shipped_export, tmp_path_factory):
    out_dir, manifest, _ = shipped_export
    src = tmp_path_factory.mktemp("gen")
    segments = compile_export(out_dir, manifest, src)
    return out_dir, manifest, segments, HostRunner(build_shared_library(src, src / "model.so"), segments)


def test_generated_segments_match_tflite_micro_on_every_shipped_image(compiled):
    """Every exit's softmax and every feature map, for all 2,000 shipped test images: zero mismatches."""
    out_dir, manifest, segments, host = compiled
    inputs = quantized_inputs(manifest, load_shipped("eval"))
    compared, mismatched = host_against_tflm(out_dir, manifest, segments, host, inputs)
    assert len(inputs) == 2000 and compared > 2000 * (10 * 3 + 2 * 8 * 8 * 24)
    assert mismatched == 0


def test_feature_map_is_handed_over_in_place(compiled):
    _, _, segments, _ = compiled
    for prev, nxt in zip(segments, segments[1:]):
        assert [nxt.plan.offsets[t.index] for t in nxt.model.inputs] == \
            [prev.plan.offsets[t] for t in prev.boundary_tensors]


def test_arena_plan_never_overlaps_live_tensors(compiled):
    _, _, segments, _ = compiled
    for seg in segments:
        bufs = seg.plan.buffers
        for i, (off_a, size_a, lo_a, hi_a) in enumerate(bufs):
            for off_b, size_b, lo_b, hi_b in bufs[i + 1:]:
                if not (hi_a < lo_b or hi_b < lo_a):  # alive at the same time
                    assert off_a + size_a <= off_b or off_b + size_b <= off_a
        # The plan may not exceed keeping every buffer separately, and must hold what is alive at once.
        assert seg.plan.size <= sum(size for _, size, _, _ in bufs)
        alive = max(sum(size for _, size, lo, hi in bufs if lo <= step <= hi) for step in range(-1, len(seg.calls) + 1))
        assert seg.plan.size >= alive == seg.plan.live_bound
        assert seg.plan.size >= seg.plan.largest_op


def test_arena_plan_reaches_the_live_bytes_bound_and_beats_the_unshared_plan(compiled):
    """Lifetime-based placement with in-place element-wise ops: each segment's peak equals the bytes
    alive at its busiest step, and is below keeping each op's operands apart (no in-place, no fusion)."""
    _, _, segments, _ = compiled
    for seg in segments:
        assert seg.plan.size == seg.plan.live_bound
    assert segments[0].plan.size < segments[0].model.peak_op_activation_bytes


def test_unsupported_op_names_op_index_and_model():
    m = OpModel()
    x, y = m.tensor([1, 4], 0.1, 0), m.tensor([1, 4], 0.1, 0)
    m.op("LEAKY_RELU", [x], [y], options("LeakyReluOptions", alpha=0.1), "LeakyReluOptions")
    with pytest.raises(TinyeeError, match=r"leaky.tflite: op #0 LEAKY_RELU: no int8 kernel"):
        compile_segments([TfliteModel(m.build([x], [y]), "leaky.tflite")])


def test_non_int8_tensors_are_refused():
    m = OpModel()
    x, y = m.tensor([2, 3], dtype=np.int32), m.tensor([2, 3], dtype=np.int32)
    m.op("ADD", [x, x], [y], options("AddOptions"), "AddOptions")
    with pytest.raises(TinyeeError, match="int32; the firmware runs int8 only"):
        compile_segments([TfliteModel(m.build([x], [y]), "int32.tflite")])


def test_all_exit_heads_export_compile_and_match_tflite_micro(mixed_heads_export, tmp_path):
    """bof, slvit and linear heads (random weights) through export, C generation and TFLM comparison."""
    export, manifest, _ = mixed_heads_export
    segments = compile_export(export, manifest, tmp_path / "src")
    host = HostRunner(build_shared_library(tmp_path / "src", tmp_path / "src" / "model.so"), segments)
    compared, mismatched = host_against_tflm(export, manifest, segments, host,
                                             quantized_inputs(manifest, load_shipped("eval").take(40)))
    assert compared > 40 * 3 * 10 and mismatched == 0
    assert manifest.segments[0].ops["SOFTMAX"] == 2  # the bag-of-features soft assignment + the exit
    assert [h["kind"] for h in manifest.exit_heads] == ["bof", "slvit", "linear"]
