"""One training run: all exits jointly, or a checkpoint's exits fine-tuned, on one device or one process per
device under torchrun (DDP), with a checkpoint every epoch that the run can resume from."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from tinyee.data import ImageSet
from tinyee.data.layouts import Source
from tinyee.data.stream import ModelInputs, batches, loader
from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write_text
from tinyee.model import ModelConfig, MultiExitMobileViT, load_resumable, save_checkpoint
from tinyee.model.heads import BagOfFeaturesHead
from tinyee.progress import progress
from tinyee.train import qat
from tinyee.train.distributed import Placement, leave, place
from tinyee.train.joint import RUNTIME_FIELDS, TrainConfig, evaluate_float, init_bof_codebooks
from tinyee.train.recipe import load_teacher, weight_average
from tinyee.train.step import TrainStep

BOF_INIT_SAMPLES = 1024


def train(model_cfg: ModelConfig, train_set: ImageSet | Source, test_set: ImageSet | Source | None, out_dir: Path,
          tc: TrainConfig, log=print, init_model: MultiExitMobileViT | None = None) -> MultiExitMobileViT:
    """Train the exits; write out_dir/{last.pt, config.json, history.json} after each epoch (rank 0).

    With init_model the run fine-tunes it (e.g. frozen backbone + copycat distillation of the exits).
    Unlabelled images (label -1) need distill=1; without a labelled test set no accuracy is logged.
    `tc.batch_size` is the global batch: each of torchrun's processes takes its share of every batch, so
    the run sees the same batches on any number of processes. Returns the trained model on the CPU.
    """
    cfg = init_model.cfg if init_model is not None else model_cfg
    weights = _checked(cfg, train_set, tc)
    placement = place(tc.device, tc.amp)
    try:
        if tc.batch_size % placement.world:
            raise TinyeeError(f"batch size {tc.batch_size} is not divisible by the {placement.world} processes")
        return _run(cfg, weights, train_set, test_set, Path(out_dir), tc, log if placement.main else _quiet,
                    init_model, placement)
    finally:
        leave(placement)


def _quiet(*_args, **_kwargs) -> None:
    pass


def _checked(cfg: ModelConfig, train_set: ImageSet | Source, tc: TrainConfig) -> tuple[float, ...]:
    if tc.distill < 1 and train_set.labels.min() < 0:
        raise TinyeeError(f"{train_set.source} is unlabelled: train on it with --distill 1 (copycat from the final exit)")
    if tc.distill < 1 and train_set.labels.max() >= cfg.num_classes:
        raise TinyeeError(f"dataset has label {int(train_set.labels.max())} but the model has {cfg.num_classes} classes")
    weights = tc.exit_weights or (1.0,) * cfg.num_exits
    if len(weights) != cfg.num_exits:
        raise TinyeeError(f"{len(weights)} exit weights given for {cfg.num_exits} exits")
    for name, value, top in (("distillation weight", tc.distill, 1), ("teacher weight", tc.teacher_weight, 1),
                             ("label smoothing", tc.label_smoothing, 0.999), ("EMA decay", tc.ema, 0.99999)):
        if not 0 <= value <= top:
            raise TinyeeError(f"{name} {value} is not in [0, {top}]")
    if tc.qat and tc.ema:
        raise TinyeeError("--qat fine-tunes the weights themselves: start it from the --ema run's checkpoint, "
                          "without --ema")
    if (tc.mixup or tc.cutmix) and tc.distill == 1:
        raise TinyeeError("mixup and cutmix mix labels: they need labelled data (--distill below 1)")
    return tuple(weights)


def _resumed(path: Path, cfg: ModelConfig, tc: TrainConfig):
    """(model, meta, training state) of the run in `path` when resuming it, else None."""
    if not (tc.resume and path.is_file()):
        return None
    model, meta, state = load_resumable(path)
    if state is None:
        raise TinyeeError(f"{path} holds no optimizer state to resume from (a checkpoint for export only)")
    if model.cfg.to_dict() != cfg.to_dict():
        raise TinyeeError(f"--resume: {path} is a different model than this run's (its config.json differs)")
    started = meta.get("train", {})
    for field, value in asdict(tc).items():
        was = started.get(field)
        if field not in RUNTIME_FIELDS and (list(was) if isinstance(was, tuple) else was) != (
                list(value) if isinstance(value, tuple) else value):
            raise TinyeeError(f"--resume: the run in {path.parent} was started with {field}={was!r}, not {value!r}; "
                              "resume it with the same settings")
    return model, meta, state


def _run(cfg, weights, train_set, test_set, out_dir: Path, tc: TrainConfig, log, init_model,
         placement: Placement) -> MultiExitMobileViT:
    if tc.threads:
        torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    resumed = _resumed(out_dir / "last.pt", cfg, tc)
    model = resumed[0] if resumed else init_model if init_model is not None else MultiExitMobileViT(cfg)
    inputs = ModelInputs(train_set, cfg.input_size, cfg.in_channels, tc.stream, tc.seed if tc.augment else None)
    if not resumed and any(isinstance(h, BagOfFeaturesHead) for h in model.heads):
        # every process computes the same codebooks; DDP would broadcast rank 0's anyway
        picks = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(tc.seed))[:BOF_INIT_SAMPLES]
        init_bof_codebooks(model, torch.stack([inputs.plain(int(i)) for i in picks]))
        log("bag-of-features codebooks initialised by k-means")
    if tc.qat:
        qat.prepare_qat(model)
    trainable = list(model.parameters())
    if tc.freeze_backbone:
        head_params = {id(p) for p in model.exit_parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in head_params)
        trainable = [p for p in model.parameters() if p.requires_grad]
    model.to(placement.device)
    net = model
    if placement.world > 1:
        net = DistributedDataParallel(model, device_ids=[placement.device.index] if placement.device.type == "cuda"
                                      else None)
    sampler = DistributedSampler(inputs, num_replicas=placement.world, rank=placement.rank, shuffle=True, seed=tc.seed)
    train_loader = loader(inputs, tc.batch_size // placement.world, sampler, tc.workers)
    opt = torch.optim.AdamW(trainable, lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=tc.lr, total_steps=tc.epochs * len(train_loader),
                                                pct_start=0.15)
    step = TrainStep(net, model, opt, sched, placement.scaler(), weight_average(model, tc.ema) if tc.ema else None,
                 load_teacher(Path(tc.teacher), cfg, placement.device) if tc.teacher else None, weights, tc, placement)
    first_epoch, history = 0, []
    if resumed:
        step.load(resumed[2])
        first_epoch, history = int(resumed[1]["epoch"]), list(resumed[1]["history"])
        log(f"resuming {out_dir / 'last.pt'} after epoch {first_epoch}/{tc.epochs}")
    if placement.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(out_dir / "config.json")
    for epoch in range(first_epoch, tc.epochs):
        sampler.set_epoch(epoch)
        inputs.set_epoch(epoch)
        net.train()
        if tc.freeze_backbone:  # frozen parts keep their batch-norm statistics too
            for part in (model.stem, model.stages, model.heads[-1]):
                part.eval()
        if tc.qat:
            qat.train_mode(model)
        t0, sums = time.time(), torch.zeros(2, dtype=torch.float64, device=placement.device)
        steps = progress(batches(train_loader), f"epoch {epoch + 1}/{tc.epochs}", total=len(train_loader),
                         unit="batch") if placement.main else batches(train_loader)
        for i, (x, y) in enumerate(steps):
            if i == 0 and epoch == first_epoch:
                log(f"first batch ready ({len(train_loader)} batches of {len(y)} per epoch and process)")
            x, y = x.to(placement.device, non_blocking=True), y.to(placement.device, non_blocking=True)
            loss = step(x, y, (tc.seed, epoch, i, placement.rank))
            sums += torch.stack([loss.double() * len(y), sums.new_tensor(len(y))])
            if placement.main and i % 20 == 0:  # .item() waits for a GPU: not at every step
                steps.set_postfix(loss=f"{(sums[0] / sums[1]).item():.3f}")
        if placement.world > 1:
            dist.all_reduce(sums)
        if placement.main:
            history.append(_epoch_record(step.kept, test_set, tc, placement, epoch, sums, t0))
            save_checkpoint(out_dir / "last.pt", _plain(step.kept, tc), step.state(), epoch=epoch + 1,
                            train=asdict(tc), history=history, dataset=train_set.source, classes=train_set.classes,
                            world_size=placement.world)
            atomic_write_text(out_dir / "history.json", json.dumps(history, indent=2) + "\n")
            log(_epoch_line(history[-1], tc, placement))  # after the checkpoint: a line shown is an epoch kept
        placement.barrier()
    kept = _plain(step.kept, tc)
    for p in kept.parameters():
        p.requires_grad_(True)
    return kept.cpu().eval()


def _plain(model: MultiExitMobileViT, tc: TrainConfig) -> MultiExitMobileViT:
    """What a checkpoint keeps: the float weights, without a QAT run's quantizers."""
    return qat.float_model(model) if tc.qat else model


def _epoch_record(model, test_set, tc: TrainConfig, placement: Placement, epoch: int, sums, t0: float) -> dict:
    seconds = time.time() - t0
    acc = None
    if test_set is not None and test_set.labels.min() >= 0:
        probs = evaluate_float(model, test_set, device=placement.device, stream=tc.stream, workers=tc.workers)
        acc = [(p.argmax(-1) == test_set.labels).mean().item() for p in probs]
    return {"epoch": epoch + 1, "loss": (sums[0] / sums[1]).item(), "test_accuracy": acc, "seconds": seconds,
            "samples": int(sums[1]), "processes": placement.world}


def _epoch_line(record: dict, tc: TrainConfig, placement: Placement) -> str:
    acc = record["test_accuracy"]
    return (f"epoch {record['epoch']}/{tc.epochs}  loss {record['loss']:.4f}  "
            + (f"test accuracy per exit{' (fake int8)' if tc.qat else ''} " + " ".join(f"{a:.4f}" for a in acc)
               if acc else "(no labelled test split)")
            + f"  ({record['seconds']:.0f} s, {record['samples']} samples on {placement.world} "
              f"{placement.device.type} process{'es' if placement.world > 1 else ''})")
