"""The parts of a training recipe beyond plain cross-entropy: mixup / cutmix of a batch (soft targets),
an exponential moving average of the weights (PyTorch's AveragedModel), and a teacher checkpoint (a
larger preset trained on the same data) whose softened predictions every exit also learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from tinyee.errors import TinyeeError
from tinyee.model import ModelConfig, MultiExitMobileViT, load_checkpoint


def mix_batch(x: torch.Tensor, y: torch.Tensor, classes: int, mixup: float, cutmix: float,
              seed: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, soft targets [B, classes]): mixup (a convex blend of two images) or cutmix (a box of one
    pasted into the other), one of the two at random when both are on, with lambda ~ Beta(alpha, alpha);
    drawn from `seed` so every run of the same batch mixes it the same way."""
    rng = np.random.default_rng(seed)
    target = F.one_hot(y, classes).float()
    kinds = [k for k, alpha in (("mixup", mixup), ("cutmix", cutmix)) if alpha > 0]
    kind = kinds[rng.integers(len(kinds))]
    lam = float(rng.beta(mixup, mixup) if kind == "mixup" else rng.beta(cutmix, cutmix))
    partner = torch.from_numpy(rng.permutation(len(y))).to(x.device)
    if kind == "mixup":
        mixed = lam * x + (1 - lam) * x[partner]
    else:
        h, w = x.shape[2:]
        bh, bw = int(h * np.sqrt(1 - lam)), int(w * np.sqrt(1 - lam))
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0, y1, x0, x1 = max(cy - bh // 2, 0), min(cy + bh // 2, h), max(cx - bw // 2, 0), min(cx + bw // 2, w)
        mixed = x.clone()
        mixed[:, :, y0:y1, x0:x1] = x[partner][:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually pasted
    return mixed, lam * target + (1 - lam) * target[partner]


def weight_average(model: MultiExitMobileViT, decay: float) -> AveragedModel:
    """An exponential moving average of the weights and batch-norm statistics, updated after each step. Its
    decay ramps up as min(decay, (1 + n) / (10 + n)) over the first updates n (as TensorFlow's
    ExponentialMovingAverage with num_updates), so a short run does not keep mostly its initial weights."""

    @torch.no_grad()
    def update(averaged: list, current: list, updates: torch.Tensor) -> None:
        n = float(updates)
        d = min(decay, (1 + n) / (10 + n))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1 - d)
        else:  # batch norm's batch counters: the latest count
            for a, c in zip(averaged, current):
                a.copy_(c)

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)


def load_teacher(path: Path, student: ModelConfig, device: torch.device) -> MultiExitMobileViT:
    teacher, _ = load_checkpoint(path)
    t = teacher.cfg
    if (t.num_classes, t.input_size, t.in_channels) != (student.num_classes, student.input_size, student.in_channels):
        raise TinyeeError(f"teacher {path} takes {t.in_channels}x{t.input_size}x{t.input_size} images into "
                          f"{t.num_classes} classes; the student {student.in_channels}x{student.input_size}x"
                          f"{student.input_size} into {student.num_classes}")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.to(device).eval()
