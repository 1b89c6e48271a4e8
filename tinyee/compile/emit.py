"""Emit the C source of a compiled cascade: constants in flash, one function per segment.

Output: ``tinyee_model.h`` (sizes, offsets, thresholds, segment table) and ``tinyee_model.c``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyee.cascade import entropy_lut
from tinyee.compile.lower import Call
from tinyee.compile.plan import Plan
from tinyee.tflite import TfliteModel

C_TYPES = {np.int8: "int8_t", np.int32: "int32_t", np.int16: "int16_t", np.uint8: "uint8_t"}


@dataclass
class CompiledSegment:
    index: int
    model: TfliteModel
    calls: list[Call]
    plan: Plan
    probs_tensor: int
    feature_tensor: int | None


@dataclass(frozen=True)
class OpSlot:
    """One kernel call of the cascade; its position is its index in the firmware's per-op tick table."""
    segment: int
    op_index: int
    op_name: str
    kernel: str


def op_slots(segments: list[CompiledSegment]) -> list[OpSlot]:
    """The kernel calls in the order the generated code numbers them (see Emitter._call)."""
    return [OpSlot(s.index, c.op.index, c.op.name, c.kernel) for s in segments for c in s.calls if c.kernel]


def _c_array(ctype: str, name: str, values, per_line: int = 24) -> str:
    vals = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)] or ["0"]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{max(len(vals), 1)}] TEE_ALIGNED = {{\n    {body}\n}};\n"


def _c_value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(str(int(x)) for x in v) + "}"
    return str(int(v))


def struct_definition(c: Call, name: str, overrides: dict | None = None) -> str:
    """C definition of a call's constant parameter struct `name` (and the int32 arrays it points to)."""
    arrays = "".join(_c_array("int32_t", f"{name}_{field}", values) for field, values in c.arrays.items())
    params = {**c.params, **(overrides or {})}
    fields = [f".{k} = {_c_value(v)}" for k, v in params.items()] + [f".{k} = {name}_{k}" for k in c.arrays]
    return arrays + f"static const {c.struct} {name} = {{{', '.join(fields)}}};\n"


class Emitter:
    def __init__(self, segments: list[CompiledSegment]):
        self.segments = segments
        self.consts: list[str] = []
        self.const_names: dict[tuple[int, int], str] = {}
        self.op_count = 0  # kernel calls emitted so far: the next call's slot (numbered as op_slots does)

    def _const(self, seg: CompiledSegment, t: int) -> str:
        key = (seg.index, t)
        if key not in self.const_names:
            tensor = seg.model.tensors[t]
            name = f"s{seg.index}_t{t}"
            self.consts.append(f"/* {tensor.name} {list(tensor.shape)} */\n" +
                               _c_array(C_TYPES[tensor.dtype], name, tensor.data))
            self.const_names[key] = name
        return self.const_names[key]

    def _pointer(self, seg: CompiledSegment, t: int) -> str:
        if t < 0:
            return "NULL"
        if seg.model.tensors[t].is_const:
            return self._const(seg, t)
        return f"arena + {seg.plan.offsets[t]}"

    def _call(self, seg: CompiledSegment, c: Call) -> list[str]:
        prefix = f"s{seg.index}_op{c.op.index}"
        lines, args = [], []
        if c.struct:
            self.consts.append(struct_definition(c, prefix))
            args.append(f"&{prefix}")
        for kind, value in c.args:
            if kind == "tensor":
                args.append(self._pointer(seg, value))
            elif kind == "tensor_list":
                lines.append(f"    const int8_t *const {prefix}_in[] = {{{', '.join(self._pointer(seg, t) for t in value)}}};")
                args.append(f"{prefix}_in")
            elif kind == "scratch":
                args.append(f"arena + {seg.plan.scratch[c.op.index]}" if c.scratch else "NULL")
            elif kind == "table":
                self.consts.append(_c_array("int8_t", f"{prefix}_table", value))
                args.append(f"{prefix}_table")
            elif kind == "ints":
                self.consts.append(_c_array("int32_t", f"{prefix}_ints", value))
                args.append(f"{prefix}_ints")
            else:
                args.append(str(int(value)))
        lines.append(f"    TEE_OP({self.op_count}, {c.kernel}({', '.join(args)})); /* {c.op.name} */")
        self.op_count += 1
        return lines

    def render(self, model_id: str, thresholds_q: list[int], num_classes: int,
               criterion: str = "max_softmax", kernels: str = "optimized") -> tuple[str, str]:
        funcs = []
        for seg in self.segments:
            body = []
            for c in seg.calls:
                if c.kernel:
                    body += self._call(seg, c)
            funcs.append(f"void tinyee_segment{seg.index}(int8_t *arena) {{\n" + "\n".join(body) + "\n}\n")
        first = self.segments[0]
        in_t = first.model.inputs[0]
        arena = max(s.plan.size for s in self.segments)
        n = len(self.segments)
        header = f"""/* Generated by tinyee: do not edit. Model {model_id}. */
#ifndef TINYEE_MODEL_H
#define TINYEE_MODEL_H

#include <stdint.h>

#define TINYEE_MODEL_ID "{model_id}"
#define TINYEE_KERNELS "{kernels}" /* optimized or reference kernel calls */
#define TINYEE_NUM_SEGMENTS {n}
#define TINYEE_NUM_CLASSES {num_classes}
#define TINYEE_ARENA_SIZE {arena}
#define TINYEE_INPUT_OFFSET {first.plan.offsets[in_t.index]}
#define TINYEE_INPUT_SIZE {in_t.nbytes}
#define TINYEE_CRITERION_ENTROPY {1 if criterion == "entropy" else 0}
#define TINYEE_NUM_OPS {self.op_count}

typedef void (*tinyee_segment_fn)(int8_t *arena);
extern const tinyee_segment_fn tinyee_segments[TINYEE_NUM_SEGMENTS];
/* Arena offset of each exit's int8 softmax (TINYEE_NUM_CLASSES values). */
extern const int32_t tinyee_probs_offset[TINYEE_NUM_SEGMENTS];
/* Exit k is taken when its integer score >= tinyee_threshold_q[k]. The score is the max int8 softmax
 * value, or with TINYEE_CRITERION_ENTROPY the negated entropy -sum(tinyee_entropy_lut[v + 128]). */
extern const int32_t tinyee_threshold_q[TINYEE_NUM_SEGMENTS];
#if TINYEE_CRITERION_ENTROPY
extern const int32_t tinyee_entropy_lut[256];
#endif
#if TEE_PROFILE_OPS
/* Ticks spent in each kernel call (numbered in cascade order), summed until the runtime clears them. */
extern uint32_t tinyee_op_ticks[TINYEE_NUM_OPS];
#endif

{"".join(f"void tinyee_segment{s.index}(int8_t *arena);" + chr(10) for s in self.segments)}
#endif
"""
        thr = list(thresholds_q) + [-(2**31)]  # the final exit always accepts
        lut = ("const int32_t tinyee_entropy_lut[256] = {" + ", ".join(map(str, entropy_lut())) + "};\n"
               if criterion == "entropy" else "")
        probs = [s.plan.offsets[s.probs_tensor] for s in self.segments]
        source = f"""/* Generated by tinyee: do not edit. Model {model_id}. */
#include <stddef.h>

#include "tinyee_kernels.h"
#include "tinyee_model.h"

#if defined(__GNUC__)
#define TEE_ALIGNED __attribute__((aligned(16)))
#else
#define TEE_ALIGNED
#endif
#if TEE_PROFILE_OPS
uint64_t tee_ticks(void);
uint32_t tinyee_op_ticks[TINYEE_NUM_OPS];
#define TEE_OP(slot, call) do {{ \\
        const uint64_t start_ = tee_ticks(); \\
        call; \\
        tinyee_op_ticks[slot] += (uint32_t)(tee_ticks() - start_); \\
    }} while (0)
#else
#define TEE_OP(slot, call) call
#endif

{chr(10).join(self.consts)}
{chr(10).join(funcs)}
const tinyee_segment_fn tinyee_segments[TINYEE_NUM_SEGMENTS] = {{{', '.join(f'tinyee_segment{s.index}' for s in self.segments)}}};
const int32_t tinyee_probs_offset[TINYEE_NUM_SEGMENTS] = {{{', '.join(map(str, probs))}}};
const int32_t tinyee_threshold_q[TINYEE_NUM_SEGMENTS] = {{{', '.join(f"(int32_t){v}" for v in thr)}}};
{lut}"""
        return header, source


def write_sources(out_dir: Path, segments: list[CompiledSegment], model_id: str, thresholds_q: list[int],
                  num_classes: int, criterion: str = "max_softmax", kernels: str = "optimized") -> list[Path]:
    header, source = Emitter(segments).render(model_id, thresholds_q, num_classes, criterion, kernels)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tinyee_model.h").write_text(header)
    (out_dir / "tinyee_model.c").write_text(source)
    return [out_dir / "tinyee_model.h", out_dir / "tinyee_model.c"]
