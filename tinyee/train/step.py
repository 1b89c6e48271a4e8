"""One optimisation step of a training run (mixing, teacher, losses, loss scaling, scheduler, weight average)
and the state a resumed run needs back."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tinyee.model import MultiExitMobileViT
from tinyee.model.experts import balance_loss
from tinyee.train.distributed import Placement
from tinyee.train.joint import TrainConfig, exit_losses
from tinyee.train.recipe import mix_batch

BALANCE_WEIGHT = 0.01  # the Switch Transformer's load-balancing weight


@dataclass
class TrainStep:
    """What one optimisation step touches, and the state a resumed run needs back."""
    net: torch.nn.Module           # the model, wrapped by DDP under torchrun
    model: MultiExitMobileViT
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    ema: torch.nn.Module | None
    teacher: MultiExitMobileViT | None
    weights: tuple[float, ...]
    tc: TrainConfig
    placement: Placement

    def __call__(self, x: torch.Tensor, y: torch.Tensor, seed: tuple[int, ...]) -> torch.Tensor:
        tc, placement = self.tc, self.placement
        target = y
        if tc.mixup or tc.cutmix:
            x, target = mix_batch(x, y, self.model.cfg.num_classes, tc.mixup, tc.cutmix, seed)
        with placement.autocast():
            logits = self.net(x)
            with torch.no_grad():
                guide = self.teacher(x)[-1].float() if self.teacher is not None else None
        losses = exit_losses([z.float() for z in logits], target, tc, guide)
        loss = sum(w * part for w, part in zip(self.weights, losses))
        balance = balance_loss(self.model)
        if balance is not None:  # mixture-of-experts layers: keep the experts' token shares even
            loss = loss + BALANCE_WEIGHT * balance
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss.detach()

    @property
    def kept(self) -> MultiExitMobileViT:
        """The weights a checkpoint holds and the test measures: the moving average when there is one."""
        return self.ema.module if self.ema is not None else self.model

    def state(self) -> dict:
        return {"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                "scaler": self.scaler.state_dict(), "model": self.model.state_dict(),
                "ema": self.ema.state_dict() if self.ema is not None else None}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
