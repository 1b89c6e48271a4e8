"""Backbone building blocks: MobileNetV2 inverted residuals and MobileViT blocks.

Every tensor stays at most 4-D (patch (un)folding is reshape/transpose only), so the
graphs convert through ONNX and onnx2tf into plain int8 TFLite ops.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from tinyee.model.config import TransformerConfig
from tinyee.model.experts import ExpertMLP


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (may stride), 1x1 project, residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.block = nn.Sequential(
            conv_bn_act(cin, hidden, 1),
            conv_bn_act(hidden, hidden, 3, stride=stride, groups=hidden),
            conv_bn_act(hidden, cout, 1, act=False),
        )
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class Attention(nn.Module):
    """Multi-head attention written with plain matmuls (no fused op) for a clean int8 export: self-attention,
    or cross-attention from x to a context of context_dim channels."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(context_dim or dim, dim)
        self.v = nn.Linear(context_dim or dim, dim)
        self.out = nn.Linear(dim, dim)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = x.shape
        context = x if context is None else context
        # The 1/sqrt(d) scale is folded into q's weights: the export then has no extra MUL.
        q = self._split_heads(F.linear(x, self.q.weight * self.scale, self.q.bias * self.scale))
        k = self._split_heads(self.k(context))
        v = self._split_heads(self.v(context))
        attn = torch.softmax(q @ k.transpose(-1, -2), dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(b, n, d)
        return self.out(y)


class TransformerLayer(nn.Module):
    """Pre-norm encoder layer: LayerNorm + attention, LayerNorm + SiLU MLP (or routed expert MLPs), both residual."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, experts: int = 0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = dim * mlp_ratio
        self.mlp = (ExpertMLP(dim, hidden, experts) if experts else
                    nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, dim)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def unfold_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, H, W] -> [B*p*p, N, C]: one token sequence per pixel position inside a patch."""
    b, c, h, w = x.shape
    nh, nw = h // patch, w // patch
    t = x.reshape(b * c * nh, patch, nw, patch).transpose(1, 2)  # [B*C*nh, nw, p, p]
    t = t.reshape(b, c, nh * nw, patch * patch).transpose(1, 3)  # [B, p*p, N, C]
    return t.reshape(b * patch * patch, nh * nw, c)


def fold_patches(t: torch.Tensor, batch: int, patch: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`unfold_patches`."""
    _, n, c = t.shape
    nh, nw = h // patch, w // patch
    t = t.reshape(batch, patch * patch, n, c).transpose(1, 3)  # [B, C, N, p*p]
    t = t.reshape(batch * c * nh, nw, patch, patch).transpose(1, 2)  # [B*C*nh, p, nw, p]
    return t.reshape(batch, c, h, w)


class MobileViTBlock(nn.Module):
    """MobileViT block: local 3x3 conv, 1x1 to transformer width, unfold, transformers, fold, fuse."""

    def __init__(self, channels: int, cfg: TransformerConfig, patch: int):
        super().__init__()
        self.patch = patch
        self.local = nn.Sequential(conv_bn_act(channels, channels, 3), nn.Conv2d(channels, cfg.dim, 1, bias=False))
        self.transformer = nn.Sequential(
            *[TransformerLayer(cfg.dim, cfg.heads, cfg.mlp_ratio, cfg.experts) for _ in range(cfg.depth)], nn.LayerNorm(cfg.dim)
        )
        self.project = conv_bn_act(cfg.dim, channels, 1)
        self.fuse = conv_bn_act(2 * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        y = self.local(x)
        y = fold_patches(self.transformer(unfold_patches(y, self.patch)), b, self.patch, h, w)
        return self.fuse(torch.cat([x, self.project(y)], dim=1))
