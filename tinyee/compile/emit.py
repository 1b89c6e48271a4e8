"""Emit the C source of a compiled cascade: constants in flash, one function per segment.

Output: ``tinyee_model.h`` (the model's macros, then the API, firmware/library/tinyee_api.h, verbatim),
``tinyee_segments.h`` (what the cascade runtime needs: segment table, offsets, default thresholds) and
``tinyee_model.c`` (constants in flash, one function per segment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyee.cascade import entropy_lut
from tinyee.compile.call import Call, IntArg, IntsArg, ScratchArg, TableArg, TensorArg, TensorListArg, array_ctype
from tinyee.compile.plan import Plan
from tinyee.compile.sources import API_HEADER
from tinyee.compile.stream import ROW_MAKERS, Stream, geometry, member_inputs
from tinyee.tflite import TfliteModel

C_TYPES = {np.int8: "int8_t", np.int32: "int32_t", np.int16: "int16_t", np.uint8: "uint8_t"}


@dataclass
class CompiledSegment:
    index: int
    model: TfliteModel
    calls: list[Call]
    plan: Plan
    probs_tensor: int
    boundary_tensors: tuple[int, ...]  # handed to the next segment in place: the feature map, then any carry
    streams: tuple[Stream, ...] = ()   # runs of calls made row by row (stream.py)


def called_functions(segments: list[CompiledSegment]) -> set[str]:
    """The kernel library functions the generated code calls."""
    rows = {ROW_MAKERS[seg.calls[step].kernel] for seg in segments for s in seg.streams for step in s.steps}
    return {c.kernel for s in segments for c in s.calls if c.kernel} | rows | ({"tee_stream_run"} if rows else set())


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
    """A struct field's C initializer: strings verbatim, lists as arrays, dicts as nested structs."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "{" + ", ".join(f".{k} = {_c_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(str(int(x)) for x in v) + "}"
    return str(int(v))


def struct_definition(c: Call, name: str, overrides: dict | None = None) -> str:
    """C definition of a call's constant parameter struct `name` (and the arrays it points to). A dotted
    field ("up.mult") sets a member of a nested struct."""
    arrays = "".join(_c_array(array_ctype(field)[0], f"{name}_{field.replace('.', '_')}", values)
                     for field, values in c.arrays.items())
    params = {**c.params, **(overrides or {})}
    fields = [f".{k} = {_c_value(v)}" for k, v in params.items()] + \
        [f".{k} = {name}_{k.replace('.', '_')}" for k in c.arrays]
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
        for role, a in c.args.items():
            if isinstance(a, TensorArg):
                args.append(self._pointer(seg, a.index))
            elif isinstance(a, TensorListArg):
                lines.append(f"    const int8_t *const {prefix}_{role}[] = "
                             f"{{{', '.join(self._pointer(seg, t) for t in a.indices)}}};")
                args.append(f"{prefix}_{role}")
            elif isinstance(a, ScratchArg):
                args.append(f"arena + {seg.plan.scratch[c.op.index]}" if c.scratch else "NULL")
            elif isinstance(a, (TableArg, IntsArg)):
                ctype = "int8_t" if isinstance(a, TableArg) else "int32_t"
                self.consts.append(_c_array(ctype, f"{prefix}_{role}", a.values))
                args.append(f"{prefix}_{role}")
            elif isinstance(a, IntArg):
                args.append(str(int(a.value)))
        lines.append(f"    TEE_OP({self.op_count}, {c.kernel}({', '.join(args)})); /* {c.op.name} */")
        self.op_count += 1
        return lines

    def _stream(self, seg: CompiledSegment, s: Stream) -> list[str]:
        name = f"s{seg.index}_stream{s.steps[0]}"
        scratch = seg.plan.scratch.get(seg.calls[s.steps[0]].op.index, 0)
        members = []
        for k, step in enumerate(s.steps):
            c = seg.calls[step]
            prefix = f"s{seg.index}_op{c.op.index}"
            if c.struct:  # copied for each row, which the row maker sets to the row's
                self.consts.append(struct_definition(c, prefix))
                params, size = f"&{prefix}", f"sizeof {prefix}"
            else:  # a lookup table's table is all it needs
                params, size = f"{prefix}_table", "0"
                self.consts.append(_c_array("int8_t", params, c.args["table"].values))
            weights = self._pointer(seg, c.tensor("filter")) if "filter" in c.args else "NULL"
            ins, out = member_inputs(c), s.window_of(c.output)
            stride, pad, span = geometry(seg.model, c)
            members.append(f"{{.run = {ROW_MAKERS[c.kernel]}, .params = {params}, .weights = {weights}, "
                           f".params_size = {size}, .scratch = {s.scratch_at[k]}, .stride = {stride}, .pad = {pad}, "
                           f".span = {span}, .in1 = {s.window_of(ins[0])}, .in2 = {s.window_of(ins[-1])}, "
                           f".out = {out}, .slot = {self.op_count}}}")
            self.op_count += 1
        windows = ", ".join(f"{{{seg.plan.offsets[w.tensor]}, {w.row_bytes}, {w.rows}, {w.capacity}}}" for w in s.windows)
        self.consts.append(
            f"static const tee_stream_window {name}_windows[] = {{{windows}}};\n"
            f"static const tee_stream_member {name}_members[] = {{\n    " + ",\n    ".join(members) + "\n};\n" +
            _c_array("uint8_t", f"{name}_order", s.stored_order, per_line=48) +
            f"static const tee_stream {name} = {{{name}_windows, {name}_members, {name}_order, {len(s.order)}, "
            f"{s.head}, {s.period}, {s.repeats}, {scratch}}};\n")
        ops = ", ".join(seg.calls[step].op.name for step in s.steps)
        return [f"    tee_stream_run(&{name}, arena); /* row by row: {ops} */"]

    def render(self, model_id: str, thresholds_q: list[int], num_classes: int,
               criterion: str = "max_softmax", kernels: str = "optimized") -> dict[str, str]:
        """The generated files by name: the public API header, the runtime's internal header, the model."""
        funcs = []
        for seg in self.segments:
            body = []
            streams = {s.steps[0]: s for s in seg.streams}
            streamed = {step for s in seg.streams for step in s.steps}
            for step, c in enumerate(seg.calls):
                if step in streams:
                    body += self._stream(seg, streams[step])
                elif c.kernel and step not in streamed:
                    body += self._call(seg, c)
            funcs.append(f"void tinyee_segment{seg.index}(int8_t *arena) {{\n" + "\n".join(body) + "\n}\n")
        first = self.segments[0]
        in_t = first.model.inputs[0]
        scale, zero_point = in_t.scales[0], in_t.zero_points[0]
        shape = list(in_t.shape) + [1] * (4 - len(in_t.shape))
        macros = {
            "TINYEE_MODEL_ID": f'"{model_id}"', "TINYEE_KERNELS": f'"{kernels}"',
            "TINYEE_NUM_EXITS": len(self.segments), "TINYEE_NUM_CLASSES": num_classes,
            "TINYEE_INPUT_HEIGHT": shape[1], "TINYEE_INPUT_WIDTH": shape[2], "TINYEE_INPUT_CHANNELS": shape[3],
            "TINYEE_INPUT_SIZE": in_t.nbytes, "TINYEE_INPUT_SCALE": f"{float(scale)!r}f",
            "TINYEE_INPUT_ZERO_POINT": zero_point, "TINYEE_ARENA_SIZE": max(s.plan.size for s in self.segments),
            "TINYEE_CRITERION_ENTROPY": int(criterion == "entropy"), "TINYEE_NUM_OPS": self.op_count,
        }
        thr = ", ".join(f"(int32_t){v}" for v in thresholds_q) + (", " if thresholds_q else "")
        internal = {"TINYEE_INPUT_OFFSET": first.plan.offsets[in_t.index],
                    "TINYEE_DEFAULT_THRESHOLDS": "{" + thr + "TINYEE_THRESHOLD_ALWAYS}"}
        lut = ("const int32_t tinyee_entropy_lut[256] = {" + ", ".join(map(str, entropy_lut())) + "};\n"
               if criterion == "entropy" else "")
        probs = [s.plan.offsets[s.probs_tensor] for s in self.segments]
        banner = f"/* Generated by tinyee for model {model_id}: do not edit. */\n"
        return {
            "tinyee_model.h": banner + _guarded("TINYEE_MODEL_H", _defines(macros) + "\n" + API_HEADER.read_text()),
            "tinyee_segments.h": banner + _guarded("TINYEE_SEGMENTS_H", _defines(internal) + "\n" + SEGMENTS_API + "".join(
                f"void tinyee_segment{s.index}(int8_t *arena);\n" for s in self.segments)),
            "tinyee_model.c": banner + MODEL_PRELUDE + "\n".join(self.consts) + "\n" + "\n".join(funcs) +
            f"""
const tinyee_segment_fn tinyee_segments[TINYEE_NUM_EXITS] = {{{', '.join(f'tinyee_segment{s.index}' for s in self.segments)}}};
const int32_t tinyee_probs_offset[TINYEE_NUM_EXITS] = {{{', '.join(map(str, probs))}}};
{lut}""",
        }


def _defines(macros: dict) -> str:
    return "".join(f"#define {k} {v}\n" for k, v in macros.items())


def _guarded(guard: str, body: str) -> str:
    return f"#ifndef {guard}\n#define {guard}\n\n{body}\n#endif\n"


SEGMENTS_API = """#include <stdint.h>

/* Internal to the library: the generated segments and where their results lie in the arena. */
typedef void (*tinyee_segment_fn)(int8_t *arena);
extern const tinyee_segment_fn tinyee_segments[TINYEE_NUM_EXITS];
extern const int32_t tinyee_probs_offset[TINYEE_NUM_EXITS]; /* each exit's int8 softmax */
#if TINYEE_CRITERION_ENTROPY
extern const int32_t tinyee_entropy_lut[256]; /* -p ln p in Q12 for p = (v + 128) / 256 */
#endif
"""

MODEL_PRELUDE = """#include <stddef.h>

#include "tinyee_kernels.h"
#include "tinyee_model.h"
#include "tinyee_segments.h"

#if defined(__GNUC__)
#define TEE_ALIGNED __attribute__((aligned(16)))
#else
#define TEE_ALIGNED
#endif
#if TINYEE_PROFILE_OPS
uint32_t tinyee_op_ticks[TINYEE_NUM_OPS];
#define TEE_OP(slot, call) do { \\
        const uint64_t start_ = tinyee_profile_ticks(); \\
        call; \\
        tinyee_op_ticks[slot] += (uint32_t)(tinyee_profile_ticks() - start_); \\
    } while (0)
#else
#define TEE_OP(slot, call) call
#endif

"""


def write_sources(out_dir: Path, segments: list[CompiledSegment], model_id: str, thresholds_q: list[int],
                  num_classes: int, criterion: str = "max_softmax", kernels: str = "optimized") -> list[Path]:
    """Write the generated tinyee_model.{h,c} and tinyee_segments.h into out_dir."""
    files = Emitter(segments).render(model_id, thresholds_q, num_classes, criterion, kernels)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text)
    return [out_dir / name for name in files]
