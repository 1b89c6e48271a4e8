"""`tinyee train`: joint training of all exits, or fine-tuning a checkpoint's exits."""

from __future__ import annotations

import os
from pathlib import Path

from tinyee.commands.console import log, parse_floats
from tinyee.errors import TinyeeError
from tinyee.fileio import check_writable


def run(data_dir: Path, out: Path, preset: str, config_path: Path | None, epochs: int, batch_size: int, lr: float,
        exit_weights: str | None, in_channels: int, exit_heads: str | None, init_ckpt: Path | None,
        freeze_backbone: bool, distill: float, temperature: float, limit: int | None, seed: int, device: str,
        amp: bool | None, stream: bool, workers: int | None, resume: bool, label_smoothing: float, ema: float,
        mixup: float, cutmix: float, teacher: Path | None, teacher_weight: float, qat: bool = False,
        latent: str | None = None, experts: int | None = None) -> None:
    from tinyee.data import load_dataset
    from tinyee.data.layouts import open_source
    from tinyee.model import ModelConfig, load_checkpoint
    from tinyee.model import preset as make_preset
    from tinyee.train import TrainConfig, train

    check_writable(out)
    weights = parse_floats(exit_weights)  # bad values fail before the data set is read
    if weights is not None and (min(weights) < 0 or sum(weights) <= 0):
        raise TinyeeError(f"--exit-weights {exit_weights}: weights must be >= 0 and not all 0")
    read = open_source if stream else load_dataset  # streamed sets are opened, not read
    train_set = read(data_dir, "train").take(limit)
    test_set = read(data_dir, "test") if (train_set.labels >= 0).all() else None
    init_model = load_checkpoint(init_ckpt)[0] if init_ckpt else None
    cfg = ModelConfig.load(config_path) if config_path else make_preset(preset, len(train_set.classes), in_channels)
    branch = _latent_branch(latent, exit_heads)
    if exit_heads and init_model is not None:  # new intermediate heads on the checkpoint's backbone
        init_model = init_model.with_exit_heads(exit_heads.split(","), branch)
    elif exit_heads:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), "exit_heads": exit_heads.split(",")} |
                                    ({"latent": branch} if branch is not None else {}))
    if experts and init_model is not None:  # the checkpoint's MLPs shared out among experts
        init_model = init_model.with_experts(experts)
    elif experts:
        cfg = cfg.with_experts(experts)
    cfg = init_model.cfg if init_model is not None else cfg
    if train_set.classes and len(train_set.classes) != cfg.num_classes:
        raise TinyeeError(f"{train_set.source} has {len(train_set.classes)} classes, but the model has "
                          f"{cfg.num_classes} outputs")
    if weights is not None and len(weights) != cfg.num_exits:
        raise TinyeeError(f"--exit-weights gives {len(weights)} weights for {cfg.num_exits} exits")
    say = log.print if os.environ.get("RANK", "0") == "0" else (lambda *_: None)  # torchrun: rank 0 speaks
    say(f"training {cfg.name} ({cfg.num_exits} exits: {', '.join(cfg.exit_heads)}) on {len(train_set)} "
              f"images from {train_set.source}")
    tc = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, exit_weights=weights, seed=seed,
                     freeze_backbone=freeze_backbone, distill=distill, temperature=temperature, device=device, amp=amp,
                     workers=(2 if stream else 0) if workers is None else workers, stream=stream, resume=resume,
                     label_smoothing=label_smoothing, ema=ema, mixup=mixup, cutmix=cutmix,
                     teacher=str(teacher) if teacher else None, teacher_weight=teacher_weight, qat=qat)
    train(cfg, train_set, test_set, out, tc, log=say, init_model=init_model)
    say(f"checkpoint: {out / 'last.pt'}")


def _latent_branch(spec: str | None, exit_heads: str | None) -> dict | None:
    """--latent TOKENSxDIM[xHEADS] as a LatentConfig dict; latent exits without it get the default size."""
    if spec is None:
        return {} if exit_heads and "latent" in exit_heads.split(",") else None
    parts = spec.lower().split("x")
    if len(parts) not in (2, 3) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise TinyeeError(f"--latent {spec}: give TOKENSxDIM or TOKENSxDIMxHEADS, e.g. 8x32 or 8x32x2")
    return dict(zip(("tokens", "dim", "heads"), map(int, parts)))
