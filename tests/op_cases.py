"""Random single-op int8 TFLite models for kernel conformance (shapes, scales, zero points, paddings,
strides, broadcasts, transposes; zero points at -128 and 127), their sample inputs (including the
int8 extremes) and the TFLite Micro oracle. Used on the host (test_kernels) and on the emulated
boards (test_firmware)."""

from __future__ import annotations

import math

import numpy as np
from tflite_micro.python.tflite_micro import runtime

from op_models import OpModel, options
from tinyee.tflite import TfliteModel


def scale(rng, lo=-3.0, hi=0.0):
    return float(10 ** rng.uniform(lo, hi))


def zero_point(rng):
    return int(rng.choice([-128, 127, 0, rng.integers(-128, 128)]))


def act(rng, m: OpModel, shape):
    return m.tensor(shape, scale(rng), zero_point(rng))


def conv_out(size, k, stride, dil, same):
    eff = (k - 1) * dil + 1
    return -(-size // stride) if same else -(-(size - eff + 1) // stride)


DEAD_SCALE = 1e-15  # a weight scale that makes the channel's multiplier underflow to TFLite's 0


def channel_scales(rng, count: int) -> list[float]:
    """Per-channel weight scales; in one case of four, some channels are dead, as training leaves them:
    their multiplier underflows, so their outputs are the zero point (and the optimised kernels must say so)."""
    s_w = [scale(rng, -3, -1) for _ in range(count)]
    if rng.integers(0, 4) == 0:
        for ch in rng.choice(count, int(rng.integers(1, count + 1)), replace=False):
            s_w[ch] = DEAD_SCALE
    return s_w


def conv_weights(rng, m: OpModel, fshape, s_in, depthwise):
    """Random int8 filter (per output channel scales) and int32 bias tensors of a convolution; (filter, bias, scales)."""
    cout = fshape[3] if depthwise else fshape[0]
    s_w = channel_scales(rng, cout)
    f = m.tensor(fshape, s_w, 0, rng.integers(-127, 128, fshape), axis=3 if depthwise else 0)
    b = m.tensor([cout], [s_in * s for s in s_w], 0, rng.integers(-3000, 3000, cout), dtype=np.int32)
    return f, b, s_w


def depthwise_op(m: OpModel, x, f, b, y, mult, **common):
    m.op("DEPTHWISE_CONV_2D", [x, f, b], [y], options("DepthwiseConv2DOptions", depthMultiplier=mult, **common),
         "DepthwiseConv2DOptions")


def case_conv(rng, depthwise, in_place: bool = False):
    """A random CONV_2D or DEPTHWISE_CONV_2D; in_place (or a quarter of the convolutions by chance): pointwise with
    as many outputs as inputs over 36 to 81 pixels, which the optimised kernel runs in place, in blocks of 32
    pixels and a partial one."""
    m = OpModel()
    h, w = rng.integers(3, 10), rng.integers(3, 10)
    # Half the cases are wide, so the Helium kernels' 16-channel and 4-column blocks and their tails all run.
    channels = (lambda: int(rng.integers(9, 41))) if rng.integers(0, 2) else (lambda: int(rng.integers(1, 9)))
    cin = channels()
    k = int(rng.choice([1, 3, 5]))
    stride, dil = int(rng.choice([1, 2])), int(rng.choice([1, 1, 2]))
    same = bool(rng.integers(0, 2))
    if (k - 1) * dil + 1 > min(h, w):
        same = True
    mult = int(rng.choice([1, 2])) if depthwise else 1
    cout = cin * mult if depthwise else channels()
    if not depthwise and (in_place or rng.integers(0, 4) == 0):
        h, w, k, stride, dil, cout = int(rng.integers(6, 10)), int(rng.integers(6, 10)), 1, 1, 1, cin
    oh, ow = conv_out(h, k, stride, dil, same), conv_out(w, k, stride, dil, same)
    s_in = scale(rng)
    x = m.tensor([1, h, w, cin], s_in, zero_point(rng))
    f, b, _ = conv_weights(rng, m, [1, k, k, cout] if depthwise else [cout, k, k, cin], s_in, depthwise)
    y = act(rng, m, [1, oh, ow, cout])
    common = dict(padding=0 if same else 1, strideH=stride, strideW=stride, dilationHFactor=dil, dilationWFactor=dil,
                  fusedActivationFunction=int(rng.choice([0, 1, 3])))
    if depthwise:
        depthwise_op(m, x, f, b, y, mult, **common)
    else:
        m.op("CONV_2D", [x, f, b], [y], options("Conv2DOptions", **common), "Conv2DOptions")
    return m.build([x], [y])


def case_depthwise_3x3(rng, tall: bool):
    """A DEPTHWISE_CONV_2D that the Cortex-M4 target loop runs: 3x3 taps, unit dilation, stride 1 or 2, no fused
    activation, every channel's multiplier below 1/2. tall: 8 channels over 14 to 28 rows of 3 to 5 columns, more
    rows than the DSP path's plane holds (12), so that its rows move up; stride 1 SAME is run in place."""
    m = OpModel()
    h, w = (int(rng.integers(14, 29)), int(rng.integers(3, 6))) if tall else (int(rng.integers(3, 10)),
                                                                                int(rng.integers(3, 10)))
    c = 8 if tall else int(rng.integers(8, 41))
    stride, same = int(rng.choice([1, 2])), bool(rng.integers(0, 2))
    s_in = scale(rng)
    x = m.tensor([1, h, w, c], s_in, zero_point(rng))
    f, b, s_w = conv_weights(rng, m, [1, 3, 3, c], s_in, True)
    y = m.tensor([1, conv_out(h, 3, stride, 1, same), conv_out(w, 3, stride, 1, same), c],
                 s_in * max(s_w) * float(rng.uniform(2.5, 100)), zero_point(rng))
    depthwise_op(m, x, f, b, y, 1, padding=0 if same else 1, strideH=stride, strideW=stride, dilationHFactor=1,
                 dilationWFactor=1, fusedActivationFunction=0)
    return m.build([x], [y])


def case_fully_connected(rng):
    m = OpModel()
    rows, din, dout = int(rng.integers(1, 5)), int(rng.integers(1, 40)), int(rng.integers(1, 20))
    keep = bool(rng.integers(0, 2))
    in_shape = [2, rows, din] if keep else [rows, din]
    s_in = scale(rng)
    x = m.tensor(in_shape, s_in, zero_point(rng))
    per_channel = bool(rng.integers(0, 2))
    s_w = channel_scales(rng, dout) if per_channel else [scale(rng, -3, -1)]
    f = m.tensor([dout, din], s_w, 0, rng.integers(-127, 128, (dout, din)))
    inputs = [x, f]
    if rng.integers(0, 3):
        bs = [s_in * s for s in (s_w if per_channel else s_w * dout)]
        inputs.append(m.tensor([dout], bs[:dout], 0, rng.integers(-3000, 3000, dout), dtype=np.int32))
    y = act(rng, m, in_shape[:-1] + [dout] if keep else [rows, dout])
    m.op("FULLY_CONNECTED", inputs, [y], options("FullyConnectedOptions", keepNumDims=keep,
                                                 fusedActivationFunction=int(rng.choice([0, 1]))),
         "FullyConnectedOptions")
    return m.build([x], [y])


def case_batch_matmul(rng):
    m = OpModel()
    b1, b2 = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    rows, depth, cols = (int(rng.integers(1, 9)) for _ in range(3))
    adj_x, adj_y = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    lb = [b1, b2] if rng.integers(0, 2) else [b1, 1]
    rb = [b1, b2] if lb[1] == 1 else [1, b2] if rng.integers(0, 2) else [b1, b2]
    lhs = act(rng, m, lb + ([depth, rows] if adj_x else [rows, depth]))
    rhs = act(rng, m, rb + ([cols, depth] if adj_y else [depth, cols]))
    y = act(rng, m, [max(lb[0], rb[0]), max(lb[1], rb[1]), rows, cols])
    m.op("BATCH_MATMUL", [lhs, rhs], [y], options("BatchMatMulOptions", adjX=adj_x, adjY=adj_y), "BatchMatMulOptions")
    return m.build([lhs, rhs], [y])


def broadcast_shapes(rng):
    rank = int(rng.integers(1, 5))
    out = [int(rng.integers(1, 6)) for _ in range(rank)]
    if rng.integers(0, 3) == 0:
        out[-1] = int(rng.integers(100, 300))  # large enough for the optimised kernels' table path
    a = [d if rng.integers(0, 3) else 1 for d in out]
    b = [d if rng.integers(0, 3) else 1 for d in out]
    if rng.integers(0, 3) == 0:
        b = b[int(rng.integers(0, rank)):]  # lower rank operand
    return [max(x, y) for x, y in zip(a, [1] * (rank - len(b)) + b)], a, b


def case_binary(rng, name):
    m = OpModel()
    out, a, b = broadcast_shapes(rng)
    x1 = act(rng, m, a)
    const_second = rng.integers(0, 4) == 0
    if const_second:
        x2 = m.tensor(b, scale(rng), zero_point(rng), rng.integers(-128, 128, b))
    else:
        x2 = act(rng, m, b)
    y = act(rng, m, out)
    opts = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "SQUARED_DIFFERENCE": "SquaredDifferenceOptions"}
    fused = {"fusedActivationFunction": int(rng.choice([0, 1]))} if name != "SQUARED_DIFFERENCE" else {}
    m.op(name, [x1, x2], [y], options(opts[name], **fused), opts[name])
    return m.build([x1] if const_second else [x1, x2], [y])


def case_unary(rng, name):
    m = OpModel()
    shape = [int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4)))]
    x = act(rng, m, shape)
    if name == "LOGISTIC":
        y = m.tensor(shape, 1 / 256, -128)
        m.op(name, [x], [y])
    elif name == "HARD_SWISH":  # TFLM needs s_out > s_in / 128
        y = m.tensor(shape, m.tensors[x].quantization.scale[0] * 10 ** rng.uniform(-1, 0.5), zero_point(rng))
        m.op(name, [x], [y], options("HardSwishOptions"), "HardSwishOptions")
    else:
        y = act(rng, m, shape)
        m.op(name, [x], [y])
    return m.build([x], [y])


def case_softmax(rng):
    m = OpModel()
    rows = int(rng.integers(1, 5)) if rng.integers(0, 2) else int(rng.integers(16, 40))  # many rows: table path
    shape = [rows, int(rng.integers(1, 40))]
    x = m.tensor(shape, scale(rng, -2, 0.5), zero_point(rng))
    y = m.tensor(shape, 1 / 256, -128)
    m.op("SOFTMAX", [x], [y], options("SoftmaxOptions", beta=float(rng.choice([1.0, 0.5, 2.0]))), "SoftmaxOptions")
    return m.build([x], [y])


def case_reduce(rng, name):
    """MEAN requantizes; REDUCE_MAX keeps the input's quantization, as TFLite's converter writes it."""
    m = OpModel()
    rank = int(rng.integers(2, 5))
    shape = [int(rng.integers(1, 7)) for _ in range(rank)]
    a0 = int(rng.integers(0, rank))
    a1 = int(rng.integers(a0, rank))
    axes = list(range(a0, a1 + 1))
    keep = bool(rng.integers(0, 2))
    out = [1 if i in axes else d for i, d in enumerate(shape)] if keep else [d for i, d in enumerate(shape) if i not in axes]
    s, zp = scale(rng), zero_point(rng)
    x = m.tensor(shape, s, zp)
    ax = m.const_ints(axes)
    y = act(rng, m, out or [1]) if name == "MEAN" else m.tensor(out or [1], s, zp)
    m.op(name, [x, ax], [y], options("ReducerOptions", keepDims=keep), "ReducerOptions")
    return m.build([x], [y])


def case_transpose(rng):
    m = OpModel()
    rank = int(rng.integers(2, 6))
    shape = [int(rng.integers(1, 5)) for _ in range(rank)]
    perm = [int(p) for p in rng.permutation(rank)]
    s, z = scale(rng), zero_point(rng)
    x = m.tensor(shape, s, z)
    y = m.tensor([shape[p] for p in perm], s, z)
    m.op("TRANSPOSE", [x, m.const_ints(perm)], [y], options("TransposeOptions"), "TransposeOptions")
    return m.build([x], [y])


def case_strided_slice(rng):
    m = OpModel()
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 8)) for _ in range(rank)]
    begin, end, strides, out = [], [], [], []
    shrink = 0
    for ax, n in enumerate(shape):
        step = int(rng.choice([1, 2, -1, 3]))
        lo, hi = sorted(int(v) for v in rng.integers(-n, n + 1, 2))
        b, e = (lo, hi) if step > 0 else (hi, lo)
        begin.append(b), end.append(e), strides.append(step)
        bb = b + n if b < 0 else b
        ee = e + n if e < 0 else e
        clamp = (0, n) if step > 0 else (-1, n - 1)
        bb, ee = min(max(bb, clamp[0]), clamp[1]), min(max(ee, clamp[0]), clamp[1])
        cnt = max(0, math.ceil((ee - bb) / step))
        if cnt == 0:  # keep the output non-empty: take the whole axis
            begin[-1], end[-1], strides[-1], cnt = 0, n, 1, n
        out.append(cnt)
    s, z = scale(rng), zero_point(rng)
    x = m.tensor(shape, s, z)
    y = m.tensor(out, s, z)
    m.op("STRIDED_SLICE", [x, m.const_ints(begin), m.const_ints(end), m.const_ints(strides)], [y],
         options("StridedSliceOptions", shrinkAxisMask=shrink), "StridedSliceOptions")
    return m.build([x], [y])


def case_pad(rng):
    m = OpModel()
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 5)) for _ in range(rank)]
    pads = rng.integers(0, 3, (rank, 2))
    s, z = scale(rng), zero_point(rng)
    x = m.tensor(shape, s, z)
    y = m.tensor([d + int(p.sum()) for d, p in zip(shape, pads)], s, z)
    m.op("PAD", [x, m.const_ints(pads)], [y], options("PadOptions"), "PadOptions")
    return m.build([x], [y])


def case_concatenation(rng):
    m = OpModel()
    rank = int(rng.integers(1, 5))
    axis = int(rng.integers(0, rank))
    base = [int(rng.integers(1, 5)) for _ in range(rank)]
    s, z = scale(rng), zero_point(rng)
    ins = []
    for _ in range(int(rng.integers(2, 4))):
        shape = list(base)
        shape[axis] = int(rng.integers(1, 5))
        ins.append(m.tensor(shape, s, z))
    out = list(base)
    out[axis] = sum(m.tensors[i].shape[axis] for i in ins)
    y = m.tensor(out, s, z)
    m.op("CONCATENATION", ins, [y], options("ConcatenationOptions", axis=axis - rank if rng.integers(0, 2) else axis),
         "ConcatenationOptions")
    return m.build(ins, [y])


def case_pool(rng, name):
    """A pooling op; one case in four a global pool (the window the whole input, as networks end), and
    channels beyond the optimised average pool's 16 at a time."""
    m = OpModel()
    h, w = (int(rng.integers(2, 9)) for _ in range(2))
    c = int(rng.integers(2, 9)) if rng.integers(0, 2) else int(rng.integers(9, 40))
    k, stride = int(rng.choice([1, 2, 3])), int(rng.choice([1, 2]))
    same = bool(rng.integers(0, 2)) or k > min(h, w)
    kh, kw = (h, w) if rng.integers(0, 4) == 0 else (k, k)
    if kh != k:
        same, stride = False, 1
    s, z = scale(rng), zero_point(rng)
    x = m.tensor([1, h, w, c], s, z)
    y = m.tensor([1, conv_out(h, kh, stride, 1, same), conv_out(w, kw, stride, 1, same), c], s, z)
    fused = int(rng.choice([0, 1, 3]))
    m.op(name, [x], [y], options("Pool2DOptions", padding=0 if same else 1, strideH=stride, strideW=stride,
                                 filterHeight=kh, filterWidth=kw, fusedActivationFunction=fused), "Pool2DOptions")
    return m.build([x], [y])


GENERATORS = {
    "CONV_2D": lambda r: case_conv(r, False),
    "DEPTHWISE_CONV_2D": lambda r: (case_conv(r, True) if r.integers(0, 2) else
                                    case_depthwise_3x3(r, tall=bool(r.integers(0, 2)))),
    "FULLY_CONNECTED": case_fully_connected,
    "BATCH_MATMUL": case_batch_matmul,
    "ADD": lambda r: case_binary(r, "ADD"),
    "SUB": lambda r: case_binary(r, "SUB"),
    "MUL": lambda r: case_binary(r, "MUL"),
    "SQUARED_DIFFERENCE": lambda r: case_binary(r, "SQUARED_DIFFERENCE"),
    "LOGISTIC": lambda r: case_unary(r, "LOGISTIC"),
    "RSQRT": lambda r: case_unary(r, "RSQRT"),
    "HARD_SWISH": lambda r: case_unary(r, "HARD_SWISH"),
    "RELU": lambda r: case_unary(r, "RELU"),
    "RELU6": lambda r: case_unary(r, "RELU6"),
    "SOFTMAX": case_softmax,
    "MEAN": lambda r: case_reduce(r, "MEAN"),
    "REDUCE_MAX": lambda r: case_reduce(r, "REDUCE_MAX"),
    "TRANSPOSE": case_transpose,
    "STRIDED_SLICE": case_strided_slice,
    "PAD": case_pad,
    "CONCATENATION": case_concatenation,
    "AVERAGE_POOL_2D": lambda r: case_pool(r, "AVERAGE_POOL_2D"),
    "MAX_POOL_2D": lambda r: case_pool(r, "MAX_POOL_2D"),
}


def int8_model(fn, samples) -> bytes:
    """A tf.function converted to a full-integer int8 TFLite model, calibrated on samples of its one input."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x] for x in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def case_layer_norm(rng, expose_mean: bool = False) -> bytes:
    """LayerNorm over the last axis as TFLite's int8 converter writes it (MEAN, SQUARED_DIFFERENCE, MEAN, ADD,
    RSQRT, MUL, MUL, MUL, SUB, ADD, as onnx2tf's exports do), calibrated on random data: what the optimised
    set fuses into one kernel (tinyee/compile/fuse.py). expose_mean: the mean is a second model output."""
    import tensorflow as tf

    rows, depth = int(rng.integers(1, 20)), int(rng.integers(3, 70))
    gamma = rng.normal(1.0, 0.3, depth).astype(np.float32)
    beta = rng.normal(0.0, 0.5, depth).astype(np.float32)
    centre, spread = float(rng.normal(0.0, 1.0)), float(rng.uniform(0.3, 4.0))

    @tf.function(input_signature=[tf.TensorSpec([rows, depth], tf.float32)])
    def layer_norm(x):
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=-1, keepdims=True)
        scale = tf.math.rsqrt(variance + 1e-5) * gamma
        y = x * scale + (beta - mean * scale)
        return (y, mean) if expose_mean else y

    samples = [rng.normal(centre, spread, (rows, depth)).astype(np.float32) for _ in range(32)]
    return int8_model(layer_norm, samples)


def case_routed_experts(rng) -> bytes:
    """A mixture-of-experts MLP as tinyee exports one (tinyee/model/experts.py): top-1 gates from REDUCE_MAX,
    SUB, ADD + RELU, each expert FULLY_CONNECTED, SiLU, FULLY_CONNECTED times its gate, summed; random sizes
    and weights, calibrated on random data. The optimised set runs each expert as one routed call."""
    import tensorflow as tf

    rows, dim = int(rng.integers(1, 40)), int(rng.integers(4, 40))
    experts, width = int(rng.integers(2, 5)), int(rng.integers(4, 40))
    router = rng.normal(0, 1000 / np.sqrt(dim), (dim, experts)).astype(np.float32)
    up = [rng.normal(0, 1 / np.sqrt(dim), (dim, width)).astype(np.float32) for _ in range(experts)]
    down = [rng.normal(0, 1 / np.sqrt(width), (width, dim)).astype(np.float32) for _ in range(experts)]

    @tf.function(input_signature=[tf.TensorSpec([rows, dim], tf.float32)])
    def routed(x):
        logits = tf.matmul(x, router)
        gates = tf.nn.relu(logits - tf.reduce_max(logits, axis=-1, keepdims=True) + np.ones(experts, np.float32))
        total = 0.0
        for e in range(experts):  # pairwise ADDs (ADD_N has no int8 kernel)
            total = total + gates[:, e:e + 1] * tf.matmul(tf.nn.silu(tf.matmul(x, up[e])), down[e])
        return total

    samples = [rng.normal(0, 1, (rows, dim)).astype(np.float32) for _ in range(32)]
    return int8_model(routed, samples)


def case_row_stream(rng) -> bytes:
    """A residual block the optimised set runs row by row (tinyee/compile/stream.py): CONV_2D (stride 1 or 2)
    + RELU, DEPTHWISE_CONV_2D + SiLU (one table), a pointwise CONV_2D, ADD of the block's input, MUL by the
    SiLU output; random sizes (rows of a multiple of 16 bytes) and weights, calibrated on random data."""
    import tensorflow as tf

    rows, cols, depth = int(rng.integers(12, 25)), 2 * int(rng.integers(3, 5)), int(rng.choice([3, 8]))
    width, stride = int(rng.choice([16, 24])), int(rng.integers(1, 3))
    stem = rng.normal(0, 1 / np.sqrt(9 * depth), (3, 3, depth, width)).astype(np.float32)
    taps = rng.normal(0, 1 / 3, (3, 3, width, 1)).astype(np.float32)
    mix = rng.normal(0, 1 / np.sqrt(width), (1, 1, width, width)).astype(np.float32)
    bias = rng.normal(0, 0.2, width).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, rows, cols, depth], tf.float32)])
    def block(x):
        y = tf.nn.relu(tf.nn.conv2d(x, stem, stride, "SAME") + bias)
        z = tf.nn.silu(tf.nn.depthwise_conv2d(y, taps, [1, 1, 1, 1], "SAME"))
        return (tf.nn.conv2d(z, mix, 1, "SAME") + y) * z

    samples = [rng.normal(0, 1, (1, rows, cols, depth)).astype(np.float32) for _ in range(32)]
    return int8_model(block, samples)


# Chains of ops the optimised set runs as one kernel, by the name of the fused call, or (ROW_STREAM) as one stream.
FUSED_GENERATORS = {"LAYER_NORM": case_layer_norm, "ROUTED_EXPERT": case_routed_experts, "ROW_STREAM": case_row_stream}
ALL_GENERATORS = {**GENERATORS, **FUSED_GENERATORS}


def sample_inputs(rng, model: TfliteModel, op_name: str, k: int):
    out = []
    for t in model.inputs:
        lo = t.zero_points[0] if op_name == "RSQRT" else -128  # RSQRT is only defined for x >= 0
        if k == 0:
            v = np.full(t.shape, lo, np.int8)
        elif k == 1:
            v = np.full(t.shape, 127, np.int8)
        else:
            v = rng.integers(lo, 128, t.shape).astype(np.int8)
        out.append(v)
    return out


def tflm(data: bytes, inputs, output: int = 0):
    it = runtime.Interpreter.from_bytes(data, arena_size=256 * 1024)
    for i, v in enumerate(inputs):
        it.set_input(v, i)
    it.invoke()
    return it.get_output(output)
