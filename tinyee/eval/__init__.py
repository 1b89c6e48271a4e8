"""Host cascade evaluation: the int8 segments chained as the firmware chains them, beside the float model."""

from tinyee.eval.evaluate import evaluate, int8_exit_probs
from tinyee.eval.tables import render

__all__ = ["evaluate", "int8_exit_probs", "render"]
