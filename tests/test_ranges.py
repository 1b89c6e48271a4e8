"""Activation range estimators of the int8 calibration (tinyee export --ranges)."""

import numpy as np
import pytest

from tinyee.errors import TinyeeError
from tinyee.export.ranges import HISTOGRAM_BINS, MSE_SHRINK, RangeEstimator, _mse_range, quantize_saved_model
from tinyee.tflite import TfliteModel


@pytest.mark.parametrize("text, kind, p", [("minmax", "minmax", 99.99), ("percentile", "percentile", 99.99),
                                           ("percentile:99.9", "percentile", 99.9), ("mse", "mse", 99.99)])
def test_estimator_names(text, kind, p):
    estimator = RangeEstimator.parse(text)
    assert (estimator.kind, estimator.percentile) == (kind, p)
    assert RangeEstimator.parse(str(estimator)) == estimator


@pytest.mark.parametrize("text", ["percentile:100", "percentile:40", "percentile:x", "minmax:3", "mse:2", "kl", ""])
def test_bad_estimator_is_one_clear_error(text):
    with pytest.raises(TinyeeError, match="activation range|percentile must be"):
        RangeEstimator.parse(text)


@pytest.fixture(scope="module")
def relu_model(tmp_path_factory):
    """A SavedModel computing relu(x), and calibration data whose values hold 0.1% large outliers."""
    import tensorflow as tf

    class Relu(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 4], tf.float32)])
        def __call__(self, x):
            return {"y": tf.nn.relu(x)}

    path = tmp_path_factory.mktemp("relu") / "saved"
    module = Relu()
    tf.saved_model.save(module, str(path), signatures=module.__call__)
    rng = np.random.default_rng(0)
    rep = rng.normal(0, 1, (64, 8, 8, 4)).astype(np.float32)
    rep.reshape(-1)[rng.choice(rep.size, rep.size // 1000, replace=False)] = 40.0
    return path, rep


def _output_scale(data: bytes) -> float:
    return TfliteModel(data, "relu").outputs[0].scales[0]


def test_minmax_keeps_the_outliers_and_percentile_clips_them(relu_model):
    path, rep = relu_model
    values = np.maximum(rep, 0).ravel()
    rep = {"x": rep}  # calibration samples by signature input name
    assert _output_scale(quantize_saved_model(path, rep, RangeEstimator("minmax"))) == pytest.approx(40 / 255, rel=1e-6)
    clipped = _output_scale(quantize_saved_model(path, rep, RangeEstimator("percentile", 99.5)))
    # the 99.5th percentile of the relu's values, read from the histogram to one bin (rounded outwards)
    want = np.percentile(values, 99.5)
    assert want / 255 <= clipped <= (want + 40 / HISTOGRAM_BINS) / 255 * (1 + 1e-6)
    assert clipped < 40 / 255 / 10


def _int8_error(values: np.ndarray, counts: np.ndarray, low: float, high: float) -> float:
    """Squared error of TFLite's asymmetric int8 grid on [low, high] (scale, then nudged zero point)."""
    scale = (high - low) / 255
    zero = min(127, max(-128, -128 - round(low / scale)))
    q = np.clip(np.round(values / scale) + zero, -128, 127)
    return float(counts @ ((q - zero) * scale - values) ** 2)


def test_mse_picks_the_range_with_the_least_int8_error():
    rng = np.random.default_rng(1)
    edges = np.linspace(-1.0, 6.0, HISTOGRAM_BINS + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    counts = rng.poisson(np.exp(-(centers - 0.5) ** 2) * 1000) + (np.abs(centers - 5.8) < 1e-3) * 3
    low, high = _mse_range(counts, edges)
    best = min(_int8_error(centers, counts, lo, hi) for lo in -1.0 * MSE_SHRINK for hi in 6.0 * MSE_SHRINK)
    assert _int8_error(centers, counts, low, high) == pytest.approx(best, rel=1e-9)
    assert high < 6.0  # the three far values are clipped


def test_percentile_export_narrows_ranges_and_still_chains_exactly(shipped_export, tmp_path):
    """An export at the 99.99th percentile against the default one (the converter's min/max)."""
    from conftest import SHIPPED_CHECKPOINT
    from tinyee.data import load_shipped
    from tinyee.export import export_checkpoint

    out, minmax, _ = shipped_export
    manifest = export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), tmp_path / "pct",
                                 ranges=RangeEstimator("percentile", 99.99))
    assert manifest.activation_ranges == "percentile:99.99" and minmax.activation_ranges == "minmax"
    for k, (a, b) in enumerate(zip(minmax.segments, manifest.segments)):
        wide, clipped = TfliteModel.load(out / a.file), TfliteModel.load(tmp_path / "pct" / b.file)
        assert [op.name for op in wide.ops] == [op.name for op in clipped.ops]
        if k > 0:  # every later input is exactly the previous segment's feature output
            feature = manifest.segments[k - 1].feature
            assert (b.input.shape, b.input.scale, b.input.zero_point) == (feature.shape, feature.scale,
                                                                          feature.zero_point)
            continue
        # segment 0 sees the same images in both exports: the image input keeps its min/max, and
        # a percentile never widens a range (later segments see differently quantized features)
        assert clipped.inputs[0].quant() == wide.inputs[0].quant()
        pairs = [(t.scales[0], u.scales[0]) for t, u in zip(wide.tensors, clipped.tensors)
                 if not t.is_const and len(t.scales) == 1]
        assert all(u <= t * (1 + 1e-6) for t, u in pairs)
        assert sum(u < t * 0.999 for t, u in pairs) >= 20
