"""Checkpoints: model weights plus the config that builds them, written atomically."""

from __future__ import annotations

from pathlib import Path

import torch

from tinyee.errors import TinyeeError, first_line
from tinyee.fileio import atomic_write
from tinyee.model.config import ModelConfig
from tinyee.model.network import MultiExitMobileViT

FORMAT = "tinyee-checkpoint-v1"


def save_checkpoint(path: Path, model: MultiExitMobileViT, train_state: dict | None = None, **meta) -> None:
    """Weights, config and meta; with train_state (optimizer, scheduler, ...) a run can resume from it."""
    payload = {"format": FORMAT, "config": model.cfg.to_dict(), "state_dict": model.state_dict(), "meta": meta}
    if train_state is not None:
        payload["train_state"] = train_state
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_checkpoint(path: Path) -> tuple[MultiExitMobileViT, dict]:
    """Rebuild the model from a checkpoint; returns (model in eval mode, meta)."""
    model, meta, _ = load_resumable(path)
    return model, meta


def load_resumable(path: Path) -> tuple[MultiExitMobileViT, dict, dict | None]:
    """(model in eval mode, meta, the training state saved with it or None)."""
    path = Path(path)
    if not path.is_file():
        raise TinyeeError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise TinyeeError(f"checkpoint {path} is corrupt or not a torch file: {e}") from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise TinyeeError(f"{path} is not a tinyee checkpoint (expected format {FORMAT!r})")
    if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("state_dict"), dict):
        raise TinyeeError(f"checkpoint {path} lacks its model config or its weights")
    try:
        model = MultiExitMobileViT(ModelConfig.from_dict(payload["config"]))
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError) as e:
        raise TinyeeError(f"checkpoint {path}: its model config does not build a model ({e})") from e
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as e:
        raise TinyeeError(f"checkpoint {path} does not match its own config: {first_line(e)}") from e
    return model.eval(), payload.get("meta", {}), payload.get("train_state")
