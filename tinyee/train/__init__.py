"""Joint training of all exits: loss = sum_k w_k * CE(exit_k), with checkpoints every epoch."""

from tinyee.train.joint import TrainConfig, evaluate_float, train

__all__ = ["TrainConfig", "train", "evaluate_float"]
