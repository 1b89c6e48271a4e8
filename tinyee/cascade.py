"""The early-exit rule, shared by the host simulation, calibration and the firmware generator.

An exit's int8 softmax value v stands for probability (v + 128) / 256. Each criterion turns an
exit's int8 softmax into an integer score, and exit k is taken when score >= threshold_q[k]:

* ``max_softmax``: score = max v; "max probability >= t" is exactly "max v >= ceil(256 t) - 128".
* ``entropy``: score = -sum_c LUT[v_c], with LUT[v] = round(-p ln p * 2^12) for p = (v+128)/256
  (a 256-entry table compiled into the firmware); "entropy <= t nats" is "score >= -floor(2^12 t)".

Both are integer compares on the device and bit-identical on the host. The final exit always
accepts. Ties in argmax go to the lowest class index, as on device.
"""

from __future__ import annotations

import math

import numpy as np

from tinyee.errors import TinyeeError

DEFAULT_THRESHOLD = 0.9  # used until `tinyee calibrate` picks thresholds from data
ENTROPY_FRAC_BITS = 12
CRITERIA = ("max_softmax", "entropy")
NEVER = 2**31 - 1  # a threshold no score reaches


def entropy_lut() -> np.ndarray:
    p = np.arange(256) / 256.0  # index v + 128
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return np.round(h * (1 << ENTROPY_FRAC_BITS)).astype(np.int32)


def check_criterion(criterion: str) -> str:
    if criterion not in CRITERIA:
        raise TinyeeError(f"unknown exit criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    return criterion


def scores(probs_q: np.ndarray, criterion: str = "max_softmax") -> np.ndarray:
    """Integer score per exit and sample, [..., N], from int8 softmax [..., N, classes]."""
    if check_criterion(criterion) == "max_softmax":
        return probs_q.max(axis=-1).astype(np.int64)
    return -entropy_lut()[probs_q.astype(np.int64) + 128].sum(axis=-1)


def score_to_value(score, criterion: str = "max_softmax"):
    """A score in the threshold's units: probability, or negated entropy in nats."""
    if criterion == "max_softmax":
        return (np.asarray(score, dtype=np.float64) + 128) / 256
    return np.asarray(score, dtype=np.float64) / (1 << ENTROPY_FRAC_BITS)


def threshold_to_q(t: float, criterion: str = "max_softmax") -> int:
    """The integer threshold of t: exit when score >= it."""
    if not math.isfinite(t):
        raise TinyeeError(f"exit threshold {t} is not a finite number")
    if check_criterion(criterion) == "max_softmax":
        if not 0.0 <= t <= 1.0:
            raise TinyeeError(f"exit threshold {t} is not a probability in [0, 1]")
        q = min(max(math.ceil(t * 256) - 128, -128), 128)
        return NEVER if q > 127 else q
    if t < 0:
        raise TinyeeError(f"entropy threshold {t} is negative")
    return -math.floor(t * (1 << ENTROPY_FRAC_BITS))


def resolve_thresholds(values: list[float] | None, num_exits: int, criterion: str = "max_softmax") -> list[float]:
    """None -> the default everywhere; one value -> every intermediate exit; else one per intermediate exit."""
    if values is None and criterion != "max_softmax":
        raise TinyeeError(f"give thresholds for the {criterion} criterion (in nats)")
    values = list(values) if values else [DEFAULT_THRESHOLD]
    if len(values) == 1:
        values *= num_exits - 1
    if len(values) != num_exits - 1:
        raise TinyeeError(f"{len(values)} thresholds given for {num_exits - 1} intermediate exits")
    for v in values:
        threshold_to_q(v, criterion)
    return values


def cascade(probs_q: np.ndarray, thresholds: list[float], criterion: str = "max_softmax"
            ) -> tuple[np.ndarray, np.ndarray]:
    """probs_q: int8 [exits, N, classes] -> (exit index [N], predicted class [N])."""
    exits = probs_q.shape[0]
    if len(thresholds) != exits - 1:
        raise TinyeeError(f"{len(thresholds)} thresholds for {exits - 1} intermediate exits")
    s = scores(probs_q, criterion)  # [exits, N]
    thr = np.array([threshold_to_q(t, criterion) for t in thresholds], dtype=np.int64)
    confident = np.vstack([s[:-1] >= thr[:, None], np.ones((1, s.shape[1]), bool)])
    exit_idx = confident.argmax(axis=0)  # the final row is all True, so argmax finds the first confident exit
    preds = probs_q.argmax(axis=2)[exit_idx, np.arange(probs_q.shape[1])]
    return exit_idx, preds
