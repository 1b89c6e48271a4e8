"""The latent (classification) branch of a Dynamic Perceiver (Han et al., ICCV 2023).

A few learned latent tokens run beside the MobileViT feature branch. After each segment's stages
they read the feature map by cross-attention (latent queries, feature-map positions as keys and
values), then mix among themselves in one transformer layer; ``latent`` exits classify the
latent tokens only (LayerNorm, token mean, linear), so the features need not be linearly
separable early. The latent travels between segments flattened to [B, tokens * dim].
Departures from the paper: the latent starts as the learned tokens plus a projection of segment
0's globally pooled feature map (a query that depends on no input is a constant subgraph, which
onnx2tf cannot convert); the optional latent-to-feature cross-attention that feeds the latent back
into the feature branch is not built (the feature branch is the plain backbone).
"""

from __future__ import annotations

import torch
from torch import nn

from tinyee.model.blocks import Attention, TransformerLayer
from tinyee.model.config import LatentConfig


class LatentStart(nn.Module):
    """The latent tokens segment 0 starts from: learned tokens plus a projection of the pooled feature map."""

    def __init__(self, channels: int, cfg: LatentConfig):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(1, cfg.tokens, cfg.dim) * 0.02)
        self.seed = nn.Linear(channels, cfg.dim)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.tokens + self.seed(feature.mean(dim=(2, 3)))[:, None, :]


class LatentMixer(nn.Module):
    def __init__(self, channels: int, cfg: LatentConfig):
        super().__init__()
        self.dim = cfg.dim
        self.norm_latent = nn.LayerNorm(cfg.dim)
        self.norm_feature = nn.LayerNorm(channels)
        self.read = Attention(cfg.dim, cfg.heads, context_dim=channels)
        self.mix = TransformerLayer(cfg.dim, cfg.heads, mlp_ratio=2)

    def forward(self, feature: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """feature [B, C, H, W], latent [B, L, d] -> latent [B, L, d]."""
        b, c, h, w = feature.shape
        tokens = feature.reshape(b, c, h * w).transpose(1, 2)  # [B, HW, C]
        latent = latent + self.read(self.norm_latent(latent), self.norm_feature(tokens))
        return self.mix(latent)


class LatentHead(nn.Module):
    """An exit on the latent branch: LayerNorm, mean over the latent tokens, linear."""

    reads_latent = True

    def __init__(self, dim: int, num_classes: int, feature_size: int = 0):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(latent).mean(dim=1))
