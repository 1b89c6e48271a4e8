"""The multi-exit MobileViT and its split into exit segments.

Segment k holds the stages since exit k-1 (segment 0 also the stem) plus exit head k.
A segment returns the exit's softmax and, except for the last, the feature map that the
next segment consumes, then the Dynamic-Perceiver latent ([B, tokens * dim]) if the model has a
latent branch, then any state an exit hands to the next exit (the carry, [B, K]: the running
histogram of hierarchical bag-of-features exits). Softmax is part of the segment so the int8
model ends in an int8 SOFTMAX and the device's confidence check is an integer compare.
"""

from __future__ import annotations

import torch
from torch import nn

from tinyee.errors import TinyeeError
from tinyee.model.blocks import InvertedResidual, MobileViTBlock, conv_bn_act
from tinyee.model.config import ModelConfig
from tinyee.model.experts import ExpertMLP
from tinyee.model.heads import build_heads
from tinyee.model.latent import LatentMixer, LatentStart


def _build_stage(cin: int, st, patch: int) -> nn.Sequential:
    blocks: list[nn.Module] = []
    for i in range(st.mv2_blocks):
        blocks.append(InvertedResidual(cin if i == 0 else st.channels, st.channels, st.stride if i == 0 else 1, st.expansion))
    if st.transformer:
        blocks.append(MobileViTBlock(st.channels, st.transformer, patch))
    return nn.Sequential(*blocks)


class MultiExitMobileViT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.stem = conv_bn_act(cfg.in_channels, cfg.stem_channels, 3, stride=2)
        self.stages = nn.ModuleList()
        cin, size = cfg.stem_channels, cfg.input_size // 2
        head_at = list(cfg.exit_stages) + [len(cfg.stages) - 1]
        channels, sizes = [], []
        for i, st in enumerate(cfg.stages):
            self.stages.append(_build_stage(cin, st, cfg.patch_size))
            cin, size = st.channels, size // st.stride
            if i in head_at:
                channels.append(cin)
                sizes.append(size)
        latent = cfg.latent
        self.heads = build_heads(list(cfg.exit_heads), channels, cfg.num_classes, sizes, latent.dim if latent else 0)
        self.latent = LatentStart(channels[0], latent) if latent else None
        # the latent branch runs up to the last exit that reads it
        reach = max((k + 1 for k, kind in enumerate(cfg.exit_heads) if kind == "latent"), default=0)
        self.mixers = nn.ModuleList(LatentMixer(c, latent) for c in channels[:reach]) if latent else None

    def _segment_stage_ranges(self) -> list[range]:
        bounds = [-1, *self.cfg.exit_stages, len(self.cfg.stages) - 1]
        return [range(bounds[k] + 1, bounds[k + 1] + 1) for k in range(self.cfg.num_exits)]

    def exit_inputs(self, x: torch.Tensor):
        """Per exit k, in order: (k, the feature map at exit k, the latent there or None)."""
        x, latent = self.stem(x), None
        for k, stages in enumerate(self._segment_stage_ranges()):
            for i in stages:
                x = self.stages[i](x)
            if self.mixers is not None and k < len(self.mixers):
                latent = self.mixers[k](x, self.latent(x) if k == 0 else latent)
            yield k, x, latent

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every exit, in exit order."""
        logits, carry = [], None
        for k, feature, latent in self.exit_inputs(x):
            z, carry = _run_head(self.heads[k], feature, latent, carry)
            logits.append(z)
        return logits

    def with_exit_heads(self, heads: list[str], latent: dict | None = None) -> "MultiExitMobileViT":
        """A copy with other intermediate exit heads (new, untrained), this model's backbone and final head,
        and a latent branch of this size (new) when given."""
        if heads[-1] != self.cfg.exit_heads[-1]:
            raise TinyeeError("the final exit's head is part of the backbone being reused; keep it")
        cfg = {**self.cfg.to_dict(), "exit_heads": list(heads)} | ({"latent": latent} if latent is not None else {})
        model = MultiExitMobileViT(ModelConfig.from_dict(cfg))

        def kept(key: str) -> bool:
            part, index = (key.split(".") + [""])[:2]
            if part in ("latent", "mixers"):
                return latent is None  # a latent branch given here starts untrained
            if part != "heads":
                return True
            k = int(index)
            return k == len(heads) - 1 or heads[k] == self.cfg.exit_heads[k]

        model.load_state_dict({k: v for k, v in self.state_dict().items() if kept(k)}, strict=False)
        return model

    def with_experts(self, experts: int) -> "MultiExitMobileViT":
        """A copy whose transformer MLPs are mixtures of `experts` routed expert MLPs that share out this
        model's trained MLP units (ExpertMLP.split); everything else is this model's."""
        from tinyee.model.blocks import TransformerLayer

        if any(st.transformer and st.transformer.experts for st in self.cfg.stages):
            raise TinyeeError("the checkpoint's transformer MLPs are already mixtures of experts")
        model = MultiExitMobileViT(self.cfg.with_experts(experts))
        model.load_state_dict(self.state_dict(), strict=False)  # all but the experts
        mine = [m for m in model.modules() if isinstance(m, TransformerLayer)]
        for layer, dense in zip(mine, [m for m in self.modules() if isinstance(m, TransformerLayer)]):
            layer.mlp = ExpertMLP.split(dense.mlp, experts)
        return model

    def exit_parameters(self) -> list[nn.Parameter]:
        """What a frozen-backbone run trains: the intermediate exit heads and the latent branch."""
        modules = list(self.heads[:-1]) + ([self.latent, self.mixers] if self.latent is not None else [])
        return [p for m in modules for p in m.parameters()]

    def segments(self) -> list["Segment"]:
        segs, n = [], self.cfg.num_exits
        for k, stages in enumerate(self._segment_stage_ranges()):
            body = [self.stem] if k == 0 else []
            body += [self.stages[i] for i in stages]
            gives = k + 1 < n and getattr(self.heads[k + 1], "position", 0) > 0  # the next exit continues a run
            reach = len(self.mixers) if self.mixers is not None else 0
            latent = (self.latent if k == 0 else None, self.mixers[k], k + 1 < reach) if k < reach else None
            segs.append(Segment(nn.Sequential(*body), self.heads[k], is_last=k == n - 1, gives_carry=gives,
                                latent=latent))
        return segs


def _run_head(head: nn.Module, feature: torch.Tensor, latent: torch.Tensor | None, carry: torch.Tensor | None):
    """(logits, the state this exit hands on or None); carry is the previous exit's state [B, K]."""
    if getattr(head, "reads_latent", False):
        return head(latent), None
    if getattr(head, "aggregates", False):
        return head(feature, carry)
    return head(feature), None


class Segment(nn.Module):
    """One exportable exit segment (shares its modules with the full model).

    Inputs: the image or previous feature map, the latent (after segment 0, if the model has a latent
    branch), then the carry if the head continues a run of aggregating exits. Outputs: softmax, then
    (unless last) the feature map, the latent, and the carry if the next exit continues the run.
    latent: (the LatentStart, segment 0 only, else None; this segment's LatentMixer; whether the next
    segment continues the latent branch), or None.
    """

    def __init__(self, body: nn.Sequential, head: nn.Module, is_last: bool, gives_carry: bool = False,
                 latent: tuple | None = None):
        super().__init__()
        self.body = body
        self.head = head
        self.is_last = is_last
        self.gives_carry = gives_carry
        self.latent_start, self.mixer, self.gives_latent = latent if latent is not None else (None, None, False)

    @property
    def takes_carry(self) -> bool:
        return getattr(self.head, "position", 0) > 0

    @property
    def output_names(self) -> list[str]:
        if self.is_last:
            return ["probs"]
        return (["probs", "feature"] + (["latent_out"] if self.gives_latent else [])
                + (["carry_out"] if self.gives_carry else []))

    @property
    def input_names(self) -> list[str]:
        latent_in = self.mixer is not None and self.latent_start is None
        return ["input"] + (["latent_in"] if latent_in else []) + (["carry_in"] if self.takes_carry else [])

    def for_export(self) -> "Segment":
        """This segment with heads that precompute parameter algebra (see BagOfFeaturesHead.folded)."""
        head = self.head.folded() if hasattr(self.head, "folded") else self.head
        return Segment(self.body, head, self.is_last, self.gives_carry, (self.latent_start, self.mixer,
                       self.gives_latent) if self.mixer is not None else None).eval()

    def forward(self, x: torch.Tensor, *extra: torch.Tensor):
        given = dict(zip(self.input_names[1:], extra, strict=True))
        feature = self.body(x)
        latent = None
        if self.mixer is not None:
            start = self.latent_start(feature) if self.latent_start is not None else \
                given["latent_in"].reshape(x.shape[0], -1, self.mixer.dim)
            latent = self.mixer(feature, start)
        logits, state = _run_head(self.head, feature, latent, given.get("carry_in"))
        probs = torch.softmax(logits, dim=-1)
        outputs = {"probs": probs, "feature": feature, "carry_out": state,
                   "latent_out": latent.flatten(1) if latent is not None else None}
        outputs = tuple(outputs[name] for name in self.output_names)
        return outputs[0] if self.is_last else outputs
