"""The op registry: one module per TFLite op, found by name in this package.

A module defines ``OP`` (the TFLite op name) and ``lower(ctx, op) -> Call`` (the reference kernel
call with every parameter precomputed), and optionally:

- ``optimize(ctx, call) -> Call | str | None``: the call with an optimised kernel, or why the optimised
  kernel cannot take it (the build warns), or None where none applies; that kernel's C function
  ``<kernel>_scratch_size`` sizes its scratch or refuses the parameters (then the reference stays);
- ``with_scratch(call, size) -> Call``: what a granted scratch size changes beyond ``call.scratch``;
- ``TABLE_PARAMS``: struct fields that run the kernel over the 256 int8 values, for ops the
  optimised set turns into lookup tables (element-wise functions of one value);
- ``macs(params) -> int``: multiply-accumulates of one call.

Modules whose names start with ``_`` hold what several ops share.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def _discover() -> dict[str, ModuleType]:
    ops = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "context":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        ops[module.OP] = module
    return ops


OPS: dict[str, ModuleType] = _discover()
SUPPORTED_OPS = frozenset(OPS)
