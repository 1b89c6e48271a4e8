"""The multi-exit MobileViT and its split into exit segments.

Segment k holds the stages since exit k-1 (segment 0 also the stem) plus exit head k.
A segment returns the exit's softmax and, except for the last, the feature map that the
next segment consumes, then any state an exit hands to the next exit (the carry, [B, K]: the
running histogram of hierarchical bag-of-features exits). Softmax is part of the segment so the int8 model ends in an int8
SOFTMAX and the device's confidence check is an integer compare.
"""

from __future__ import annotations

import torch
from torch import nn

from tinyee.errors import TinyeeError
from tinyee.model.blocks import InvertedResidual, MobileViTBlock, conv_bn_act
from tinyee.model.config import ModelConfig
from tinyee.model.heads import build_heads


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
        self.heads = build_heads(list(cfg.exit_heads), channels, cfg.num_classes, sizes)

    def _segment_stage_ranges(self) -> list[range]:
        bounds = [-1, *self.cfg.exit_stages, len(self.cfg.stages) - 1]
        return [range(bounds[k] + 1, bounds[k + 1] + 1) for k in range(self.cfg.num_exits)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Logits of every exit, in exit order."""
        x = self.stem(x)
        logits, carry = [], None
        for k, stages in enumerate(self._segment_stage_ranges()):
            for i in stages:
                x = self.stages[i](x)
            z, carry = _run_head(self.heads[k], x, carry)
            logits.append(z)
        return logits

    def with_exit_heads(self, heads: list[str]) -> "MultiExitMobileViT":
        """A copy with other intermediate exit heads (new, untrained) and this model's backbone and final head."""
        from tinyee.model.config import ModelConfig

        if heads[-1] != self.cfg.exit_heads[-1]:
            raise TinyeeError("the final exit's head is part of the backbone being reused; keep it")
        model = MultiExitMobileViT(ModelConfig.from_dict({**self.cfg.to_dict(), "exit_heads": list(heads)}))
        keep = {k: v for k, v in self.state_dict().items()
                if not k.startswith("heads.") or int(k.split(".")[1]) == len(heads) - 1
                or heads[int(k.split(".")[1])] == self.cfg.exit_heads[int(k.split(".")[1])]}
        model.load_state_dict(keep, strict=False)
        return model

    def segments(self) -> list["Segment"]:
        segs, n = [], self.cfg.num_exits
        for k, stages in enumerate(self._segment_stage_ranges()):
            body = [self.stem] if k == 0 else []
            body += [self.stages[i] for i in stages]
            gives = k + 1 < n and getattr(self.heads[k + 1], "position", 0) > 0  # the next exit continues a run
            segs.append(Segment(nn.Sequential(*body), self.heads[k], is_last=k == n - 1, gives_carry=gives))
        return segs


def _run_head(head: nn.Module, feature: torch.Tensor, carry: torch.Tensor | None):
    """(logits, the state this exit hands on or None); carry is the previous exit's state [B, K]."""
    if getattr(head, "aggregates", False):
        return head(feature, carry)
    return head(feature), None


class Segment(nn.Module):
    """One exportable exit segment (shares its modules with the full model).

    Inputs: the image or previous feature map, then the carry if the head continues a run of
    aggregating exits. Outputs: softmax, then (unless last) the feature map and the carry if the
    next exit continues the run.
    """

    def __init__(self, body: nn.Sequential, head: nn.Module, is_last: bool, gives_carry: bool = False):
        super().__init__()
        self.body = body
        self.head = head
        self.is_last = is_last
        self.gives_carry = gives_carry

    @property
    def takes_carry(self) -> bool:
        return getattr(self.head, "position", 0) > 0

    @property
    def output_names(self) -> list[str]:
        return ["probs"] + ([] if self.is_last else ["feature"]) + (["carry_out"] if self.gives_carry else [])

    @property
    def input_names(self) -> list[str]:
        return ["input"] + (["carry_in"] if self.takes_carry else [])

    def for_export(self) -> "Segment":
        """This segment with heads that precompute parameter algebra (see BagOfFeaturesHead.folded)."""
        head = self.head.folded() if hasattr(self.head, "folded") else self.head
        return Segment(self.body, head, self.is_last, self.gives_carry).eval()

    def forward(self, x: torch.Tensor, *carry: torch.Tensor):
        feature = self.body(x)
        logits, state = _run_head(self.head, feature, carry[0] if carry else None)
        probs = torch.softmax(logits, dim=-1)
        if self.is_last:
            return probs
        return (probs, feature) + ((state,) if self.gives_carry else ())
