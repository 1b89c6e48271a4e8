"""Op chains the optimised set runs as one kernel: LayerNorm as TFLite graphs spell it out.

onnx2tf writes LayerNorm over the last axis as ten int8 ops:

    m = MEAN(x)            d = SQUARED_DIFFERENCE(x, m)   v = MEAN(d)       e = ADD(v, epsilon)
    r = RSQRT(e)           s = MUL(r, gamma)              xs = MUL(x, s)    ms = MUL(m, s)
    b = SUB(beta, ms)      y = ADD(xs, b)

with every intermediate an int8 tensor. ``tee_layer_norm_s8`` computes the same ten int8 results row
by row, each with its op's own requantization, so y is bit for bit the graph's; the per-row values
(m, v, e, r) stay scalars and nothing in between is stored. The chain is fused only where it matches
exactly: each intermediate read by nothing but the chain, MEAN over the last axis, gamma and beta
constant vectors along it, epsilon a constant scalar.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyee.compile import requant
from tinyee.compile.call import Call, ScratchArg, TableArg, TensorArg, readers
from tinyee.tflite import Op, TfliteModel

NAME = "LAYER_NORM"

# The chain in graph order: (role, op, the roles or external tensors of its inputs, in canonical order).
# "x", "gamma", "beta", "epsilon" are the chain's external inputs; commutative ops may have theirs swapped.
CHAIN = (
    ("mean", "MEAN", ("x",)),
    ("square", "SQUARED_DIFFERENCE", ("x", "mean")),
    ("variance", "MEAN", ("square",)),
    ("plus_epsilon", "ADD", ("variance", "epsilon")),
    ("rsqrt", "RSQRT", ("plus_epsilon",)),
    ("scale", "MUL", ("rsqrt", "gamma")),
    ("scale_x", "MUL", ("x", "scale")),
    ("scale_mean", "MUL", ("mean", "scale")),
    ("offset", "SUB", ("beta", "scale_mean")),
    ("sum", "ADD", ("scale_x", "offset")),
)
SYMMETRIC = frozenset({"ADD", "MUL", "SQUARED_DIFFERENCE"})  # inputs may come in either order
BINARY_ROLES = ("square", "plus_epsilon", "scale", "scale_x", "scale_mean", "offset", "sum")


@dataclasses.dataclass
class LayerNorm:
    steps: dict[str, int]  # role -> index into the segment's calls
    call: Call             # the fused call, without its RSQRT table yet


def _swapped(params: dict) -> dict:
    """A binary call's parameters with its two inputs exchanged (exact for ADD, MUL, SQUARED_DIFFERENCE)."""
    p = dict(params)
    for a, b in (("in1_offset", "in2_offset"), ("in1_mult", "in2_mult"), ("in1_shift", "in2_shift"),
                 ("in1_strides", "in2_strides")):
        p[a], p[b] = params[b], params[a]
    return p


def _match_at(model: TfliteModel, calls: list[Call], start: int, readers: dict[int, list[int]]) -> LayerNorm | None:
    """The chain whose first MEAN is calls[start], role by role in CHAIN's order, or None."""
    steps: dict[str, int] = {}
    tensor_of: dict[str, int] = {}
    params: dict[str, dict] = {}
    for role, op_name, inputs in CHAIN:
        # The chain's ops need not be adjacent: look among the readers of the role's chain inputs.
        bound = [tensor_of[name] for name in inputs if name in tensor_of and name in steps]
        cand = [start] if role == "mean" else sorted({s for t in bound for s in readers.get(t, [])})
        found = None
        for s in cand:
            c = calls[s]
            if c.op.name != op_name or s in steps.values():
                continue
            got = list(c.op.inputs[:len(inputs)])
            want = [tensor_of.get(name) for name in inputs]
            p = dict(c.params)
            if op_name in SYMMETRIC and len(got) == 2 and got[::-1] != got and _fits(got[::-1], want):
                got, p = got[::-1], _swapped(p)
            if not _fits(got, want):
                continue
            for name, t in zip(inputs, got):
                tensor_of.setdefault(name, t)
            found = s
            params[role] = p
            break
        if found is None:
            return None
        steps[role] = found
        tensor_of[role] = calls[found].op.outputs[0]
    return _checked(model, calls, steps, tensor_of, params, readers)


def _fits(got: list[int], want: list[int | None]) -> bool:
    """Whether the op's inputs are the chain's: known ones equal, external ones not yet bound."""
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))


def _checked(model: TfliteModel, calls: list[Call], steps: dict[str, int], tensor_of: dict[str, int],
             params: dict[str, dict], readers: dict[int, list[int]]) -> LayerNorm | None:
    t = model.tensors
    x, y = t[tensor_of["x"]], t[tensor_of["sum"]]
    depth = x.shape[-1] if x.shape else 0
    rows = int(np.prod(x.shape[:-1])) if x.shape else 0
    if not depth or any(t[tensor_of[r]].shape != x.shape for r in ("square", "scale", "scale_x", "scale_mean",
                                                                    "offset", "sum")):
        return None
    if any(int(np.prod(t[tensor_of[r]].shape)) != rows for r in ("mean", "variance", "plus_epsilon", "rsqrt")):
        return None
    if any(params[r]["outer"] != rows or params[r]["reduce"] != depth or params[r]["inner"] != 1
           for r in ("mean", "variance")):
        return None
    for name, size in (("gamma", depth), ("beta", depth), ("epsilon", 1)):
        c = t[tensor_of[name]]
        if not c.is_const or int(np.prod(c.shape)) != size or (size > 1 and c.shape[-1] != depth):
            return None
    # Nothing outside the chain may read an intermediate, nor may it be a model output.
    outputs = {o.index for o in model.outputs}
    chain_steps = set(steps.values())
    for role in steps:
        if role == "sum":
            continue
        tensor = tensor_of[role]
        if tensor in outputs or not set(readers.get(tensor, [])) <= chain_steps:
            return None
    # The kernel's requantization takes normalized multipliers (tee_high_mul) below 1/2 (a right shift of at
    # least 1: real LayerNorms' are 3 to 18), and clamps to all of int8.
    if any(not requant.normalized(params[r]["out_mult"]) or params[r]["out_shift"] > -1
           or (params[r]["act_min"], params[r]["act_max"]) != (-128, 127) for r in BINARY_ROLES):
        return None
    if not requant.normalized(*(params[r][m] for r in ("square", "offset", "sum") for m in ("in1_mult", "in2_mult"))):
        return None  # their inputs' rescaling tables use the same requantization
    last = calls[steps["sum"]].op
    op = Op(last.index, NAME, (tensor_of["x"], tensor_of["gamma"], tensor_of["beta"], tensor_of["epsilon"]),
            (tensor_of["sum"],), None)
    struct = {"rows": rows, "depth": depth, "mean": params["mean"], "variance": params["variance"]}
    struct.update({r: params[r] for r in BINARY_ROLES})  # nested structs, initialized by emit.struct_definition
    args = {"input": TensorArg(tensor_of["x"]), "gamma": TensorArg(tensor_of["gamma"]),
            "beta": TensorArg(tensor_of["beta"]), "epsilon": TensorArg(tensor_of["epsilon"]),
            "rsqrt": TableArg(()), "scratch": ScratchArg(), "output": TensorArg(tensor_of["sum"])}
    call = Call(op, "tee_layer_norm_s8", "tee_layer_norm_params", struct, {}, args,
                in_place=(tensor_of["x"],) if y.shape == x.shape else ())
    return LayerNorm(steps, call)


def layer_norms(model: TfliteModel, calls: list[Call]) -> list[LayerNorm]:
    """Every LayerNorm chain among a segment's reference calls, none sharing a call."""
    read_by = readers(calls)
    found, taken = [], set()
    for step, c in enumerate(calls):
        if c.op.name != "MEAN" or step in taken:
            continue
        norm = _match_at(model, calls, step, read_by)
        if norm and not set(norm.steps.values()) & taken:
            found.append(norm)
            taken |= set(norm.steps.values())
    return found


def with_table(norm: LayerNorm, table: list[int], scratch: int) -> Call:
    """The fused call with its RSQRT lookup table and its granted scratch."""
    return dataclasses.replace(norm.call, args={**norm.call.args, "rsqrt": TableArg(tuple(table))}, scratch=scratch)
