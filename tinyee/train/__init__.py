"""Training of the exits: joint (loss = sum_k w_k * CE(exit_k)), frozen-backbone fine-tuning and
copycat self-distillation from the final exit, on a CPU, a GPU or several under torchrun (DDP), with a
resumable checkpoint every epoch."""

from tinyee.train.joint import TrainConfig, evaluate_float, init_bof_codebooks
from tinyee.train.loop import train

__all__ = ["TrainConfig", "train", "evaluate_float", "init_bof_codebooks"]
