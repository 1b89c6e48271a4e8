"""The early-exit rule, shared by the host simulation and the firmware generator.

An exit's int8 softmax value v stands for probability (v + 128) / 256. "max probability >=
threshold t" is therefore exactly "max v >= ceil(256 t) - 128": an integer compare on device.
The final exit always accepts. Ties in argmax go to the lowest class index, as on device.
"""

from __future__ import annotations

import math

import numpy as np

from tinyee.errors import TinyeeError

DEFAULT_THRESHOLD = 0.9  # used until `tinyee calibrate` picks thresholds from data


def threshold_to_q(t: float) -> int:
    """Smallest int8 softmax value whose probability is >= t (values above 127 mean 'never')."""
    if not 0.0 <= t <= 1.0:
        raise TinyeeError(f"exit threshold {t} is not a probability in [0, 1]")
    return min(max(math.ceil(t * 256) - 128, -128), 128)


def resolve_thresholds(values: list[float] | None, num_exits: int) -> list[float]:
    """None -> the default everywhere; one value -> every intermediate exit; else one per intermediate exit."""
    values = list(values) if values else [DEFAULT_THRESHOLD]
    if len(values) == 1:
        values *= num_exits - 1
    if len(values) != num_exits - 1:
        raise TinyeeError(f"{len(values)} thresholds given for {num_exits - 1} intermediate exits")
    for v in values:
        threshold_to_q(v)
    return values


def cascade(probs_q: np.ndarray, thresholds: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """probs_q: int8 [exits, N, classes] -> (exit index [N], predicted class [N])."""
    exits = probs_q.shape[0]
    if len(thresholds) != exits - 1:
        raise TinyeeError(f"{len(thresholds)} thresholds for {exits - 1} intermediate exits")
    conf = probs_q.max(axis=2).astype(np.int32)  # [exits, N]
    thr = np.array([threshold_to_q(t) for t in thresholds] + [-128], dtype=np.int32)
    confident = conf >= thr[:, None]
    exit_idx = confident.argmax(axis=0)  # the final row is all True, so argmax finds the first confident exit
    preds = probs_q.argmax(axis=2)[exit_idx, np.arange(probs_q.shape[1])]
    return exit_idx, preds
