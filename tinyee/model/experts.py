"""Per-token mixture of experts for the MobileViT transformer MLP (Switch-style top-1 routing).

A router scores each token against E expert MLPs and the token goes through the best one (Mensah et al.
2024 route patches of MobileViT to experts the same way). The
routing is written with ops that export to int8 exactly and make an unchosen expert's gate the int8
zero point, bit for bit: ``chosen = relu(SHARPNESS * (logits - max(logits)) + 1)`` is 1 for the best
expert and exactly 0 for any expert more than 1/SHARPNESS behind it. The int8 graph stays dense
(every expert, each multiplied by its gate), so any TFLite runtime runs it; tinyee's compiler sees
that a zero gate zeroes the product whatever the expert computed and runs an expert only on the
tokens whose gate is not zero (tinyee/compile/route.py).
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

# Logit gap (times this) below which two experts both pass: only exact ties in practice.
SHARPNESS = 1000.0


class ExpertMLP(nn.Module):
    """E experts that share out a dense MLP's hidden width (each dim -> hidden / E -> dim): the layer has
    the dense MLP's parameters, and a token runs 1/E of its multiply-accumulates."""

    def __init__(self, dim: int, hidden: int, experts: int):
        super().__init__()
        self.router = nn.Linear(dim, experts)
        width = hidden // experts
        self.experts = nn.ModuleList(
            nn.Sequential(nn.Linear(dim, width), nn.SiLU(), nn.Linear(width, dim)) for _ in range(experts))
        self.balance = None  # the last training forward's load-balancing loss
        # a [E] constant, not a scalar: onnx2tf cannot convert an ADD of a scalar here
        self.register_buffer("one", torch.ones(experts), persistent=False)

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """[..., E]: 1 for each token's chosen expert, 0 for the others; in training the router's softmax
        carries the gradient (a straight-through estimator), and the Switch load-balancing loss is kept."""
        # SHARPNESS is folded into the router's weights, as attention folds its scale: no MUL to export
        sharp = F.linear(x, self.router.weight * SHARPNESS, self.router.bias * SHARPNESS)
        chosen = torch.relu(sharp - sharp.amax(-1, keepdim=True) + self.one)
        if not self.training:
            return chosen
        probs = torch.softmax(self.router(x), dim=-1)
        share = chosen.detach().flatten(0, -2).mean(0)  # fraction of tokens per expert
        self.balance = len(self.experts) * (share * probs.flatten(0, -2).mean(0)).sum()
        return chosen + probs - probs.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.gates(x)
        return sum(g[..., e:e + 1] * expert(x) for e, expert in enumerate(self.experts))

    @classmethod
    def split(cls, mlp: nn.Sequential, experts: int) -> "ExpertMLP":
        """A trained dense MLP's hidden units dealt out to the experts in contiguous groups (as MoEfication
        does, without its clustering), each expert keeping the output bias; the router starts untrained."""
        up, down = mlp[0], mlp[2]
        moe = cls(up.in_features, up.out_features, experts)
        width = up.out_features // experts
        with torch.no_grad():
            for e, expert in enumerate(moe.experts):
                part = slice(e * width, (e + 1) * width)
                expert[0].weight.copy_(up.weight[part])
                expert[0].bias.copy_(up.bias[part])
                expert[2].weight.copy_(down.weight[:, part])
                expert[2].bias.copy_(down.bias)
        return moe


def balance_loss(model: nn.Module) -> torch.Tensor | None:
    """Sum of the expert layers' load-balancing losses from the last training forward (None: no experts)."""
    parts = [m.balance for m in model.modules() if isinstance(m, ExpertMLP) and m.balance is not None]
    return sum(parts) if parts else None
