"""What a training run optimises: its settings, the per-exit losses (cross-entropy, copycat distillation),
the k-means start of bag-of-features codebooks, and the float model's per-exit predictions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from tinyee.data import ImageSet
from tinyee.data.layouts import Source
from tinyee.data.stream import ModelInputs, batches, loader
from tinyee.model import MultiExitMobileViT


@dataclass
class TrainConfig:
    """What the run learns (fixed once it has started) and, in RUNTIME_FIELDS, where and how it runs."""
    epochs: int = 10
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.01
    exit_weights: tuple[float, ...] | None = None  # default: equal weights
    seed: int = 0
    augment: bool = True
    threads: int | None = None
    freeze_backbone: bool = False  # train only the intermediate exit heads
    distill: float = 0.0           # copycat weight: intermediate exits imitate the final exit's soft predictions
    temperature: float = 3.0
    label_smoothing: float = 0.0
    ema: float = 0.0               # decay of the weights' moving average (0: off); the average is what is kept
    mixup: float = 0.0             # Beta(alpha, alpha) of mixup (0: off)
    cutmix: float = 0.0            # Beta(alpha, alpha) of cutmix (0: off)
    teacher: str | None = None     # checkpoint whose final exit every exit also imitates
    teacher_weight: float = 0.5
    qat: bool = False              # train through fake int8 quantization (tinyee.train.qat)
    device: str = "auto"           # auto, cpu, cuda, mps
    amp: bool | None = None        # mixed precision; None: on for CUDA GPUs
    workers: int = 0               # DataLoader worker processes
    stream: bool = False           # decode images in the workers instead of holding the set in memory
    resume: bool = False           # continue from out_dir/last.pt when there is one


RUNTIME_FIELDS = {"threads", "device", "amp", "workers", "stream", "resume"}


@torch.no_grad()
def evaluate_float(model: MultiExitMobileViT, data: ImageSet | Source, batch_size: int = 256,
                   device: torch.device | None = None, stream: bool = False, workers: int = 0) -> np.ndarray:
    """Per-exit softmax probabilities [exits, N, classes] of the float model, computed on `device`."""
    model.eval()
    cfg = model.cfg
    inputs = ModelInputs(data, cfg.input_size, cfg.in_channels, stream=stream)
    out = []
    for x, _ in batches(loader(inputs, batch_size, workers=workers)):
        logits = model(x.to(device) if device is not None else x)
        out.append(torch.stack([torch.softmax(z.float(), -1) for z in logits]).cpu().numpy())
    return np.concatenate(out, axis=1)


def _soft_kl(z: torch.Tensor, target_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(target || softmax(z / T)), the scale of Hinton et al.'s distillation loss."""
    return temperature ** 2 * F.kl_div(F.log_softmax(z / temperature, dim=-1), target_probs, reduction="batchmean")


def exit_losses(logits: list[torch.Tensor], y: torch.Tensor, tc: TrainConfig,
                teacher_logits: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Cross-entropy per exit (y: labels, or soft targets after mixup/cutmix; with label smoothing); with
    copycat distillation the intermediate exits mix in the final exit's softened prediction (distill=1: labels
    not used), and with a teacher every exit mixes in the teacher's."""
    copycat = torch.softmax(logits[-1].detach() / tc.temperature, dim=-1)
    guide = torch.softmax(teacher_logits / tc.temperature, dim=-1) if teacher_logits is not None else None
    losses = []
    for k, z in enumerate(logits):
        loss = F.cross_entropy(z, y, label_smoothing=tc.label_smoothing) if tc.distill < 1 else z.new_zeros(())
        if tc.distill and k < len(logits) - 1:
            loss = (1 - tc.distill) * loss + tc.distill * _soft_kl(z, copycat, tc.temperature)
        if guide is not None:
            loss = (1 - tc.teacher_weight) * loss + tc.teacher_weight * _soft_kl(z, guide, tc.temperature)
        losses.append(loss)
    return losses


@torch.no_grad()
def init_bof_codebooks(model: MultiExitMobileViT, x: torch.Tensor) -> int:
    """k-means-initialise every bag-of-features head on the features its exit sees; returns how many."""
    from tinyee.model.heads import BagOfFeaturesHead

    model.eval()
    feature, done = model.stem(x), 0
    for k, stages in enumerate(model._segment_stage_ranges()):
        for i in stages:
            feature = model.stages[i](feature)
        if isinstance(model.heads[k], BagOfFeaturesHead):
            model.heads[k].init_codebook(feature)
            done += 1
    return done
