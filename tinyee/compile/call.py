"""A kernel call: what lowering makes of one TFLite op and what the planner and emitter consume.

Arguments are named by their role in the C signature (``input``, ``filter``, ``output``, ...), in
signature order, each a typed value: a tensor (arena or flash), a list of tensors, the call's
scratch buffer, a lookup table, an int32 array or a plain int.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyee.tflite import Op


@dataclass(frozen=True)
class TensorArg:
    index: int  # -1: an absent optional tensor (NULL)


@dataclass(frozen=True)
class TensorListArg:
    indices: tuple[int, ...]


@dataclass(frozen=True)
class ScratchArg:
    """The call's working memory in the arena (NULL when it needs none)."""


@dataclass(frozen=True)
class TableArg:
    values: tuple[int, ...]  # 256 int8 values, indexed by input + 128


@dataclass(frozen=True)
class IntsArg:
    values: tuple[int, ...]  # a const int32 array


@dataclass(frozen=True)
class IntArg:
    value: int


Arg = TensorArg | TensorListArg | ScratchArg | TableArg | IntsArg | IntArg

# C element type and bytes of the per-channel parameter arrays: shifts (-31..30) are int8, the rest int32.
ARRAY_CTYPES = {"shift": ("int8_t", 1)}
DEFAULT_ARRAY_CTYPE = ("int32_t", 4)


def array_ctype(field_name: str) -> tuple[str, int]:
    return ARRAY_CTYPES.get(field_name.rsplit(".", 1)[-1], DEFAULT_ARRAY_CTYPE)  # "up.shift": a nested struct's


@dataclass
class Call:
    op: Op
    kernel: str                                # C function ("" for an op that only aliases)
    struct: str | None = None                  # C parameter struct type (None: no struct argument)
    params: dict = field(default_factory=dict)   # struct field -> int | list[int]
    arrays: dict = field(default_factory=dict)   # struct field -> values, emitted as const arrays (array_ctype)
    args: dict[str, Arg] = field(default_factory=dict)  # role -> value, in C argument order after the struct
    alias: tuple[int, int] | None = None       # (output, input): output shares the input's bytes (RESHAPE)
    scratch: int = 0                           # bytes of working memory while it runs (sized by the C kernel)
    in_place: tuple[int, ...] = ()             # inputs whose bytes the output may overwrite
    slow_path: str = ""                        # why an optimised build kept this reference kernel (warned)

    def tensor(self, role: str) -> int:
        return self.args[role].index

    @property
    def output(self) -> int:
        return self.tensor("output") if "output" in self.args else self.op.outputs[0]

    def tensors(self) -> list[int]:
        """Tensors the call reads and writes: its op's, unless a rewrite changed them (fused ops)."""
        if not self.args:
            return list(self.op.inputs + self.op.outputs)
        out = []
        for a in self.args.values():
            if isinstance(a, TensorArg):
                out.append(a.index)
            elif isinstance(a, TensorListArg):
                out += a.indices
        return out


def tensor_args(**roles: int) -> dict[str, Arg]:
    """Arguments that are all tensors, by role."""
    return {role: TensorArg(int(index)) for role, index in roles.items()}


def readers(calls: list[Call]) -> dict[int, list[int]]:
    """Tensor -> the steps (indices into calls) whose call reads it."""
    out: dict[int, list[int]] = {}
    for step, c in enumerate(calls):
        for t in set(c.tensors()) - {c.output}:
            out.setdefault(t, []).append(step)
    return out
