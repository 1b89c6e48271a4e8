from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from tinyee.data import ImageSet, to_model_input
from tinyee.errors import TinyeeError
from tinyee.model import ModelConfig, MultiExitMobileViT, save_checkpoint
from tinyee.model.checkpoint import atomic_write


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


def train(model_cfg: ModelConfig, train_set: ImageSet, test_set: ImageSet, out_dir: Path, tc: TrainConfig,
          log=print) -> MultiExitMobileViT:
    """Train every exit jointly; write out_dir/{last.pt, config.json, history.json} after each epoch."""
    if train_set.labels.max() >= model_cfg.num_classes:
        raise TinyeeError(
            f"dataset has label {int(train_set.labels.max())} but the model has {model_cfg.num_classes} classes"
        )
    weights = tc.exit_weights or (1.0,) * model_cfg.num_exits
    if len(weights) != model_cfg.num_exits:
        raise TinyeeError(f"{len(weights)} exit weights given for {model_cfg.num_exits} exits")
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    gen = torch.Generator().manual_seed(tc.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_cfg.save(out_dir / "config.json")

    model = MultiExitMobileViT(model_cfg)
    x_all = to_model_input(train_set.images, model_cfg.input_size, model_cfg.in_channels)
    y_all = torch.from_numpy(train_set.labels)
    steps = tc.epochs * ((len(y_all) + tc.batch_size - 1) // tc.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=steps, pct_start=0.15)
    history = []
    for epoch in range(tc.epochs):
        model.train()
        perm = torch.randperm(len(y_all), generator=gen)
        t0, total, seen = time.time(), 0.0, 0
        bar = tqdm(range(0, len(perm), tc.batch_size), desc=f"epoch {epoch + 1}/{tc.epochs}", unit="batch",
                   leave=False, disable=None)
        for i in bar:
            idx = perm[i:i + tc.batch_size]
            x, y = x_all[idx], y_all[idx]
            if tc.augment:
                x = _augment(x, gen)
            loss = sum(w * F.cross_entropy(l, y) for w, l in zip(weights, model(x)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
            bar.set_postfix(loss=f"{total / seen:.3f}")
        probs = evaluate_float(model, test_set)
        acc = [(p.argmax(-1) == test_set.labels).mean().item() for p in probs]
        history.append({"epoch": epoch + 1, "loss": total / seen, "test_accuracy": acc, "seconds": time.time() - t0})
        log(f"epoch {epoch + 1}/{tc.epochs}  loss {total / seen:.4f}  test accuracy per exit "
            + " ".join(f"{a:.4f}" for a in acc) + f"  ({time.time() - t0:.0f} s)")
        save_checkpoint(out_dir / "last.pt", model, epoch=epoch + 1, train=asdict(tc), history=history,
                        dataset=train_set.source, classes=train_set.classes)
        atomic_write(out_dir / "history.json", lambda p: p.write_text(json.dumps(history, indent=2) + "\n"))
    return model.eval()
