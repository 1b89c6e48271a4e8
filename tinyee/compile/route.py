"""Routed experts: run an expert MLP only on the tokens routed to it, bit-exact with the dense graph.

A mixture-of-experts layer exports as a dense int8 graph (tinyee/model/experts.py): every expert runs
on every token and its output is multiplied by the token's gate, an int8 tensor [..., 1] that is the
gate's zero point (real 0) for tokens routed elsewhere. MUL's int8 result is its output zero point
whenever one input is its zero point, whatever the other holds, so the expert's output rows of those
tokens are never looked at. The optimised set finds the expert

    h = FULLY_CONNECTED(x)   a = table(h) (SiLU, ...)   e = FULLY_CONNECTED(a)   y = MUL(e, gate)

with h, a and e read by nothing else, and runs it as one ``tee_routed_expert_s8`` call just before the
MUL: it gathers the rows whose gate is not the zero point, runs the two matrix products and the table
on them a few rows at a time in scratch, and writes those rows of e; the others keep whatever the
arena held, which MUL then multiplies by zero. h and a no longer exist in the arena (x and e are now
alive together, in that one call).
"""

from __future__ import annotations

import dataclasses

from tinyee.compile.call import Call, ScratchArg, TensorArg, readers
from tinyee.compile.ops import fully_connected
from tinyee.tflite import Op, TfliteModel

NAME = "ROUTED_EXPERT"
KERNEL = "tee_routed_expert_s8"
GEMM = "tee_fully_connected_gemm_s8"


@dataclasses.dataclass
class RoutedExpert:
    up: int      # steps in the segment's calls
    table: int
    down: int
    mul: int
    call: Call   # the routed call, its scratch not yet sized


def _single_reader(read_by: dict[int, list[int]], outputs: set[int], t: int) -> int | None:
    users = read_by.get(t, [])
    return users[0] if len(users) == 1 and t not in outputs else None


def _match(model: TfliteModel, calls: list[Call], mul: int, read_by, producer: dict[int, int],
           outputs) -> RoutedExpert | None:
    c = calls[mul]
    if c.op.name != "MUL" or len(c.op.inputs) != 2:
        return None
    for e, gate in (c.op.inputs, c.op.inputs[::-1]):
        e_t, g_t = model.tensors[e], model.tensors[gate]
        if e_t.is_const or g_t.is_const or not e_t.shape or tuple(g_t.shape) != (*e_t.shape[:-1], 1):
            continue
        down = producer.get(e)
        if down is None or calls[down].kernel != GEMM or _single_reader(read_by, outputs, e) != mul:
            continue
        table = producer.get(calls[down].tensor("input"))
        if table is None or calls[table].kernel != "tee_lut_s8" or \
                _single_reader(read_by, outputs, calls[table].output) != down:
            continue
        up = producer.get(calls[table].tensor("input"))
        if up is None or calls[up].kernel != GEMM or _single_reader(read_by, outputs, calls[up].output) != table:
            continue
        return RoutedExpert(up, table, down, mul, _routed_call(model, calls[up], calls[table], calls[down], gate))
    return None


def _routed_call(model: TfliteModel, up: Call, table: Call, down: Call, gate: int) -> Call:
    params = {"rows": up.params["rows"], "gate_zero_point": model.tensors[gate].zero_points[0]}
    arrays = {}
    for role, fc in (("up", up), ("down", down)):
        params.update({f"{role}.{k}": v for k, v in fc.params.items()})
        arrays.update({f"{role}.{k}": v for k, v in fc.arrays.items()})
    x, e = up.tensor("input"), down.output
    op = Op(down.op.index, NAME, (x, gate, up.tensor("filter"), down.tensor("filter")), (e,), None)
    return Call(op, KERNEL, "tee_routed_expert_params", params, arrays, {
        "table": table.args["table"], "gate": TensorArg(gate), "input": TensorArg(x),
        "up_filter": TensorArg(up.tensor("filter")), "down_filter": TensorArg(down.tensor("filter")),
        "scratch": ScratchArg(), "output": TensorArg(e)})


def routed_experts(model: TfliteModel, calls: list[Call]) -> list[RoutedExpert]:
    """The experts of a segment's optimised calls that can run only on their tokens."""
    read_by, producer = readers(calls), {c.output: step for step, c in enumerate(calls) if c.kernel}
    outputs = {t.index for t in model.outputs}
    found = (_match(model, calls, step, read_by, producer, outputs) for step in range(len(calls)))
    return [r for r in found if r is not None]


def with_routed(calls: list[Call], experts: list[RoutedExpert], sizes: list[int]) -> list[Call]:
    """The calls with each expert whose kernel accepted it (size >= 0) as one routed call before its MUL."""
    drop, before = set(), {}
    for r, size in zip(experts, sizes):
        if size >= 0:
            drop |= {r.up, r.table, r.down}
            before[r.mul] = dataclasses.replace(r.call, scratch=size)
    out = []
    for step, c in enumerate(calls):
        if step in before:
            out.append(before[step])
        if step not in drop:
            out.append(c)
    return out


def dense_macs(c: Call) -> int:
    """Multiply-accumulates of the expert on every row (the dense graph's: its two FULLY_CONNECTEDs')."""
    return sum(fully_connected.macs({k.split(".", 1)[1]: v for k, v in c.params.items() if k.startswith(role + ".")})
               for role in ("up", "down"))

