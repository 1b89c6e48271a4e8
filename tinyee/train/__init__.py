"""Training of the exits: joint (loss = sum_k w_k * CE(exit_k)), frozen-backbone fine-tuning and
copycat self-distillation from the final exit, with checkpoints every epoch."""

from tinyee.train.joint import TrainConfig, evaluate_float, init_bof_codebooks, train

__all__ = ["TrainConfig", "train", "evaluate_float", "init_bof_codebooks"]
