"""Parameter bytes and MACs of exit heads, counted on the float model with forward hooks."""

from __future__ import annotations

import torch
from torch import nn

from tinyee.model.blocks import Attention
from tinyee.model.heads import BagOfFeaturesHead
from tinyee.model.network import MultiExitMobileViT


def module_macs(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of convolutions, linear layers and attention matmuls for these inputs."""
    total = 0

    def conv(m, inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m, inp, out):
        nonlocal total
        total += out.numel() * m.in_features

    def attention(m, inp, out):
        nonlocal total
        b, n, d = inp[0].shape
        total += 2 * b * m.heads * n * n * m.head_dim  # q @ k^T and attn @ v

    def bag_of_features(m, inp, out):  # its two 1x1 convolutions are functional, not nn.Conv2d
        nonlocal total
        b, c, h, w = inp[0].shape
        total += b * h * w * m.codebook.shape[0] * (c + 1)

    hooks = []
    for m in module.modules():
        if isinstance(m, BagOfFeaturesHead):
            hooks.append(m.register_forward_hook(bag_of_features))
        elif isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear))
        elif isinstance(m, Attention):
            hooks.append(m.register_forward_hook(attention))
    with torch.no_grad():
        module.eval()(*inputs)
    for h in hooks:
        h.remove()
    return total


def head_costs(model: MultiExitMobileViT) -> list[dict]:
    """Per exit head: kind, parameters (= int8 weight bytes) and MACs on one input."""
    cfg = model.cfg
    x = torch.zeros(1, cfg.in_channels, cfg.input_size, cfg.input_size)
    out = []
    with torch.no_grad():
        for k, feature, latent in model.eval().exit_inputs(x):
            head = model.heads[k]
            if hasattr(head, "folded"):
                head = head.folded()
            earlier = (torch.zeros(1, head.fc.in_features),) if getattr(head, "position", 0) else ()
            inputs = (latent,) if getattr(head, "reads_latent", False) else (feature, *earlier)
            out.append({"exit": k, "kind": cfg.exit_heads[k], "params": sum(p.numel() for p in model.heads[k].parameters()),
                        "macs": module_macs(head, *inputs)})
    return out
