"""Exit-threshold calibration on the host int8 cascade (what is calibrated is what the device runs).

Criteria: max-softmax confidence, or entropy (thresholds in nats; lower entropy = more confident).
Modes:
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

from tinyee.cascade import cascade, score_to_value, scores, threshold_to_q
from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write

Q_GRID = np.round(np.linspace(0.05, 4.0, 80), 3)
UNIFORM_GRID = {"max_softmax": np.round(np.linspace(0.3, 1.0, 71), 3),
                "entropy": np.round(np.linspace(0.0, 2.3, 93), 3)}


def confidence(probs_q: np.ndarray, criterion: str = "max_softmax") -> np.ndarray:
    """Confidence per exit and sample, [exits, N]: probability, or negated entropy in nats."""
    return score_to_value(scores(probs_q, criterion), criterion)


def _threshold(value: float, criterion: str) -> float:
    """A threshold that accepts confidences >= value (entropy thresholds are positive maxima)."""
    return float(value) if criterion == "max_softmax" else float(-value)


def evaluate_thresholds(probs_q, labels, thresholds, costs, criterion: str = "max_softmax") -> dict:
    exit_idx, preds = cascade(probs_q, list(thresholds), criterion)
    return {"thresholds": [float(t) for t in thresholds], "accuracy": float((preds == labels).mean()),
            "average_cost": float(np.asarray(costs)[exit_idx].mean()),
            "exit_fractions": (np.bincount(exit_idx, minlength=probs_q.shape[0]) / len(labels)).tolist()}


def alpha_thresholds(train_probs_q: np.ndarray, alpha: float, criterion: str = "max_softmax") -> list[float]:
    """max-softmax: alpha x mean training confidence; entropy: alpha x mean training entropy."""
    mean = confidence(train_probs_q, criterion).mean(axis=1)
    if criterion == "max_softmax":
        return [float(min(1.0, alpha * c)) for c in mean[:-1]]
    return [float(alpha * -c) for c in mean[:-1]]


def budget_thresholds(probs_q: np.ndarray, q: float, criterion: str = "max_softmax") -> list[float]:
    """Shares p_k ~ q^k; T_k = confidence of the floor(N p_k)-th most confident remaining sample."""
    exits, n = probs_q.shape[:2]
    shares = q ** np.arange(exits)
    shares /= shares.sum()
    conf = confidence(probs_q, criterion)
    score = scores(probs_q, criterion)
    never = 1.0 if criterion == "max_softmax" else 0.0
    remaining = np.ones(n, dtype=bool)
    thresholds = []
    for k in range(exits - 1):
        take = int(np.floor(n * shares[k]))
        c = np.sort(conf[k][remaining])[::-1]
        t = _threshold(c[take - 1], criterion) if 0 < take <= len(c) else never
        thresholds.append(min(t, 1.0) if criterion == "max_softmax" else max(t, 0.0))
        # Which samples leave here is decided exactly as the integer rule decides it.
        remaining &= ~(score[k] >= threshold_to_q(thresholds[-1], criterion))
    return thresholds


def candidates(probs_q, labels, costs, criterion: str = "max_softmax") -> list[dict]:
    exits = probs_q.shape[0]
    seen, out = set(), []
    sets = ([budget_thresholds(probs_q, q, criterion) for q in Q_GRID] +
            [[float(t)] * (exits - 1) for t in UNIFORM_GRID[criterion]])
    if criterion == "entropy":
        sets.append([0.0] * (exits - 1))  # a zero entropy bound: (almost) never exit early
    for th in sets:
        key = tuple(threshold_to_q(t, criterion) for t in th)  # settings that act the same on device are one
        if key not in seen:
            seen.add(key)
            out.append(evaluate_thresholds(probs_q, labels, th, costs, criterion))
    return out


def calibrate(mode: str, probs_q: np.ndarray, labels: np.ndarray, costs: list[float], *, alpha: float = 0.9,
              train_probs_q: np.ndarray | None = None, budget: float = 0.5, max_drop: float = 0.01,
              criterion: str = "max_softmax") -> dict:
    """Thresholds for the intermediate exits, with the calibration set's accuracy and cost."""
    full_cost = costs[-1]
    final_acc = float((probs_q[-1].argmax(axis=1) == labels).mean())
    if mode == "alpha":
        if train_probs_q is None:
            raise TinyeeError("the alpha rule needs the exits' confidences on training data")
        chosen = evaluate_thresholds(probs_q, labels, alpha_thresholds(train_probs_q, alpha, criterion), costs,
                                     criterion)
    elif mode == "budget":
        fits = [c for c in candidates(probs_q, labels, costs, criterion) if c["average_cost"] <= budget * full_cost]
        if not fits:
            raise TinyeeError(f"no thresholds reach an average cost of {budget:.0%} of the full model")
        chosen = max(fits, key=lambda c: (c["accuracy"], -c["average_cost"]))
    elif mode == "target":
        ok = [c for c in candidates(probs_q, labels, costs, criterion) if c["accuracy"] >= final_acc - max_drop]
        if not ok:
            raise TinyeeError(f"no thresholds keep the accuracy within {max_drop:.1%} of the final exit")
        chosen = min(ok, key=lambda c: (c["average_cost"], -c["accuracy"]))
    else:
        raise TinyeeError(f"unknown calibration mode {mode!r} (alpha, budget, target)")
    return {"mode": mode, "criterion": criterion, **chosen,
            "thresholds_q": [threshold_to_q(t, criterion) for t in chosen["thresholds"]],
            "final_exit_accuracy": final_acc, "full_cost": full_cost,
            "relative_cost": chosen["average_cost"] / full_cost}


def plot_calibration(curve, chosen, final, full_cost, unit, label, path, budget: float | None = None,
                     max_drop: float | None = None) -> None:
    """Accuracy against average cost of every candidate, with the final exit alone, the chosen point and
    the constraint it was chosen under (a cost budget or an accuracy floor)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted(curve, key=lambda c: c["average_cost"])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot([100 * c["average_cost"] / full_cost for c in pts], [100 * c["accuracy"] for c in pts], ".",
            color="#4c72b0", alpha=0.6, label="other thresholds tried")
    ax.plot([100], [100 * final["accuracy"]], "s", color="black", label="always run to the final exit")
    if budget is not None:
        ax.axvline(100 * budget, color="#8172b2", ls="--", label=f"cost budget: {100 * budget:.0f}% of the full model")
    if max_drop is not None:
        ax.axhline(100 * (final["accuracy"] - max_drop), color="#8172b2", ls="--",
                   label=f"accuracy floor: final exit - {100 * max_drop:g} points")
    ax.plot([100 * chosen["average_cost"] / full_cost], [100 * chosen["accuracy"]], "*", ms=15, color="#c44e52",
            label=f"chosen thresholds ({label})")
    ax.set(xlabel=f"average cost (% of the full model, {unit})", ylabel="held-out accuracy (%)",
           title="Accuracy vs. average cost on held-out images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
