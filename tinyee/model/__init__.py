"""Multi-exit MobileViT models: configs, blocks, exit heads, checkpoints."""

from tinyee.model.checkpoint import load_checkpoint, load_resumable, save_checkpoint
from tinyee.model.config import ModelConfig, StageConfig, TransformerConfig, preset
from tinyee.model.network import MultiExitMobileViT, Segment

__all__ = [
    "ModelConfig", "StageConfig", "TransformerConfig", "preset",
    "MultiExitMobileViT", "Segment", "load_checkpoint", "load_resumable", "save_checkpoint",
]
