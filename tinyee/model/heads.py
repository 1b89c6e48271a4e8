"""Exit heads. Each maps a feature map [B, C, H, W] to class logits; chosen by name per exit.

* ``linear``: global average pool + linear classifier (the baseline exit).
* ``slvit``: single-layer vision transformer exit (Bakhtiarnia et al., 2022): a strided conv
  turns the feature map into patch tokens, one transformer encoder layer mixes them, then
  LayerNorm, mean over tokens and a linear classifier.
* ``bof``: bag-of-features exit (Passalis et al., 2020): squared distances to K codewords
  (a 1x1 convolution plus norms), soft assignment by a softmax over codewords with a learned
  per-codeword sigma, histogram by mean pooling, linear classifier. ``init_codebook`` sets the
  codewords by k-means on training features.
* ``hbof``: hierarchical bag-of-features exits (Passalis et al., Pattern Recognition 2020): BoF
  histograms of one size K at consecutive exits live in one additive histogram space. Exit k
  classifies the mean of its own and the earlier ``hbof`` exits' histograms, with one classifier
  shared by all of them (the paper's classification-layer reuse). The running mean travels from
  segment to segment as a second boundary tensor ([B, K]).

* ``latent``: an exit on a Dynamic-Perceiver latent branch (tinyee.model.latent); needs the
  model config's ``latent``.

Every head lowers to int8 TFLite ops the firmware implements (no SUM, GELU or float ops).
"""

from __future__ import annotations

import torch
from torch import nn

from tinyee.errors import TinyeeError
from tinyee.model.blocks import TransformerLayer
from tinyee.model.latent import LatentHead


class LinearHead(nn.Module):
    def __init__(self, channels: int, num_classes: int, feature_size: int):
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


class SingleLayerViTHead(nn.Module):
    def __init__(self, channels: int, num_classes: int, feature_size: int, dim: int = 32, heads: int = 2):
        super().__init__()
        patch = 2 if feature_size % 2 == 0 and feature_size >= 4 else 1
        self.tokenize = nn.Conv2d(channels, dim, patch, stride=patch)
        self.encoder = TransformerLayer(dim, heads, mlp_ratio=2)
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokenize(x)                      # [B, d, h, w]
        b, d, h, w = t.shape
        t = t.reshape(b, d, h * w).transpose(1, 2)  # [B, N, d]
        t = self.norm(self.encoder(t))
        return self.fc(t.mean(dim=1))


class BagOfFeaturesHead(nn.Module):
    aggregates = False  # True: takes the earlier exits' histogram and returns (logits, aggregated histogram)

    def __init__(self, channels: int, num_classes: int, feature_size: int, codewords: int = 32, position: int = 0):
        super().__init__()
        self.channels, self.position = channels, position
        self.codebook = nn.Parameter(torch.randn(codewords, channels) * 0.1)
        self.log_sigma = nn.Parameter(torch.zeros(codewords))
        self.fc = nn.Linear(codewords, num_classes)
        self._frozen: tuple | None = None

    def _affine(self):
        """-d_k / sigma_k^2 = conv1x1(x; 2 v_k / sigma_k^2, -||v_k||^2 / sigma_k^2) - ||x||^2 / sigma_k^2."""
        if self._frozen is not None:
            return self._frozen
        inv_var = torch.exp(-2 * self.log_sigma)
        weight = (2 * inv_var[:, None] * self.codebook)[:, :, None, None]
        bias = -inv_var * (self.codebook * self.codebook).sum(dim=1)
        return weight, bias, inv_var[:, None, None, None]

    def histogram(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, K]: soft assignment to the codewords at every position, averaged."""
        weight, bias, inv_var = self._affine()
        x_sq = self.channels * (x * x).mean(dim=1, keepdim=True)  # ||x||^2 as C * mean(x^2): MEAN lowers to int8
        # ||x||^2 / sigma_k^2 for every k as a 1x1 convolution from one channel to K (a [B,1,H,W] x [1,K,1,1]
        # broadcast would be mis-transposed by onnx2tf).
        logits = nn.functional.conv2d(x, weight, bias) - nn.functional.conv2d(x_sq, inv_var)
        return torch.softmax(logits, dim=1).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.histogram(x))

    def folded(self) -> nn.Module:
        """A copy with the codebook algebra precomputed as constants, for export (onnx2tf needs constant
        conv weights)."""
        copy = type(self)(self.channels, self.fc.out_features, 0, self.codebook.shape[0], self.position)
        copy.load_state_dict(self.state_dict())
        copy._frozen = tuple(t.detach().clone() for t in self._affine())
        return copy.eval()

    @torch.no_grad()
    def init_codebook(self, features: torch.Tensor, iterations: int = 20, seed: int = 0) -> None:
        """k-means on feature vectors [B, C, H, W] (every spatial position is a sample)."""
        samples = features.permute(0, 2, 3, 1).reshape(-1, self.channels)
        gen = torch.Generator().manual_seed(seed)
        k = self.codebook.shape[0]
        centers = samples[torch.randperm(len(samples), generator=gen)[:k]].clone()
        for _ in range(iterations):
            nearest = torch.cdist(samples, centers).argmin(dim=1)
            for j in range(k):
                members = samples[nearest == j]
                if len(members):
                    centers[j] = members.mean(dim=0)
        self.codebook.copy_(centers)
        spread = torch.cdist(samples, centers).min(dim=1).values.pow(2).mean().clamp_min(1e-6)
        self.log_sigma.fill_(0.5 * float(torch.log(spread)))


class HierarchicalBoFHead(BagOfFeaturesHead):
    """The position-th exit of a run of ``hbof`` exits (0: the first, which has no earlier histogram)."""

    aggregates = True

    def forward(self, x: torch.Tensor, earlier: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.histogram(x)
        if self.position:
            h = earlier * (self.position / (self.position + 1)) + h * (1 / (self.position + 1))
        return self.fc(h), h


HEADS: dict[str, type[nn.Module]] = {"linear": LinearHead, "slvit": SingleLayerViTHead, "bof": BagOfFeaturesHead,
                                     "hbof": HierarchicalBoFHead, "latent": LatentHead}


def build_head(kind: str, channels: int, num_classes: int, feature_size: int) -> nn.Module:
    if kind not in HEADS:
        raise TinyeeError(f"unknown exit head {kind!r}; available: {sorted(HEADS)}")
    return HEADS[kind](channels, num_classes, feature_size)


def build_heads(kinds: list[str], channels: list[int], num_classes: int, sizes: list[int],
                latent_dim: int = 0) -> nn.ModuleList:
    """One head per exit; consecutive ``hbof`` heads are numbered along their run and share one classifier;
    ``latent`` heads read latent_dim-wide tokens."""
    heads = nn.ModuleList()
    for k, kind in enumerate(kinds):
        head = build_head(kind, latent_dim if kind == "latent" else channels[k], num_classes, sizes[k])
        if getattr(head, "aggregates", False) and k and kinds[k - 1] == kind:
            head.position = heads[k - 1].position + 1
            head.fc = heads[k - 1].fc
        heads.append(head)
    return heads
