"""Lower an int8 TFLite segment to kernel calls with every parameter precomputed.

Each op becomes a :class:`Call`: the C kernel, its parameter struct (plain ints and named
int32 arrays) and its pointer arguments (activation tensors in the arena, constant tensors in
flash). Anything the firmware cannot run exactly is refused here, naming the op and model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyee.compile import quant
from tinyee.compile.quant import d, f32
from tinyee.errors import TinyeeError
from tinyee.tflite import Op, TfliteModel

MAX_DIMS = 6


@dataclass
class Call:
    op: Op
    kernel: str                      # C function
    struct: str | None               # C parameter struct type (None: no struct argument)
    params: dict = field(default_factory=dict)   # struct field -> int | list[int]
    arrays: dict = field(default_factory=dict)   # struct field -> ("int32", values) emitted as const arrays
    args: list = field(default_factory=list)     # ("tensor", id) | ("tensor_list", [ids]) | ("ints", values) | ("int", v)
    #                                               | ("scratch", None) | ("table", 256 int8 values)
    alias: tuple[int, int] | None = None          # (output, input): output shares the input's bytes (RESHAPE)
    scratch: int = 0                             # bytes of working memory the kernel needs while it runs
    in_place: tuple[int, ...] = ()               # inputs whose bytes the output may overwrite (element-wise)

    def tensors(self) -> list[int]:
        """Tensors the call reads and writes: its op's, unless a rewrite changed them (fused ops)."""
        if not self.args:
            return list(self.op.inputs + self.op.outputs)
        return [t for kind, v in self.args if kind in ("tensor", "tensor_list") for t in (v if kind == "tensor_list" else [v])]


class Lowering:
    def __init__(self, model: TfliteModel):
        self.m = model

    def fail(self, op: Op, why: str):
        raise TinyeeError(f"{self.m.name}: op #{op.index} {op.name}: {why}")

    def t(self, i):
        return self.m.tensors[i]

    def q(self, op: Op, i: int) -> tuple[float, int]:
        t = self.t(i)
        if len(t.scales) != 1 or len(t.zero_points) != 1:
            self.fail(op, f"tensor {t.name!r} is not per-tensor quantized")
        return t.scales[0], t.zero_points[0]

    def const_ints(self, op: Op, i: int) -> list[int]:
        t = self.t(i)
        if not t.is_const:
            self.fail(op, f"input {t.name!r} must be a constant")
        return [int(v) for v in np.asarray(t.data).reshape(-1)]

    def lower(self) -> list[Call]:
        calls = []
        for op in self.m.ops:
            for i in op.inputs + op.outputs:
                t = self.t(i) if i >= 0 else None
                if t is not None and not t.is_const and t.dtype != np.int8:
                    self.fail(op, f"tensor {t.name!r} is {np.dtype(t.dtype).name}; the firmware runs int8 only")
            handler = getattr(self, f"_{op.name.lower()}", None)
            if handler is None:
                self.fail(op, "no int8 kernel in tinyee's firmware for this op")
            calls.append(handler(op))
        return calls

    # --- convolutions and matrix products -------------------------------------------------

    def _padding(self, padding: int, in_size: int, k: int, stride: int, dil: int, out_size: int) -> int:
        eff = (k - 1) * dil + 1
        total = (out_size - 1) * stride + eff - in_size
        return max(total, 0) // 2

    def _conv_common(self, op: Op, depthwise: bool) -> Call:
        o = op.options
        x, w = self.t(op.inputs[0]), self.t(op.inputs[1])
        y = self.t(op.outputs[0])
        if x.shape[0] != 1:
            self.fail(op, f"batch {x.shape[0]}: the firmware runs batch 1")
        s_in, zp_in = self.q(op, op.inputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        if any(z != 0 for z in w.zero_points):
            self.fail(op, "filter zero points must be 0 (symmetric int8 weights)")
        out_c = y.shape[3]
        scales = list(w.scales) if len(w.scales) == out_c else [w.scales[0]] * out_c
        mult, shift = quant.per_channel(s_in, scales, s_out)
        kh, kw = (w.shape[1], w.shape[2])
        lo, hi = quant.activation_range(o.fusedActivationFunction, s_out, zp_out)
        params = dict(
            in_h=x.shape[1], in_w=x.shape[2], in_c=x.shape[3], out_h=y.shape[1], out_w=y.shape[2], out_c=out_c,
            k_h=kh, k_w=kw, stride_h=o.strideH, stride_w=o.strideW, dil_h=o.dilationHFactor, dil_w=o.dilationWFactor,
            pad_h=self._padding(o.padding, x.shape[1], kh, o.strideH, o.dilationHFactor, y.shape[1]),
            pad_w=self._padding(o.padding, x.shape[2], kw, o.strideW, o.dilationWFactor, y.shape[2]),
            depth_multiplier=out_c // x.shape[3] if depthwise else 1,
            in_offset=-zp_in, out_offset=zp_out, act_min=lo, act_max=hi,
        )
        bias = op.inputs[2] if len(op.inputs) > 2 else -1
        kernel = "tee_depthwise_conv2d_s8" if depthwise else "tee_conv2d_s8"
        return Call(op, kernel, "tee_conv_params", params, {"mult": mult, "shift": shift},
                    [("tensor", op.inputs[0]), ("tensor", op.inputs[1]), ("tensor", bias), ("tensor", op.outputs[0])])

    def _conv_2d(self, op: Op) -> Call:
        return self._conv_common(op, depthwise=False)

    def _depthwise_conv_2d(self, op: Op) -> Call:
        return self._conv_common(op, depthwise=True)

    def _fully_connected(self, op: Op) -> Call:
        o = op.options
        x, w = self.t(op.inputs[0]), self.t(op.inputs[1])
        s_in, zp_in = self.q(op, op.inputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        if o.weightsFormat != 0:
            self.fail(op, "shuffled weights are not supported")
        out_depth, in_depth = w.shape
        per_channel = len(w.scales) > 1
        if per_channel:
            mult, shift = quant.per_channel(s_in, list(w.scales), s_out)
        else:
            m, s = quant.per_tensor_product(s_in, w.scales[0], s_out)
            mult, shift = [m], [s]
        lo, hi = quant.activation_range(o.fusedActivationFunction, s_out, zp_out)
        params = dict(rows=int(np.prod(x.shape)) // in_depth, in_depth=in_depth, out_depth=out_depth,
                      in_offset=-zp_in, filter_offset=-w.zero_points[0], out_offset=zp_out, act_min=lo, act_max=hi,
                      per_channel=int(per_channel))
        bias = op.inputs[2] if len(op.inputs) > 2 else -1
        return Call(op, "tee_fully_connected_s8", "tee_fc_params", params, {"mult": mult, "shift": shift},
                    [("tensor", op.inputs[0]), ("tensor", op.inputs[1]), ("tensor", bias), ("tensor", op.outputs[0])])

    def _batch_matmul(self, op: Op) -> Call:
        o = op.options
        lhs, rhs, y = self.t(op.inputs[0]), self.t(op.inputs[1]), self.t(op.outputs[0])
        s_l, zp_l = self.q(op, op.inputs[0])
        s_r, zp_r = self.q(op, op.inputs[1])
        s_out, zp_out = self.q(op, op.outputs[0])
        if len(y.shape) > 5:
            self.fail(op, "more than 3 batch dimensions")
        adj_x, adj_y = bool(o.adjX), bool(o.adjY)
        a, b = lhs.shape[-2:]
        rows, depth = (b, a) if adj_x else (a, b)
        c, e = rhs.shape[-2:]
        cols = c if adj_y else e

        def batch_strides(shape):
            dims = [1] * (5 - len(shape)) + list(shape)
            strides, acc = [0] * 5, 1
            for i in range(4, -1, -1):
                strides[i] = acc if dims[i] > 1 else 0
                acc *= dims[i]
            return strides[:3]

        out_dims = [1] * (5 - len(y.shape)) + list(y.shape)
        m, s = quant.per_tensor_product(s_l, s_r, s_out)
        params = dict(
            batch=out_dims[:3], lhs_batch_stride=batch_strides(lhs.shape), rhs_batch_stride=batch_strides(rhs.shape),
            rows=rows, cols=cols, depth=depth,
            lhs_row_stride=1 if adj_x else depth, lhs_depth_stride=rows if adj_x else 1,
            rhs_depth_stride=1 if adj_y else cols, rhs_col_stride=depth if adj_y else 1,
            lhs_offset=-zp_l, rhs_offset=-zp_r, out_offset=zp_out, mult=m, shift=s,
        )
        return Call(op, "tee_batch_matmul_s8", "tee_batch_matmul_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.inputs[1]), ("tensor", op.outputs[0])])

    # --- element-wise ----------------------------------------------------------------------

    def _broadcast(self, op: Op) -> dict:
        y = self.t(op.outputs[0])
        rank = max(len(y.shape), 1)
        if rank > MAX_DIMS:
            self.fail(op, f"rank {rank} > {MAX_DIMS}")
        out = list(y.shape) or [1]

        def strides(shape):
            dims = [1] * (rank - len(shape)) + list(shape)
            st, acc = [0] * rank, 1
            for i in range(rank - 1, -1, -1):
                if dims[i] not in (1, out[i]):
                    self.fail(op, f"shapes {self.t(op.inputs[0]).shape} and {self.t(op.inputs[1]).shape} do not broadcast")
                st[i] = acc if dims[i] == out[i] and out[i] > 1 else 0
                acc *= dims[i]
            return st

        return dict(ndims=rank, out_dims=out, in1_strides=strides(self.t(op.inputs[0]).shape),
                    in2_strides=strides(self.t(op.inputs[1]).shape))

    def _binary(self, op: Op, kind: str) -> Call:
        s1, z1 = self.q(op, op.inputs[0])
        s2, z2 = self.q(op, op.inputs[1])
        so, zo = self.q(op, op.outputs[0])
        fused = getattr(op.options, "fusedActivationFunction", 0) if op.options is not None else 0
        lo, hi = quant.activation_range(fused, so, zo)
        p = dict(op=kind, in1_offset=-z1, in2_offset=-z2, out_offset=zo, left_shift=0, in1_mult=0, in1_shift=0,
                 in2_mult=0, in2_shift=0, act_min=lo, act_max=hi, **self._broadcast(op))
        if kind == "TEE_ADD":
            twice = 2 * d(max(f32(s1), f32(s2)))
            p["left_shift"] = 20
            (p["in1_mult"], p["in1_shift"]), (p["in2_mult"], p["in2_shift"]) = (
                quant.quantize_multiplier(d(s1) / twice), quant.quantize_multiplier(d(s2) / twice))
            p["out_mult"], p["out_shift"] = quant.quantize_multiplier(twice / ((1 << 20) * d(so)))
        elif kind == "TEE_SUB":  # TFLM's SUB divides in float32 before widening
            twice = f32(2) * max(f32(s1), f32(s2))
            p["left_shift"] = 20
            (p["in1_mult"], p["in1_shift"]), (p["in2_mult"], p["in2_shift"]) = (
                quant.quantize_multiplier(d(f32(s1) / twice)), quant.quantize_multiplier(d(f32(s2) / twice)))
            p["out_mult"], p["out_shift"] = quant.quantize_multiplier(d(twice / (f32(1 << 20) * f32(so))))
        elif kind == "TEE_MUL":
            p["out_mult"], p["out_shift"] = quant.quantize_multiplier(d(s1) * d(s2) / d(so))
        else:  # SQUARED_DIFFERENCE
            twice = 2.0 * d(max(f32(s1), f32(s2)))
            p["left_shift"] = 7
            (p["in1_mult"], p["in1_shift"]), (p["in2_mult"], p["in2_shift"]) = (
                quant.quantize_multiplier(d(s1) / twice), quant.quantize_multiplier(d(s2) / twice))
            p["out_mult"], p["out_shift"] = quant.quantize_multiplier(twice * twice / d(f32(1 << 14) * f32(so)))
        # An input with the output's shape is read at exactly the element about to be written.
        same = tuple(t for t in op.inputs[:2] if int(np.prod(self.t(t).shape)) == int(np.prod(self.t(op.outputs[0]).shape)))
        return Call(op, "tee_binary_s8", "tee_binary_params", p, {},
                    [("tensor", op.inputs[0]), ("tensor", op.inputs[1]), ("tensor", op.outputs[0])], in_place=same)

    def _add(self, op):
        return self._binary(op, "TEE_ADD")

    def _sub(self, op):
        return self._binary(op, "TEE_SUB")

    def _mul(self, op):
        return self._binary(op, "TEE_MUL")

    def _squared_difference(self, op):
        return self._binary(op, "TEE_SQUARED_DIFFERENCE")

    def _size(self, op: Op) -> int:
        return int(np.prod(self.t(op.inputs[0]).shape))

    def _logistic(self, op: Op) -> Call:
        s_in, zp_in = self.q(op, op.inputs[0])
        if self.q(op, op.outputs[0])[1] != -128:
            self.fail(op, "LOGISTIC output zero point must be -128")
        q, left_shift = np.frexp(d(s_in) * float(1 << 27))
        mult = int(quant.round_half_away(float(q) * (1 << 31)))
        if mult == 1 << 31:  # TFLM casts to int32 without the halving QuantizeMultiplier does
            mult = -(1 << 31)
        params = dict(size=self._size(op), in_zero_point=zp_in, in_mult=mult, in_left_shift=int(left_shift),
                      in_range_radius=quant.calculate_input_radius(4, int(left_shift)))
        return Call(op, "tee_logistic_s8", "tee_logistic_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])], in_place=(op.inputs[0],))

    def _rsqrt(self, op: Op) -> Call:
        s_in, zp_in = self.q(op, op.inputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        m, s = quant.quantize_multiplier(1.0 / (np.sqrt(d(s_in)) * d(s_out)))
        params = dict(size=self._size(op), in_zero_point=zp_in, out_zero_point=zp_out, mult=m, shift=s)
        return Call(op, "tee_rsqrt_s8", "tee_rsqrt_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])], in_place=(op.inputs[0],))

    def _hard_swish(self, op: Op) -> Call:
        s_in, zp_in = self.q(op, op.inputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        hires = f32(1.0 / 128.0) * f32(s_in)
        out_m, out_e = quant.quantize_multiplier(d(hires / f32(s_out)))
        rel_m, rel_e = quant.quantize_multiplier(d(hires / f32(3.0 / 32768.0)))
        if out_e > 0:
            self.fail(op, "HARD_SWISH output multiplier exponent > 0")

        def to16(m):  # DownScaleInt32ToInt16Multiplier
            return 32767 if m >= 2**31 - 1 - (1 << 15) else (m + (1 << 15)) >> 16

        params = dict(size=self._size(op), in_zero_point=zp_in, out_zero_point=zp_out,
                      output_multiplier_fixedpoint_int16=to16(out_m), reluish_multiplier_fixedpoint_int16=to16(rel_m),
                      output_multiplier_exponent=out_e, reluish_multiplier_exponent=rel_e)
        return Call(op, "tee_hard_swish_s8", "tee_hard_swish_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])], in_place=(op.inputs[0],))

    def _softmax(self, op: Op) -> Call:
        s_in, _ = self.q(op, op.inputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        if zp_out != -128 or f32(s_out) != f32(1 / 256):
            self.fail(op, "SOFTMAX output must have scale 1/256 and zero point -128")
        beta = d(op.options.beta)
        real = min(beta * d(s_in) * float(1 << 26), float(2**31 - 1))
        m, left_shift = quant.quantize_multiplier(real)
        shape = self.t(op.inputs[0]).shape
        params = dict(rows=self._size(op) // shape[-1], depth=shape[-1], in_mult=m, in_left_shift=left_shift,
                      diff_min=-quant.calculate_input_radius(5, left_shift))
        return Call(op, "tee_softmax_s8", "tee_softmax_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])])

    # --- reductions and pooling -------------------------------------------------------------

    def _mean(self, op: Op) -> Call:
        x = self.t(op.inputs[0])
        s_in, zp_in = self.q(op, op.inputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        rank = len(x.shape)
        axes = sorted({a % rank for a in self.const_ints(op, op.inputs[1])})
        if axes != list(range(axes[0], axes[-1] + 1)):
            self.fail(op, f"MEAN over non-contiguous axes {axes} is not supported")
        outer = int(np.prod(x.shape[:axes[0]]))
        reduce = int(np.prod(x.shape[axes[0]:axes[-1] + 1]))
        inner = int(np.prod(x.shape[axes[-1] + 1:]))
        m, s = quant.quantize_multiplier(d(s_in) / d(s_out))
        shift = min(reduce.bit_length() - 1, 32, 31 + s)  # fold 1/num_elements into the multiplier
        m, s = (m << shift) // reduce, s - shift
        params = dict(outer=outer, reduce=reduce, inner=inner, in_zero_point=zp_in, out_zero_point=zp_out, mult=m, shift=s)
        return Call(op, "tee_mean_s8", "tee_mean_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])])

    def _average_pool_2d(self, op: Op) -> Call:
        o = op.options
        x, y = self.t(op.inputs[0]), self.t(op.outputs[0])
        self._same_quant(op, [op.inputs[0]], op.outputs[0])
        s_out, zp_out = self.q(op, op.outputs[0])
        lo, hi = quant.activation_range(o.fusedActivationFunction, s_out, zp_out)
        params = dict(in_h=x.shape[1], in_w=x.shape[2], channels=x.shape[3], out_h=y.shape[1], out_w=y.shape[2],
                      k_h=o.filterHeight, k_w=o.filterWidth, stride_h=o.strideH, stride_w=o.strideW,
                      pad_h=self._padding(o.padding, x.shape[1], o.filterHeight, o.strideH, 1, y.shape[1]),
                      pad_w=self._padding(o.padding, x.shape[2], o.filterWidth, o.strideW, 1, y.shape[2]),
                      act_min=lo, act_max=hi)
        return Call(op, "tee_average_pool_s8", "tee_pool_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])])

    # --- data movement -----------------------------------------------------------------------

    def _same_quant(self, op: Op, inputs: list[int], output: int) -> None:
        want = self.q(op, output)
        for i in inputs:
            if self.q(op, i) != want:
                self.fail(op, "inputs and output must share scale and zero point (the kernel copies bytes)")

    def _reshape(self, op: Op) -> Call:
        self._same_quant(op, [op.inputs[0]], op.outputs[0])
        return Call(op, "", None, alias=(op.outputs[0], op.inputs[0]))

    @staticmethod
    def _contiguous_strides(shape) -> list[int]:
        st, acc = [0] * len(shape), 1
        for i in range(len(shape) - 1, -1, -1):
            st[i] = acc
            acc *= shape[i]
        return st

    def _transpose(self, op: Op) -> Call:
        self._same_quant(op, [op.inputs[0]], op.outputs[0])
        x = self.t(op.inputs[0])
        perm = self.const_ints(op, op.inputs[1])
        if len(perm) > MAX_DIMS:
            self.fail(op, f"rank {len(perm)} > {MAX_DIMS}")
        st = self._contiguous_strides(x.shape)
        params = dict(ndims=len(perm), out_dims=[x.shape[p] for p in perm], in_strides=[st[p] for p in perm], in_start=0)
        return Call(op, "tee_strided_copy_s8", "tee_gather_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])])

    def _strided_slice(self, op: Op) -> Call:
        o = op.options
        self._same_quant(op, [op.inputs[0]], op.outputs[0])
        if o.ellipsisMask or o.newAxisMask or getattr(o, "offset", False):
            self.fail(op, "ellipsis, new-axis and offset strided slices are not supported")
        x = self.t(op.inputs[0])
        begin, end, steps = (self.const_ints(op, i) for i in op.inputs[1:4])
        dims, st = list(x.shape), self._contiguous_strides(x.shape)
        out_dims, in_strides, start_off = [], [], 0
        for ax, n in enumerate(dims):
            step = steps[ax]
            if step == 0:
                self.fail(op, "stride 0")
            lo_clamp, hi_clamp = (0, n) if step > 0 else (-1, n - 1)
            if o.beginMask >> ax & 1:
                start = 0 if step > 0 else n - 1
            else:
                start = begin[ax] + n if begin[ax] < 0 else begin[ax]
                start = min(max(start, lo_clamp), hi_clamp)
            if o.shrinkAxisMask >> ax & 1:
                stop = start + 1
            elif o.endMask >> ax & 1:
                stop = n if step > 0 else -1
            else:
                stop = end[ax] + n if end[ax] < 0 else end[ax]
                stop = min(max(stop, lo_clamp), hi_clamp)
            count = max(0, -(-(stop - start) // step)) if step > 0 else max(0, -(-(start - stop) // -step))
            out_dims.append(count)
            in_strides.append(st[ax] * step)
            start_off += start * st[ax]
        params = dict(ndims=len(dims), out_dims=out_dims, in_strides=in_strides, in_start=start_off)
        if int(np.prod(out_dims)) != int(np.prod(self.t(op.outputs[0]).shape)):
            self.fail(op, f"slice of {out_dims} does not match the output shape {self.t(op.outputs[0]).shape}")
        return Call(op, "tee_strided_copy_s8", "tee_gather_params", params, {},
                    [("tensor", op.inputs[0]), ("tensor", op.outputs[0])])

    def _pad(self, op: Op) -> Call:
        self._same_quant(op, [op.inputs[0]], op.outputs[0])
        x = self.t(op.inputs[0])
        pads = self.const_ints(op, op.inputs[1])
        rank = len(x.shape)
        if rank > MAX_DIMS:
            self.fail(op, f"rank {rank} > {MAX_DIMS}")
        params = dict(ndims=rank, in_dims=list(x.shape), pad_before=pads[0::2], pad_after=pads[1::2],
                      pad_value=self.q(op, op.outputs[0])[1])
        return Call(op, "tee_pad_s8", "tee_pad_params", params, {}, [("tensor", op.inputs[0]), ("tensor", op.outputs[0])])

    def _concatenation(self, op: Op) -> Call:
        o = op.options
        if o.fusedActivationFunction:
            self.fail(op, "fused activation on CONCATENATION")
        self._same_quant(op, list(op.inputs), op.outputs[0])
        y = self.t(op.outputs[0])
        axis = o.axis % len(y.shape)
        outer = int(np.prod(y.shape[:axis]))
        chunks = [int(np.prod(self.t(i).shape[axis:])) for i in op.inputs]
        return Call(op, "tee_concat_s8", None, args=[("int", outer), ("int", len(op.inputs)),
                                                     ("tensor_list", list(op.inputs)), ("ints", chunks),
                                                     ("tensor", op.outputs[0])])


def lower(model: TfliteModel) -> list[Call]:
    return Lowering(model).lower()
