from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tinyee.data import ImageSet, to_model_input
from tinyee.errors import TinyeeError
from tinyee.model import ModelConfig, MultiExitMobileViT, save_checkpoint
from tinyee.fileio import atomic_write
from tinyee.progress import progress


@dataclass
class TrainConfig:
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


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random crop with 2-pixel padding and random horizontal flip."""
    n, _, h, w = x.shape
    padded = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=gen)
    dx = torch.randint(0, 5, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None]).view(n, 1, h, 1).expand(-1, x.shape[1], -1, w + 4)
    x = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None]).view(n, 1, 1, w).expand(-1, x.shape[1], h, -1)
    x = x.gather(3, cols)
    flip = torch.rand(n, generator=gen) < 0.5
    x[flip] = x[flip].flip(3)
    return x


@torch.no_grad()
def evaluate_float(model: MultiExitMobileViT, data: ImageSet, batch_size: int = 256) -> np.ndarray:
    """Per-exit softmax probabilities [exits, N, classes] of the float model."""
    model.eval()
    cfg = model.cfg
    out = []
    for i in range(0, len(data), batch_size):
        x = to_model_input(data.images[i:i + batch_size], cfg.input_size, cfg.in_channels)
        out.append(torch.stack([torch.softmax(l, -1) for l in model(x)]).numpy())
    return np.concatenate(out, axis=1)


def _exit_losses(logits: list[torch.Tensor], y: torch.Tensor, tc: TrainConfig) -> list[torch.Tensor]:
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


def train(model_cfg: ModelConfig, train_set: ImageSet, test_set: ImageSet | None, out_dir: Path, tc: TrainConfig,
          log=print, init_model: MultiExitMobileViT | None = None) -> MultiExitMobileViT:
    """Train the exits; write out_dir/{last.pt, config.json, history.json} after each epoch.

    With init_model the run fine-tunes it (e.g. frozen backbone + copycat distillation of the exits).
    Unlabelled images (label -1) need distill=1; without a labelled test set no accuracy is logged.
    """
    model_cfg = init_model.cfg if init_model is not None else model_cfg
    if tc.distill < 1 and train_set.labels.min() < 0:
        raise TinyeeError(f"{train_set.source} is unlabelled: train on it with --distill 1 (copycat from the final exit)")
    if tc.distill < 1 and train_set.labels.max() >= model_cfg.num_classes:
        raise TinyeeError(
            f"dataset has label {int(train_set.labels.max())} but the model has {model_cfg.num_classes} classes"
        )
    weights = tc.exit_weights or (1.0,) * model_cfg.num_exits
    if len(weights) != model_cfg.num_exits:
        raise TinyeeError(f"{len(weights)} exit weights given for {model_cfg.num_exits} exits")
    if not 0 <= tc.distill <= 1:
        raise TinyeeError(f"distillation weight {tc.distill} is not in [0, 1]")
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    gen = torch.Generator().manual_seed(tc.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_cfg.save(out_dir / "config.json")

    model = init_model if init_model is not None else MultiExitMobileViT(model_cfg)
    x_all = to_model_input(train_set.images, model_cfg.input_size, model_cfg.in_channels)
    y_all = torch.from_numpy(train_set.labels)
    if init_bof_codebooks(model, x_all[torch.randperm(len(x_all), generator=gen)[:1024]]):
        log("bag-of-features codebooks initialised by k-means")
    trainable = list(model.parameters())
    if tc.freeze_backbone:
        head_params = {id(p) for h in model.heads[:-1] for p in h.parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in head_params)
        trainable = [p for p in model.parameters() if p.requires_grad]
    steps = tc.epochs * ((len(y_all) + tc.batch_size - 1) // tc.batch_size)
    opt = torch.optim.AdamW(trainable, lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=steps, pct_start=0.15)
    history = []
    for epoch in range(tc.epochs):
        model.train()
        if tc.freeze_backbone:  # frozen parts keep their batch-norm statistics too
            model.stem.eval()
            model.stages.eval()
            model.heads[-1].eval()
        perm = torch.randperm(len(y_all), generator=gen)
        t0, total, seen = time.time(), 0.0, 0
        bar = progress(range(0, len(perm), tc.batch_size), f"epoch {epoch + 1}/{tc.epochs}", unit="batch")
        for i in bar:
            idx = perm[i:i + tc.batch_size]
            x, y = x_all[idx], y_all[idx]
            if tc.augment:
                x = _augment(x, gen)
            loss = sum(w * l for w, l in zip(weights, _exit_losses(model(x), y, tc)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            bar.set_postfix(loss=f"{total / seen:.3f}")
        acc = None
        if test_set is not None and test_set.labels.min() >= 0:
            acc = [(p.argmax(-1) == test_set.labels).mean().item() for p in evaluate_float(model, test_set)]
        history.append({"epoch": epoch + 1, "loss": total / seen, "test_accuracy": acc, "seconds": time.time() - t0})
        log(f"epoch {epoch + 1}/{tc.epochs}  loss {total / seen:.4f}  "
            + ("test accuracy per exit " + " ".join(f"{a:.4f}" for a in acc) if acc else "(no labelled test split)")
            + f"  ({time.time() - t0:.0f} s)")
        save_checkpoint(out_dir / "last.pt", model, epoch=epoch + 1, train=asdict(tc), history=history,
                        dataset=train_set.source, classes=train_set.classes)
        atomic_write(out_dir / "history.json", lambda p: p.write_text(json.dumps(history, indent=2) + "\n"))
    for p in model.parameters():
        p.requires_grad_(True)
    return model.eval()
