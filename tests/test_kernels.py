"""Kernel conformance: tinyee's generated C vs the TFLite Micro interpreter, op by op.

Random single-op int8 models (op_cases.py) are compiled together into one native library per
kernel path and compared with TFLM output for output. Zero mismatches is the bar.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from op_cases import (ALL_GENERATORS, DEAD_SCALE, FUSED_GENERATORS, GENERATORS, case_layer_norm, sample_inputs,
                      tflm)
from op_models import OpModel, options
from tinyee.compile import compile_segments, write_sources
from tinyee.compile.native import HOST_PATHS, HostRunner, build_shared_library
from tinyee.compile.sources import KERNEL_DIR
from tinyee.tflite import TfliteModel

CASES_PER_OP = 40
CASES_PER_FUSED_CHAIN = 12
SAMPLES_PER_CASE = 3


@pytest.fixture(scope="module")
def cases():
    rng = np.random.default_rng(2026)
    return [(name, i, gen(rng)) for name, gen in ALL_GENERATORS.items()
            for i in range(CASES_PER_OP if name in GENERATORS else CASES_PER_FUSED_CHAIN)]


# The reference kernels, and the optimised kernels with each inner-loop path (DSP and Helium through
# C definitions of their intrinsics; test_firmware runs them on the emulated Cortex-M4 and M55).
KERNEL_PATHS = [("reference", "portable"), ("optimized", "portable"), ("optimized", "dsp"), ("optimized", "mve")]


@pytest.fixture(scope="module", params=KERNEL_PATHS, ids=["-".join(p) for p in KERNEL_PATHS])
def library(request, cases, tmp_path_factory):
    kernels, path = request.param
    models = [TfliteModel(data, f"{name}#{i}") for name, i, data in cases]
    segments = compile_segments(models, kernels)
    out = tmp_path_factory.mktemp("kernels")
    write_sources(out, segments, "kernel-conformance", [], 0, kernels=kernels)
    runner = HostRunner(build_shared_library(out, out / "kernels.so", path=path), segments)
    return cases, segments, runner, kernels


def test_optimised_kernels_are_used(cases):
    """Every op with an optimised kernel gets it in the optimised set (some cases fall back, e.g. depth multiplier 2)."""
    models = [TfliteModel(data, f"{name}#{i}") for name, i, data in cases]
    used = {c.kernel for s in compile_segments(models, "optimized") for c in s.calls}
    assert {"tee_conv2d_gemm_s8", "tee_depthwise_conv2d_simd_s8", "tee_fully_connected_gemm_s8",
            "tee_batch_matmul_gemm_s8", "tee_binary_table_s8", "tee_binary_simd_s8", "tee_softmax_table_s8", "tee_lut_s8",
            "tee_layer_norm_s8", "tee_routed_expert_s8", "tee_average_pool_simd_s8",
            "tee_squared_difference_table_s8"} <= used
    assert not {"tee_logistic_s8", "tee_rsqrt_s8", "tee_hard_swish_s8"} & used


@pytest.mark.parametrize("op_name", sorted(ALL_GENERATORS))
def test_kernel_matches_tflite_micro(library, op_name):
    """Every case of the op (or fused chain) on this kernel set and path equals TFLM output for output."""
    cases, segments, runner, kernels = library
    rng = np.random.default_rng(7)
    checked = streamed = 0
    for (name, i, data), seg in zip(cases, segments):
        if name != op_name:
            continue
        if op_name == "ROW_STREAM":  # streams in the optimised set only
            streamed += bool(seg.streams)
            assert not seg.streams or kernels == "optimized"
        elif op_name in FUSED_GENERATORS:  # fused calls in the optimised set, the chain's ops in the reference
            assert (op_name in [c.op.name for c in seg.calls]) == (kernels == "optimized")
        else:
            assert [c.op.name for c in seg.calls] == [op_name]
        for k in range(SAMPLES_PER_CASE):
            inputs = sample_inputs(rng, seg.model, op_name, k)
            want = tflm(data, inputs)
            for t, v in zip(seg.model.inputs, inputs):
                runner.write(seg, t.index, v)
            runner.run(seg.index)
            got = runner.view(seg, seg.model.outputs[0].index)
            mism = int((got.reshape(-1) != want.reshape(-1)).sum())
            assert mism == 0, f"{name}#{i} sample {k}: {mism} of {want.size} outputs differ\ngot  {got.reshape(-1)[:16]}\nwant {want.reshape(-1)[:16]}"
            checked += want.size
    assert checked > 0
    if op_name == "ROW_STREAM" and kernels == "optimized":  # most cases are big enough to gain from a stream
        assert streamed >= CASES_PER_FUSED_CHAIN // 2


@pytest.mark.parametrize("path", sorted(HOST_PATHS))
def test_requantization_shortcuts_equal_tflite_rounding(path, tmp_path):
    """The optimised kernels' requantizations (per-channel split with SMMLAR's high multiply, Helium's
    four-lane VQRDMULH/VRSHL) equal tee_requantize on edge, tie and random values over every shift
    (tests/c/requantize_check.c); the scalar form skips the zero multipliers it is not used for."""
    exe = tmp_path / "requantize_check"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", *HOST_PATHS[path], f"-I{KERNEL_DIR}",
                    str(Path(__file__).parent / "c" / "requantize_check.c"), "-o", str(exe)], check=True)
    checked, bad = map(int, subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split())
    assert checked == 633_280 and bad == 0


def zero_multiplier_models(rng) -> list[bytes]:
    """FULLY_CONNECTED and MUL whose output multipliers are below 2^-31, so QuantizeMultiplier gives 0, and an
    ADD whose first input's rescaling multiplier is."""
    fc = OpModel()
    x = fc.tensor([3, 8], 1e-6, 5)
    f = fc.tensor([4, 8], [1e-6], 0, rng.integers(-127, 128, (4, 8)))
    y = fc.tensor([3, 4], 100.0, -7)
    fc.op("FULLY_CONNECTED", [x, f], [y], options("FullyConnectedOptions"), "FullyConnectedOptions")
    mul = OpModel()
    a, b, z = mul.tensor([2, 300], 1e-6, 3), mul.tensor([2, 300], 1e-6, -4), mul.tensor([2, 300], 100.0, 9)
    mul.op("MUL", [a, b], [z], options("MulOptions"), "MulOptions")
    add = OpModel()
    u, v, w = add.tensor([2, 300], 1e-12, 3), add.tensor([2, 300], 0.5, -4), add.tensor([2, 300], 0.5, 9)
    add.op("ADD", [u, v], [w], options("AddOptions"), "AddOptions")
    return [fc.build([x], [y]), mul.build([a, b], [z]), add.build([u, v], [w])]


def dead_channel_models(rng) -> list[bytes]:
    """CONV_2D, DEPTHWISE_CONV_2D and per-channel FULLY_CONNECTED with dead channels (weight scales whose
    multiplier underflows to TFLite's 0) beside live ones, one of them with a multiplier above 1."""
    out = []
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        m = OpModel()
        c = 12
        s_w = [DEAD_SCALE if ch % 3 == 0 else 10 ** rng.uniform(-3, -1) for ch in range(c)]
        s_w[1] = 0.5  # multiplier 0.5 * 0.02 / 0.004 = 2.5
        x = m.tensor([1, 5, 6, c] if op != "FULLY_CONNECTED" else [3, c], 0.02, 3)
        shape = {"CONV_2D": [c, 3, 3, c], "DEPTHWISE_CONV_2D": [1, 3, 3, c], "FULLY_CONNECTED": [c, c]}[op]
        f = m.tensor(shape, s_w, 0, rng.integers(-127, 128, shape), axis=3 if op == "DEPTHWISE_CONV_2D" else 0)
        b = m.tensor([c], [0.02 * s for s in s_w], 0, rng.integers(-3000, 3000, c), dtype=np.int32)
        y = m.tensor([1, 5, 6, c] if op != "FULLY_CONNECTED" else [3, c], 0.004, -5)
        if op == "FULLY_CONNECTED":
            m.op(op, [x, f, b], [y], options("FullyConnectedOptions"), "FullyConnectedOptions")
        else:
            kind = "DepthwiseConv2DOptions" if op == "DEPTHWISE_CONV_2D" else "Conv2DOptions"
            extra = {"depthMultiplier": 1} if op == "DEPTHWISE_CONV_2D" else {}
            m.op(op, [x, f, b], [y], options(kind, padding=0, strideH=1, strideW=1, dilationHFactor=1,
                                             dilationWFactor=1, **extra), kind)
        out.append(m.build([x], [y]))
    return out


def run_against_tflm(data: list[bytes], segments, runner, rng) -> None:
    for model, seg in zip(data, segments):
        inputs = [rng.integers(-128, 128, t.shape).astype(np.int8) for t in seg.model.inputs]
        for t, v in zip(seg.model.inputs, inputs):
            runner.write(seg, t.index, v)
        runner.run(seg.index)
        got = runner.view(seg, seg.model.outputs[0].index)
        assert np.array_equal(got.reshape(-1), tflm(model, inputs).reshape(-1)), seg.model.name


@pytest.mark.parametrize("path", sorted(HOST_PATHS))
def test_underflowing_multipliers(path, tmp_path):
    """Dead channels (a per-channel multiplier below 2^-31, TFLite's 0: outputs at the zero point) run on the
    optimised convolution, depthwise and matrix-product kernels, and so does a per-tensor FULLY_CONNECTED all
    of whose outputs are dead; a per-tensor zero multiplier of an element-wise op keeps its reference kernel,
    with the reason. All match TFLite Micro."""
    rng = np.random.default_rng(3)
    data = dead_channel_models(rng) + zero_multiplier_models(rng)
    segments = compile_segments([TfliteModel(d, f"zero-multiplier#{i}") for i, d in enumerate(data)], "optimized")
    calls = [c for s in segments for c in s.calls]
    assert [c.kernel for c in calls] == ["tee_conv2d_gemm_s8", "tee_depthwise_conv2d_simd_s8",
                                         "tee_fully_connected_gemm_s8", "tee_fully_connected_gemm_s8",
                                         "tee_binary_s8", "tee_binary_s8"]
    assert [bool(c.slow_path) for c in calls] == [False] * 4 + [True] * 2
    assert all("2^-31" in c.slow_path for c in calls[4:])
    write_sources(tmp_path, segments, "zero-multiplier", [], 0, kernels="optimized")
    runner = HostRunner(build_shared_library(tmp_path, tmp_path / "kernels.so", path=path), segments)
    for _ in range(3):
        run_against_tflm(data, segments, runner, rng)


def test_layer_norm_chain_read_elsewhere_is_not_fused(tmp_path):
    """A LayerNorm whose mean is also a model output keeps its ten kernels (the fused kernel stores no
    intermediate), and still matches TFLite Micro."""
    rng = np.random.default_rng(5)
    data = case_layer_norm(rng, expose_mean=True)
    model = TfliteModel(data, "layer-norm-with-mean")
    [seg] = compile_segments([model], "optimized")
    assert "LAYER_NORM" not in [c.op.name for c in seg.calls] and len(seg.calls) == 10
    write_sources(tmp_path, [seg], "layer-norm", [], 0, kernels="optimized")
    runner = HostRunner(build_shared_library(tmp_path, tmp_path / "kernels.so", path="dsp"), [seg])
    x = rng.integers(-128, 128, model.inputs[0].shape).astype(np.int8)
    runner.write(seg, model.inputs[0].index, x)
    runner.run(seg.index)
    assert len(model.outputs) == 2
    for k, out in enumerate(model.outputs):
        assert np.array_equal(runner.view(seg, out.index).reshape(-1), tflm(data, [x], k).reshape(-1))
