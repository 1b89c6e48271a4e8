"""Rewrite reference kernel calls into tinyee's optimised kernels where they apply.

CONV_2D, FULLY_CONNECTED and BATCH_MATMUL become one int8 matrix product (firmware/kernels/gemm.c)
with the input zero point folded into the bias; DEPTHWISE_CONV_2D runs four channels at a time;
LOGISTIC, RSQRT and HARD_SWISH, and SiLU's LOGISTIC + MUL pair, become 256-entry tables computed
by running the reference kernels natively on every int8 value (exact by construction); large
ADD/SUB/SQUARED_DIFFERENCE and SOFTMAX ops tabulate their per-value work in scratch first. Which instructions the optimised
kernels use (Helium, DSP extension, portable C) follows from the board's compiler flags.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinyee.compile.emit import struct_definition
from tinyee.compile.lower import Call
from tinyee.errors import TinyeeError
from tinyee.tflite import TfliteModel

KERNEL_SETS = ("optimized", "reference")
TABULATED = ("tee_logistic_s8", "tee_rsqrt_s8", "tee_hard_swish_s8")
MAX_DEPTHWISE_TAPS = 64  # TEE_MAX_TAPS in tinyee_kernels.h
TABLE_WORTH_IT = 512  # elements from which filling a 256-entry table first saves work


def _wrap32(v: np.ndarray) -> list[int]:
    """int64 values as the int32 the C code computes (two's complement wrap-around)."""
    return [int(x) for x in (np.asarray(v, np.int64) + 2**31) % 2**32 - 2**31]


def _folded_bias(model: TfliteModel, filter_index: int, bias_index: int, in_offset: int) -> list[int]:
    """bias + in_offset * (sum of each output channel's weights)."""
    w = np.asarray(model.tensors[filter_index].data, np.int64)
    sums = w.reshape(w.shape[0], -1).sum(axis=1)
    bias = np.asarray(model.tensors[bias_index].data, np.int64) if bias_index >= 0 else 0
    return _wrap32(bias + in_offset * sums)


def _conv(model: TfliteModel, c: Call) -> Call:
    p = c.params
    x, w, b, y = (v for _, v in c.args)
    pointwise = p["k_h"] == p["k_w"] == p["stride_h"] == p["stride_w"] == 1 and p["pad_h"] == p["pad_w"] == 0
    return dataclasses.replace(
        c, kernel="tee_conv2d_gemm_s8", arrays={**c.arrays, "folded_bias": _folded_bias(model, w, b, p["in_offset"])},
        args=[("tensor", x), ("tensor", w), ("scratch", None), ("tensor", y)],
        scratch=0 if pointwise else 2 * p["k_h"] * p["k_w"] * p["in_c"])


def _fully_connected(model: TfliteModel, c: Call) -> Call:
    if c.params["filter_offset"] != 0:
        return c
    x, w, b, y = (v for _, v in c.args)
    return dataclasses.replace(
        c, kernel="tee_fully_connected_gemm_s8",
        arrays={**c.arrays, "folded_bias": _folded_bias(model, w, b, c.params["in_offset"])},
        args=[("tensor", x), ("tensor", w), ("tensor", y)])


def _batch_matmul(model: TfliteModel, c: Call) -> Call:
    p = c.params
    pack_lhs, pack_rhs = int(p["lhs_depth_stride"] != 1), int(p["rhs_depth_stride"] != 1)
    lhs, rhs, y = (v for _, v in c.args)
    scratch = 4 * (p["rows"] + p["cols"]) + pack_lhs * p["rows"] * p["depth"] + pack_rhs * p["cols"] * p["depth"]
    return dataclasses.replace(c, kernel="tee_batch_matmul_gemm_s8", params={**p, "pack_lhs": pack_lhs, "pack_rhs": pack_rhs},
                               args=[("tensor", lhs), ("tensor", rhs), ("scratch", None), ("tensor", y)], scratch=scratch)


def _depthwise(model: TfliteModel, c: Call) -> Call:
    p = c.params
    if p["depth_multiplier"] != 1 or p["k_h"] * p["k_w"] > MAX_DEPTHWISE_TAPS:
        return c
    x, w, b, y = (v for _, v in c.args)
    args = [("tensor", x), ("tensor", w), ("tensor", b), ("scratch", None), ("tensor", y)]
    if (p["stride_h"], p["stride_w"], p["out_h"], p["out_w"]) != (1, 1, p["in_h"], p["in_w"]):
        return dataclasses.replace(c, kernel="tee_depthwise_conv2d_simd_s8", args=args)
    # Output row y lands on input row y: a ring of the input rows still to be read lets it overwrite the input.
    ring = (p["pad_h"] * p["dil_h"] + 1) * p["in_w"] * p["in_c"]
    return dataclasses.replace(c, kernel="tee_depthwise_conv2d_simd_s8", args=args, scratch=ring, in_place=(x,))


def _binary(model: TfliteModel, c: Call) -> Call:
    size = int(np.prod(c.params["out_dims"]))
    if c.params["op"] == "TEE_MUL" or size < TABLE_WORTH_IT:
        return c
    in1, in2, y = (v for _, v in c.args)
    return dataclasses.replace(c, kernel="tee_binary_table_s8", scratch=2 * 256 * 4,
                               args=[("tensor", in1), ("tensor", in2), ("scratch", None), ("tensor", y)])


def _softmax(model: TfliteModel, c: Call) -> Call:
    if c.params["rows"] * c.params["depth"] < TABLE_WORTH_IT:
        return c
    x, y = (v for _, v in c.args)
    return dataclasses.replace(c, kernel="tee_softmax_table_s8", scratch=256 * 4,
                               args=[("tensor", x), ("scratch", None), ("tensor", y)])


REWRITES = {"tee_conv2d_s8": _conv, "tee_fully_connected_s8": _fully_connected,
            "tee_batch_matmul_s8": _batch_matmul, "tee_depthwise_conv2d_s8": _depthwise,
            "tee_binary_s8": _binary, "tee_softmax_s8": _softmax}


# Struct fields that make a call run on 256 values in a row, for tabulation.
FLAT_256 = {"tee_binary_s8": {"ndims": 1, "out_dims": [256], "in1_strides": [1], "in2_strides": [1]},
            **{kernel: {"size": 256} for kernel in TABULATED}}


def tabulate(chains: list[list[Call]]) -> list[list[int]]:
    """Output of each chain of element-wise calls (the first call's input feeds the chain) for the 256
    int8 inputs -128..127, from the reference kernels built and run natively."""
    from tinyee.compile.host import KERNEL_DIR, kernel_sources

    if not chains:
        return []
    if shutil.which("gcc") is None:
        raise TinyeeError("the optimised kernels compute their lookup tables with the host C compiler: install gcc "
                          "(scripts/setup.sh does), or build with --kernels reference")
    structs, runs = [], []
    for i, chain in enumerate(chains):
        source = chain[0].op.inputs[0]
        buffers = {source: "in"}
        for j, c in enumerate(chain):
            name = f"p{i}_{j}"
            structs.append(struct_definition(c, name, FLAT_256[c.kernel]))
            for _, t in c.args[:-1]:
                if t not in buffers:
                    raise TinyeeError(f"op #{c.op.index} {c.op.name}: input {t} is not computed by the chain")
            out = c.args[-1][1]
            buffers[out] = f"b{i}_{j}"
            runs.append(f"    int8_t b{i}_{j}[256];\n    {c.kernel}(&{name}, "
                        f"{', '.join(buffers[t] for _, t in c.args)});\n")
        runs.append(f"    print(b{i}_{len(chain) - 1});\n")
    program = f"""#include <stdio.h>
#include "tinyee_kernels.h"
{"".join(structs)}
static void print(const int8_t *v) {{
    for (int i = 0; i < 256; ++i) printf("%d ", v[i]);
    printf("\\n");
}}
int main(void) {{
    int8_t in[256];
    for (int i = 0; i < 256; ++i) in[i] = (int8_t)(i - 128);
{"".join(runs)}    return 0;
}}
"""
    with tempfile.TemporaryDirectory(prefix="tinyee-tables-") as tmp:
        src, exe = Path(tmp) / "tables.c", Path(tmp) / "tables"
        src.write_text(program)
        build = subprocess.run(["gcc", "-std=c99", "-O1", f"-I{KERNEL_DIR}", str(src), *map(str, kernel_sources()),
                                "-o", str(exe)], capture_output=True, text=True)
        if build.returncode:
            raise TinyeeError(f"building the lookup-table generator failed:\n{build.stderr[-3000:]}")
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return [[int(v) for v in line.split()] for line in out.splitlines()]


def _silu_pairs(model: TfliteModel, calls: list[Call]) -> dict[int, int]:
    """LOGISTIC -> MUL(x, logistic(x)) pairs (SiLU), as {logistic step: mul step}, where the logistic
    output feeds nothing else: the pair is one function of x, so one table."""
    consumers: dict[int, list[int]] = {}
    for step, c in enumerate(calls):
        for t in c.op.inputs:
            consumers.setdefault(t, []).append(step)
    outputs = {t.index for t in model.outputs}
    pairs = {}
    for step, c in enumerate(calls):
        if c.kernel != "tee_logistic_s8":
            continue
        x, s = c.op.inputs[0], c.op.outputs[0]
        users = consumers.get(s, [])
        if s in outputs or len(users) != 1:
            continue
        mul = calls[users[0]]
        if mul.kernel == "tee_binary_s8" and mul.params["op"] == "TEE_MUL" and sorted(mul.op.inputs) == sorted([x, s]):
            pairs[step] = users[0]
    return pairs


def optimize(models: list[TfliteModel], calls: list[list[Call]]) -> list[list[Call]]:
    """Each model's reference calls with optimised kernels swapped in; one native build tabulates them all."""
    plans = []
    for model, cs in zip(models, calls):
        pairs = _silu_pairs(model, cs)
        chains = {step: [c] for step, c in enumerate(cs) if c.kernel in TABULATED and step not in pairs}
        chains.update({mul: [cs[step], cs[mul]] for step, mul in pairs.items()})
        plans.append((pairs, chains))
    tables = iter(tabulate([chain for _, chains in plans for chain in chains.values()]))
    out = []
    for model, cs, (pairs, chains) in zip(models, calls, plans):
        table_of = {step: next(tables) for step in chains}
        rewritten = []
        for step, c in enumerate(cs):
            if step in pairs:
                continue  # computed by its MUL's table
            if step in table_of:
                x, y = chains[step][0].op.inputs[0], c.op.outputs[0]
                size = int(np.prod(model.tensors[y].shape))
                c = Call(c.op, "tee_lut_s8", None, in_place=(x,),
                         args=[("table", table_of[step]), ("int", size), ("tensor", x), ("tensor", y)])
            elif c.kernel in REWRITES:
                c = REWRITES[c.kernel](model, c)
            rewritten.append(c)
        out.append(rewritten)
    return out
