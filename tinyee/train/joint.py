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


def exit_losses(logits: list[torch.Tensor], y: torch.Tensor, tc: TrainConfig) -> list[torch.Tensor]:
    """Cross-entropy per exit; with copycat distillation the intermediate exits mix in
    T^2 * KL(final exit's softened prediction || exit's), and with distill=1 labels are not used."""
    teacher = torch.softmax(logits[-1].detach() / tc.temperature, dim=-1)
    losses = []
    for k, z in enumerate(logits):
        ce = F.cross_entropy(z, y) if tc.distill < 1 else z.new_zeros(())
        if tc.distill and k < len(logits) - 1:
            kd = F.kl_div(F.log_softmax(z / tc.temperature, dim=-1), teacher, reduction="batchmean")
            ce = (1 - tc.distill) * ce + tc.distill * tc.temperature ** 2 * kd
        losses.append(ce)
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
