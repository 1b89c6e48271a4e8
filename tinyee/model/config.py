"""Model configuration: widths, depths, patch size, input size and exit positions.

A config is plain data, saved as JSON next to every checkpoint, so a checkpoint can
always be rebuilt without the code that trained it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write_text


@dataclass(frozen=True)
class TransformerConfig:
    dim: int
    depth: int
    heads: int
    mlp_ratio: int = 2
    experts: int = 0  # >= 2: each layer's MLP is that many routed expert MLPs (tinyee/model/experts.py)


@dataclass(frozen=True)
class StageConfig:
    """One backbone stage: MobileNetV2 blocks (the first may stride), then optionally a MobileViT block."""

    channels: int
    stride: int = 1
    mv2_blocks: int = 1
    expansion: int = 2
    transformer: TransformerConfig | None = None


@dataclass(frozen=True)
class LatentConfig:
    """A Dynamic-Perceiver latent branch: `tokens` learned latent tokens of width `dim` that read each
    segment's feature map by cross-attention and mix by self-attention; `latent` exits classify them."""

    tokens: int = 8
    dim: int = 32
    heads: int = 2


@dataclass(frozen=True)
class ModelConfig:
    name: str
    input_size: int
    in_channels: int
    num_classes: int
    stem_channels: int
    stages: tuple[StageConfig, ...]
    # Indices of the stages after which an intermediate exit sits. The final exit always
    # follows the last stage and is not listed here.
    exit_stages: tuple[int, ...]
    patch_size: int = 2
    # Exit head kind per exit (intermediate exits first, the final exit last).
    exit_heads: tuple[str, ...] = field(default=())
    latent: LatentConfig | None = None

    def __post_init__(self):
        if not self.exit_heads:
            object.__setattr__(self, "exit_heads", ("linear",) * (len(self.exit_stages) + 1))
        self.validate()

    @property
    def num_exits(self) -> int:
        return len(self.exit_stages) + 1

    def validate(self) -> None:
        last = len(self.stages) - 1
        if not self.stages:
            raise TinyeeError(f"model config {self.name!r}: no stages")
        for s in self.exit_stages:
            if not 0 <= s < last:
                raise TinyeeError(
                    f"model config {self.name!r}: exit after stage {s} is not possible; intermediate exits "
                    f"must sit after stages 0..{last - 1} (the final exit always follows stage {last})"
                )
        if list(self.exit_stages) != sorted(set(self.exit_stages)):
            raise TinyeeError(f"model config {self.name!r}: exit stages {list(self.exit_stages)} must be strictly increasing")
        if len(self.exit_heads) != self.num_exits:
            raise TinyeeError(
                f"model config {self.name!r}: {len(self.exit_heads)} exit heads given for {self.num_exits} exits"
            )
        if ("latent" in self.exit_heads) != (self.latent is not None):
            raise TinyeeError(f"model config {self.name!r}: `latent` exits and a latent branch go together "
                              f"(heads {list(self.exit_heads)}, latent {self.latent})")
        if self.latent is not None and ("hbof" in self.exit_heads or self.latent.dim % self.latent.heads
                                        or min(self.latent.tokens, self.latent.dim) < 1):
            raise TinyeeError(f"model config {self.name!r}: the latent branch needs tokens, dim >= 1, dim divisible "
                              "by heads, and no hbof exits (one carried state per model)")
        size = self.input_size // 2  # the stem strides by 2
        for i, st in enumerate(self.stages):
            if st.stride not in (1, 2):
                raise TinyeeError(f"model config {self.name!r}: stage {i} stride {st.stride} is not 1 or 2")
            size //= st.stride
            if st.transformer:
                if size % self.patch_size:
                    raise TinyeeError(
                        f"model config {self.name!r}: stage {i} feature map {size}x{size} is not divisible "
                        f"by patch size {self.patch_size}"
                    )
                if st.transformer.dim % st.transformer.heads:
                    raise TinyeeError(f"model config {self.name!r}: stage {i} transformer dim not divisible by heads")
                tr = st.transformer
                if tr.experts == 1 or tr.experts < 0 or (tr.experts and tr.dim * tr.mlp_ratio % tr.experts):
                    raise TinyeeError(f"model config {self.name!r}: stage {i} has {tr.experts} experts; a mixture "
                                      f"needs at least 2 that share out the MLP's {tr.dim * tr.mlp_ratio} hidden "
                                      "units evenly (0: a plain MLP)")

    def with_experts(self, experts: int) -> "ModelConfig":
        """This config with every transformer's MLP a mixture of `experts` routed expert MLPs."""
        stages = [{**st, "transformer": st["transformer"] and {**st["transformer"], "experts": experts}}
                  for st in self.to_dict()["stages"]]
        return ModelConfig.from_dict({**self.to_dict(), "stages": stages})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        try:
            stages = tuple(
                StageConfig(**{**s, "transformer": TransformerConfig(**s["transformer"]) if s.get("transformer") else None})
                for s in d["stages"]
            )
            return cls(
                **{
                    **d,
                    "stages": stages,
                    "exit_stages": tuple(d["exit_stages"]),
                    "exit_heads": tuple(d.get("exit_heads", ())),
                    "latent": LatentConfig(**d["latent"]) if d.get("latent") is not None else None,
                }
            )
        except (KeyError, TypeError) as e:
            raise TinyeeError(f"malformed model config: {e}") from e

    def save(self, path: Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ModelConfig":
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise TinyeeError(f"cannot read model config {path}: {e}") from e


def _preset_mcu(num_classes: int, in_channels: int) -> ModelConfig:
    # Sized for an STM32F405 (1 MB flash, 128 KB SRAM) at 32x32 input.
    return ModelConfig(
        name="mcu",
        input_size=32,
        in_channels=in_channels,
        num_classes=num_classes,
        stem_channels=16,
        stages=(
            StageConfig(channels=16, stride=1, mv2_blocks=1),
            StageConfig(channels=24, stride=2, mv2_blocks=2),
            StageConfig(channels=32, stride=1, mv2_blocks=1, transformer=TransformerConfig(dim=48, depth=1, heads=2)),
            StageConfig(channels=48, stride=2, mv2_blocks=1, transformer=TransformerConfig(dim=64, depth=2, heads=2)),
        ),
        exit_stages=(1, 2),
    )


def _preset_small(num_classes: int, in_channels: int) -> ModelConfig:
    # A larger MobileViT-XXS-like model for STM32F746/H743-class parts.
    return ModelConfig(
        name="small",
        input_size=32,
        in_channels=in_channels,
        num_classes=num_classes,
        stem_channels=16,
        stages=(
            StageConfig(channels=24, stride=1, mv2_blocks=2),
            StageConfig(channels=48, stride=2, mv2_blocks=2, expansion=4),
            StageConfig(channels=64, stride=1, mv2_blocks=1, transformer=TransformerConfig(dim=64, depth=2, heads=4)),
            StageConfig(channels=80, stride=2, mv2_blocks=1, expansion=4,
                        transformer=TransformerConfig(dim=96, depth=3, heads=4)),
        ),
        exit_stages=(1, 2),
    )


PRESETS = {"mcu": _preset_mcu, "small": _preset_small}


def preset(name: str, num_classes: int = 10, in_channels: int = 3) -> ModelConfig:
    if name not in PRESETS:
        raise TinyeeError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name](num_classes, in_channels)
