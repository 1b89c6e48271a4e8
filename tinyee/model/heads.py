"""Exit heads. Each maps a feature map [B, C, H, W] to class logits; chosen by name per exit."""

from __future__ import annotations

from torch import nn
import torch

from tinyee.errors import TinyeeError


class LinearHead(nn.Module):
    """Global average pool + linear classifier (the baseline exit)."""

    def __init__(self, channels: int, num_classes: int, feature_size: int):
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


HEADS: dict[str, type[nn.Module]] = {"linear": LinearHead}


def build_head(kind: str, channels: int, num_classes: int, feature_size: int) -> nn.Module:
    if kind not in HEADS:
        raise TinyeeError(f"unknown exit head {kind!r}; available: {sorted(HEADS)}")
    return HEADS[kind](channels, num_classes, feature_size)
