"""What the optimised compiler asks the C kernels at build time, in one native build and run:

- lookup tables: the output of a chain of element-wise reference calls (the first call's input
  feeds the chain) for the 256 int8 inputs -128..127, exact by construction;
- scratch sizes: ``<kernel>_scratch_size(&params)`` of each candidate optimised call, the bytes it
  needs or -1 where it cannot run those parameters. The sizes are defined in C only.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tinyee.compile.call import Call, TensorArg
from tinyee.compile.emit import struct_definition
from tinyee.compile.ops import OPS
from tinyee.compile.sources import KERNEL_DIR, kernel_sources
from tinyee.errors import TinyeeError


def _table_program(chains: list[list[Call]]) -> tuple[list[str], list[str]]:
    structs, runs = [], []
    for i, chain in enumerate(chains):
        buffers = {chain[0].op.inputs[0]: "in"}
        for j, c in enumerate(chain):
            name = f"t{i}_{j}"
            structs.append(struct_definition(c, name, OPS[c.op.name].TABLE_PARAMS))
            args = []
            for role, a in c.args.items():
                if role == "output":
                    continue
                if not isinstance(a, TensorArg) or a.index not in buffers:
                    raise TinyeeError(f"op #{c.op.index} {c.op.name}: input {role} is not computed by the chain")
                args.append(buffers[a.index])
            buffers[c.output] = f"b{i}_{j}"
            runs.append(f"    int8_t b{i}_{j}[256];\n    {c.kernel}(&{name}, {', '.join(args)}, b{i}_{j});\n")
        runs.append(f"    print_table(b{i}_{len(chain) - 1});\n")
    return structs, runs


def query_kernels(chains: list[list[Call]], candidates: list[Call]) -> tuple[list[list[int]], list[int]]:
    """(one table per chain, one scratch size per candidate call)."""
    if not chains and not candidates:
        return [], []
    if shutil.which("gcc") is None:
        raise TinyeeError("the optimised kernels are sized and tabulated with the host C compiler: install gcc "
                          "(scripts/setup.sh does), or build with --kernels reference")
    structs, runs = _table_program(chains)
    for i, c in enumerate(candidates):
        structs.append(struct_definition(c, f"s{i}"))
        runs.append(f'    printf("%ld ", (long){c.kernel}_scratch_size(&s{i}));\n')
    program = f"""#include <stdio.h>
#include "tinyee_kernels.h"
#define TEE_ALIGNED
{"".join(structs)}
static void print_table(const int8_t *v) {{
    for (int i = 0; i < 256; ++i) printf("%d ", v[i]);
    printf("\\n");
}}
int main(void) {{
    int8_t in[256];
    for (int i = 0; i < 256; ++i) in[i] = (int8_t)(i - 128);
{"".join(runs)}    printf("\\n");
    return 0;
}}
"""
    with tempfile.TemporaryDirectory(prefix="tinyee-buildtime-") as tmp:
        src, exe = Path(tmp) / "query.c", Path(tmp) / "query"
        src.write_text(program)
        build = subprocess.run(["gcc", "-std=c99", "-O1", f"-I{KERNEL_DIR}", str(src), *map(str, kernel_sources()),
                                "-o", str(exe)], capture_output=True, text=True)
        if build.returncode:
            raise TinyeeError(f"building the kernel table and scratch query failed:\n{build.stderr[-3000:]}")
        run = subprocess.run([str(exe)], capture_output=True, text=True)
        if run.returncode:
            raise TinyeeError(f"the build-time kernel query failed on this model (exit {run.returncode}): "
                              f"{run.stderr[-500:]}")
        lines = run.stdout.splitlines()
    tables = [[int(v) for v in line.split()] for line in lines[:len(chains)]]
    sizes = [int(v) for v in lines[len(chains)].split()] if candidates else []
    return tables, sizes
