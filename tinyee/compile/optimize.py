"""Swap tinyee's optimised kernels into reference kernel calls where they apply.

Each op's registry module proposes its optimised call (``optimize``); the kernel's C
``<kernel>_scratch_size`` then sizes its scratch or refuses it, and a refused call keeps its
reference kernel. Element-wise functions of one value (``TABLE_PARAMS``), and SiLU's LOGISTIC + MUL
pair, become 256-entry lookup tables computed by running the reference kernels natively, and
LayerNorm's ten ops one kernel (fuse.py); each expert of a mixture-of-experts layer runs only on its
tokens (route.py). Which instructions the optimised kernels use (Helium, DSP
extension, portable C) follows from the board's compiler flags.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyee.compile import requant
from tinyee.compile.buildtime import query_kernels
from tinyee.compile.call import Call, IntArg, TableArg, TensorArg, readers
from tinyee.compile.fuse import layer_norms, with_table
from tinyee.compile.ops import OPS
from tinyee.compile.ops.context import LoweringContext
from tinyee.compile.route import routed_experts, with_routed
from tinyee.tflite import TfliteModel

KERNEL_SETS = ("optimized", "reference")
UNARY_TABLE_OPS = frozenset(name for name, m in OPS.items() if getattr(m, "TABLE_PARAMS", {}).get("size"))


def _silu_pairs(model: TfliteModel, calls: list[Call]) -> dict[int, int]:
    """LOGISTIC -> MUL(x, logistic(x)) pairs (SiLU), as {logistic step: mul step}, where the logistic
    output feeds nothing else: the pair is one function of x, so one table."""
    consumers = readers(calls)
    outputs = {t.index for t in model.outputs}
    pairs = {}
    for step, c in enumerate(calls):
        if c.op.name != "LOGISTIC":
            continue
        x, s = c.op.inputs[0], c.op.outputs[0]
        users = consumers.get(s, [])
        if s in outputs or len(users) != 1:
            continue
        if calls[users[0]].op.name == "MUL" and sorted(calls[users[0]].op.inputs) == sorted([x, s]):
            pairs[step] = users[0]
    return pairs


def _normalized_multipliers(c: Call) -> bool:
    """Whether every output multiplier of the call is normalized (requant.normalized), as the optimised
    kernels' scalar requantization needs (a convolution's zero ones are replaced per channel before)."""
    return requant.normalized(*c.arrays.get("mult", ()), *(c.params[k] for k in ("mult", "out_mult") if k in c.params))


# What a negative <kernel>_scratch_size means (TEE_KEEP_* in tinyee_kernels.h); None: no warning.
KEPT_REASONS = {-1: "the optimised kernel cannot run these parameters", -2: None,
                -3: "depth multiplier {depth_multiplier} (the optimised kernel takes 1)",
                -4: "a {k_h}x{k_w} window: more taps than the optimised kernel's tables hold",
                -5: "{in_c} channels: fewer than the optimised kernel's vector lanes",
                -6: "asymmetric weights (filter zero point {filter_offset})"}


def _kept_reason(c: Call, code: int) -> str | None:
    reason = KEPT_REASONS.get(code, KEPT_REASONS[-1])
    return reason and reason.format_map({k: -v if k == "filter_offset" else v for k, v in c.params.items()})


def _lut_call(model: TfliteModel, chain: list[Call], table: list[int]) -> Call:
    last = chain[-1]
    x, y = chain[0].op.inputs[0], last.op.outputs[0]
    return Call(last.op, "tee_lut_s8", in_place=(x,), args={
        "table": TableArg(tuple(table)), "size": IntArg(int(np.prod(model.tensors[y].shape))),
        "input": TensorArg(x), "output": TensorArg(y)})


def optimize(models: list[TfliteModel], calls: list[list[Call]], route: bool = True) -> list[list[Call]]:
    """Each model's reference calls with optimised kernels swapped in; one native build sizes and tabulates them
    all. route: experts of mixture-of-experts layers run only on the tokens routed to them (else densely)."""
    plans = []
    for model, cs in zip(models, calls):
        ctx = LoweringContext(model)
        pairs = _silu_pairs(model, cs)
        chains = {step: [c] for step, c in enumerate(cs) if c.op.name in UNARY_TABLE_OPS and step not in pairs}
        chains.update({mul: [cs[step], cs[mul]] for step, mul in pairs.items()})
        proposed = {step: OPS[c.op.name].optimize(ctx, c) for step, c in enumerate(cs)
                    if step not in chains and step not in pairs and hasattr(OPS[c.op.name], "optimize")}
        candidates = {step: c for step, c in proposed.items() if isinstance(c, Call) and _normalized_multipliers(c)}
        kept = {step: c if isinstance(c, str) else requant.UNDERFLOW for step, c in proposed.items()
                if c is not None and step not in candidates}
        plans.append((pairs, chains, candidates, kept, layer_norms(model, cs)))
    singles = [c for _, _, candidates, _, _ in plans for c in candidates.values()]
    tables, sizes = query_kernels([chain for _, chains, *_ in plans for chain in chains.values()],
                                  singles + [n.call for *_, norms in plans for n in norms])
    tables, single_sizes, norm_sizes = iter(tables), iter(sizes[:len(singles)]), iter(sizes[len(singles):])
    out = []
    for model, cs, (pairs, chains, candidates, kept, norms) in zip(models, calls, plans):
        table_of = {step: next(tables) for step in chains}
        rewritten = {}
        for step, c in enumerate(cs):
            if step in pairs:
                continue  # computed by its MUL's table
            if step in chains:
                c = _lut_call(model, chains[step], table_of[step])
            elif step in candidates:
                size = next(single_sizes)
                if size >= 0:
                    module = OPS[c.op.name]
                    c = (module.with_scratch(candidates[step], size) if hasattr(module, "with_scratch")
                         else dataclasses.replace(candidates[step], scratch=size))
                else:
                    c = dataclasses.replace(c, slow_path=_kept_reason(c, size) or "")
            elif step in kept:
                c = dataclasses.replace(c, slow_path=kept[step])
            rewritten[step] = c
        for norm in norms:  # one fused call where the chain's last op was
            size = next(norm_sizes)
            if size >= 0:
                for step in norm.steps.values():
                    del rewritten[step]
                rewritten[norm.steps["sum"]] = with_table(norm, table_of[norm.steps["rsqrt"]], size)
        out.append([rewritten[step] for step in sorted(rewritten)])
    return _route(models, out) if route else out


def _route(models: list[TfliteModel], calls: list[list[Call]]) -> list[list[Call]]:
    """Mixture-of-experts layers run each expert only on its tokens (route.py); one native build sizes them."""
    experts = [routed_experts(m, cs) for m, cs in zip(models, calls)]
    _, sizes = query_kernels([], [r.call for found in experts for r in found])
    sizes = iter(sizes)
    return [with_routed(cs, found, [next(sizes) for _ in found]) for cs, found in zip(calls, experts)]
