import numpy as np
import pytest

from tinyee.cascade import cascade, entropy_lut, resolve_thresholds, scores, threshold_to_q
from tinyee.errors import TinyeeError
from tinyee.runtime import dequantize, quantize


def test_integer_threshold_is_exactly_the_probability_compare(rng):
    values = np.arange(-128, 128)
    probs = (values + 128) / 256  # what each int8 softmax value stands for
    for t in np.concatenate([rng.random(500), values[::7] / 256 + 0.5, [0.0, 1.0]]):
        q = threshold_to_q(float(t))
        assert np.array_equal(values >= q, probs >= t), t


def test_threshold_one_never_exits_and_zero_always_does():
    assert threshold_to_q(1.0) > 127  # above every int8 value: never exits
    assert threshold_to_q(0.0) == -128
    with pytest.raises(TinyeeError, match="not a probability"):
        threshold_to_q(1.5)


def test_cascade_stops_at_first_confident_exit_and_final_exit_always_accepts():
    probs = np.full((3, 4, 3), -128, np.int8)
    probs[0, 0] = [120, -100, -128]  # sample 0: confident at exit 0 -> class 0
    probs[0, 1] = [0, 10, -128]      # sample 1: not confident at exit 0 ...
    probs[1, 1] = [-128, -128, 110]  # ... confident at exit 1 -> class 2
    probs[2, 2] = [5, 5, -128]       # sample 2: falls through; a tie goes to the lowest class
    probs[1, 3] = [-128, 104, 0]     # sample 3: 104 >= 103 (0.9 -> q 103): exits at 1
    exit_idx, preds = cascade(probs, [0.9, 0.9])
    assert exit_idx.tolist() == [0, 1, 2, 1]
    assert preds.tolist() == [0, 2, 0, 1]
    with pytest.raises(TinyeeError):
        cascade(probs, [0.9])


def test_resolve_thresholds():
    assert resolve_thresholds(None, 3) == [0.9, 0.9]
    assert resolve_thresholds([0.7], 4) == [0.7, 0.7, 0.7]
    with pytest.raises(TinyeeError, match="2 thresholds given for 1"):
        resolve_thresholds([0.5, 0.6], 2)


def test_quantize_rounds_half_away_from_zero_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1000.0, -1000.0], np.float32)
    assert quantize(x, 1.0, 0).tolist() == [1, 2, 3, -1, -2, -3, 127, -128]
    q = np.arange(-128, 128, dtype=np.int8)
    assert np.array_equal(quantize(dequantize(q, 0.0371, -17), 0.0371, -17), q)


def test_entropy_rule_is_integer_and_tracks_the_real_entropy(rng):
    probs = rng.integers(-128, 128, (2, 300, 10)).astype(np.int8)
    p = (probs.astype(np.float64) + 128) / 256
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1)), 0).sum(axis=-1)
    s = scores(probs, "entropy")
    assert s.dtype == np.int64
    assert np.abs(-s / 4096 - h).max() <= 10 * 0.5 / 4096  # one LUT rounding per class
    for t in (0.5, 1.0, 1.7):
        exit_idx, _ = cascade(probs, [t], "entropy")
        assert np.array_equal(exit_idx == 0, -s[0] <= np.floor(t * 4096))
    assert entropy_lut()[0] == 0 and entropy_lut().max() == round(np.exp(-1) * 4096)  # -p ln p peaks at 1/e
