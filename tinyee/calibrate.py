"""Exit-threshold calibration on the host int8 cascade (what is calibrated is what the device runs).

Modes (max-softmax confidence, the criterion the firmware checks):
* ``alpha``: exit k when confidence >= alpha x exit k's mean confidence on training data
  (the bag-of-features rule, one hyperparameter);
* ``budget``: exit shares proportional to q^k for a range of q, thresholds from confidence
  quantiles of the samples still in the cascade (MSDNet / Dynamic Perceiver); the most accurate
  setting whose expected cost fits the budget;
* ``target``: the cheapest thresholds (over the budget family and uniform thresholds) whose
  cascade accuracy stays within a given drop of the final exit.
Costs are cumulative MACs per exit, or measured per-exit latency from a bench summary
(latency-aware calibration).
"""

from __future__ import annotations

import numpy as np

from tinyee.cascade import cascade, threshold_to_q
from tinyee.errors import TinyeeError

Q_GRID = np.round(np.linspace(0.05, 4.0, 80), 3)
UNIFORM_GRID = np.round(np.linspace(0.3, 1.0, 71), 3)


def confidence(probs_q: np.ndarray) -> np.ndarray:
    """Max softmax probability per exit and sample, [exits, N], from int8 softmax values."""
    return (probs_q.max(axis=2).astype(np.float64) + 128) / 256


def evaluate_thresholds(probs_q, labels, thresholds, costs) -> dict:
    exit_idx, preds = cascade(probs_q, list(thresholds))
    return {"thresholds": [float(t) for t in thresholds], "accuracy": float((preds == labels).mean()),
            "average_cost": float(np.asarray(costs)[exit_idx].mean()),
            "exit_fractions": (np.bincount(exit_idx, minlength=probs_q.shape[0]) / len(labels)).tolist()}


def alpha_thresholds(train_probs_q: np.ndarray, alpha: float) -> list[float]:
    mean_conf = confidence(train_probs_q).mean(axis=1)
    return [float(min(1.0, alpha * c)) for c in mean_conf[:-1]]


def budget_thresholds(probs_q: np.ndarray, q: float) -> list[float]:
    """Shares p_k ~ q^k; T_k = confidence of the floor(N p_k)-th most confident remaining sample."""
    exits, n = probs_q.shape[:2]
    shares = q ** np.arange(exits)
    shares /= shares.sum()
    conf = confidence(probs_q)
    remaining = np.ones(n, dtype=bool)
    thresholds = []
    for k in range(exits - 1):
        take = int(np.floor(n * shares[k]))
        c = np.sort(conf[k][remaining])[::-1]
        t = float(c[take - 1]) if 0 < take <= len(c) else 1.0 + 1e-9
        t = min(t, 1.0)
        thresholds.append(t)
        # Which samples leave here is decided exactly as the int8 rule decides it.
        leave = remaining & (probs_q[k].max(axis=1) >= threshold_to_q(t))
        remaining &= ~leave
    return thresholds


def candidates(probs_q, labels, costs) -> list[dict]:
    exits = probs_q.shape[0]
    seen, out = set(), []
    sets = [budget_thresholds(probs_q, q) for q in Q_GRID] + [[t] * (exits - 1) for t in UNIFORM_GRID]
    for th in sets:
        key = tuple(threshold_to_q(t) for t in th)  # settings that act the same on device are one candidate
        if key not in seen:
            seen.add(key)
            out.append(evaluate_thresholds(probs_q, labels, th, costs))
    return out


def calibrate(mode: str, probs_q: np.ndarray, labels: np.ndarray, costs: list[float], *, alpha: float = 0.9,
              train_probs_q: np.ndarray | None = None, budget: float = 0.5, max_drop: float = 0.01) -> dict:
    """Thresholds for the intermediate exits, with the calibration set's accuracy and cost."""
    full_cost = costs[-1]
    final_acc = float((probs_q[-1].argmax(axis=1) == labels).mean())
    if mode == "alpha":
        if train_probs_q is None:
            raise TinyeeError("the alpha rule needs the exits' confidences on training data")
        chosen = evaluate_thresholds(probs_q, labels, alpha_thresholds(train_probs_q, alpha), costs)
    elif mode == "budget":
        fits = [c for c in candidates(probs_q, labels, costs) if c["average_cost"] <= budget * full_cost]
        if not fits:
            raise TinyeeError(f"no thresholds reach an average cost of {budget:.0%} of the full model")
        chosen = max(fits, key=lambda c: (c["accuracy"], -c["average_cost"]))
    elif mode == "target":
        ok = [c for c in candidates(probs_q, labels, costs) if c["accuracy"] >= final_acc - max_drop]
        chosen = min(ok, key=lambda c: (c["average_cost"], -c["accuracy"]))  # final-exit-only always qualifies
    else:
        raise TinyeeError(f"unknown calibration mode {mode!r} (alpha, budget, target)")
    return {"mode": mode, **chosen, "thresholds_q": [threshold_to_q(t) for t in chosen["thresholds"]],
            "final_exit_accuracy": final_acc, "full_cost": full_cost,
            "relative_cost": chosen["average_cost"] / full_cost}
