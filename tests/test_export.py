"""Export of the shipped model: int8 segments, exact chaining, firmware op set, manifest."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from tinyee.errors import TinyeeError
from tinyee.export import FIRMWARE_INT8_OPS, export_model
from tinyee.manifest import Manifest
from tinyee.export.convert import check_int8_segment
from tinyee.model import ModelConfig, MultiExitMobileViT, StageConfig, TransformerConfig
from tinyee.model import heads
from tinyee.tflite import TfliteModel

# What the MobileViT segments are expected to lower to (NOTES.md, measured): all int8, all in the firmware set.
EXPECTED_OPS = {"ADD", "BATCH_MATMUL", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                "LOGISTIC", "MEAN", "MUL", "PAD", "RESHAPE", "RSQRT", "SOFTMAX", "SQUARED_DIFFERENCE", "SUB",
                "TRANSPOSE"}


def _segments(out):
    return [TfliteModel.load(out / f"segment{k}.tflite") for k in range(3)]


def test_segments_are_full_integer_with_only_firmware_ops(shipped_export):
    out, manifest, _ = shipped_export
    used = set()
    for seg in _segments(out):
        check_int8_segment(seg)  # raises on any op outside FIRMWARE_INT8_OPS or any non-int8 activation
        assert all(t.dtype == np.int8 for t in seg.inputs + seg.outputs)
        assert not any(op.name in ("QUANTIZE", "DEQUANTIZE") for op in seg.ops)
        used |= set(seg.op_counts)
    assert used == EXPECTED_OPS
    assert used <= FIRMWARE_INT8_OPS


def test_feature_quantization_chains_exactly_between_segments(shipped_export):
    out, manifest, _ = shipped_export
    segs = _segments(out)
    for prev, nxt in zip(segs, segs[1:]):
        feature = next(t for t in prev.outputs if len(t.shape) == 4)
        assert feature.shape == nxt.inputs[0].shape
        assert np.float32(feature.scales[0]) == np.float32(nxt.inputs[0].scales[0])
        assert feature.zero_points == nxt.inputs[0].zero_points
    for seg in segs:
        probs = next(t for t in seg.outputs if len(t.shape) == 2)
        assert probs.shape == (1, 10) and probs.scales[0] == 1 / 256 and probs.zero_points == (-128,)


def test_manifest_describes_the_segments(shipped_export):
    out, manifest, _ = shipped_export
    assert Manifest.load(out) == manifest
    assert [s.file for s in manifest.segments] == ["segment0.tflite", "segment1.tflite", "segment2.tflite"]
    for seg, tfl in zip(manifest.segments, _segments(out)):
        assert seg.ops == tfl.op_counts and seg.macs == tfl.macs > 0
        assert seg.param_bytes == tfl.param_bytes
        assert seg.info["float_check_max_abs_error"] < 1e-3
    assert manifest.macs == sum(s.macs for s in manifest.segments) == 6_613_008
    assert list(manifest.thresholds) == [0.9, 0.9] and manifest.thresholds_q == [103, 103]
    assert manifest.input.shape == (1, 32, 32, 3) and manifest.input.zero_point == -128
    assert np.float32(manifest.input.scale) == np.float32(1 / 255)
    assert manifest.class_names[:2] == ("t-shirt/top", "trouser") and manifest.num_classes == 10
    assert manifest.preprocess.input_size == 32 and manifest.preprocess.channels == 3
    assert manifest.calibration_data.startswith("shipped:") and manifest.calibration_samples == 500
    assert manifest.data_spec == "shipped"  # eval, calibrate, bench and profile default to it
    # The MCU preset fits an STM32F405: weights well under 1 MB flash, activations well under 128 KB SRAM.
    assert manifest.param_bytes < 512 * 1024
    assert max(s.info["activation_bytes"]["peak_op"] for s in manifest.segments) < 64 * 1024


def test_manifest_of_another_version_or_with_wrong_types_is_a_clear_error(shipped_export, tmp_path):
    out, _, _ = shipped_export
    good = json.loads((out / "manifest.json").read_text())
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in out.glob("*.tflite"):
        (copy / f.name).write_bytes(f.read_bytes())
    cases = [({"format": "tinyee-manifest-v1"}, "older tinyee"), ({"version": 4}, "manifest version 4"),
             ({"format": "something"}, "not a tinyee manifest"), ({"thresholds": "0.9"}, "thresholds is str, not list"),
             ({"criterion": "margin"}, "unknown exit criterion 'margin'"), ({"thresholds": [0.9]}, "1 thresholds for 2"),
             ({"thresholds": [0.9, 1.5]}, "not a probability"), ({"model_id": None}, "model_id is NoneType, not str")]
    for change, message in cases:
        (copy / "manifest.json").write_text(json.dumps({**good, **change}))
        with pytest.raises(TinyeeError, match=message):
            Manifest.load(copy)
    broken = json.loads(json.dumps(good))
    del broken["segments"][1]["outputs"]["probs"]
    (copy / "manifest.json").write_text(json.dumps(broken))
    with pytest.raises(TinyeeError, match=r"segments\[1\]\.outputs\.probs is missing"):
        Manifest.load(copy)
    # version 2 (one input, one feature map per segment) still reads, as the same segments
    old = json.loads(json.dumps(good)) | {"version": 2}
    for seg in old["segments"]:
        seg["input"] = seg.pop("inputs")[0]
        boundary = seg["outputs"].pop("boundary")
        seg["outputs"] |= {"feature": boundary[0]} if boundary else {}
    (copy / "manifest.json").write_text(json.dumps(old))
    assert Manifest.load(copy).segments == Manifest.load(out).segments
    (copy / "manifest.json").write_bytes(b"\xff\xfe binary")
    with pytest.raises(TinyeeError, match="not a readable manifest"):
        Manifest.load(copy)


def test_tampered_or_missing_segment_is_detected(shipped_export, tmp_path):
    out, manifest, _ = shipped_export
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in out.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    data = bytearray((copy / "segment1.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "segment1.tflite").write_bytes(bytes(data))
    with pytest.raises(TinyeeError, match="does not match the hash"):
        Manifest.load(copy)
    (copy / "segment2.tflite").unlink()
    (copy / "segment1.tflite").write_bytes((out / "segment1.tflite").read_bytes())
    with pytest.raises(TinyeeError, match="segment2.tflite .* is missing"):
        Manifest.load(copy)
    (copy / "manifest.json").write_text("{ not json")
    with pytest.raises(TinyeeError, match="not a readable manifest"):
        Manifest.load(copy)




class LeakyHead(nn.Module):
    """An exit head with a layer tinyee's firmware has no kernel for (LEAKY_RELU)."""

    def __init__(self, channels, num_classes, feature_size):
        super().__init__()
        self.act = nn.LeakyReLU(0.1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.fc(self.act(x).mean(dim=(2, 3)))


def test_unsupported_layer_fails_export_naming_the_op_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(heads.HEADS, "leaky", LeakyHead)
    cfg = ModelConfig(name="tiny", input_size=16, in_channels=3, num_classes=4, stem_channels=8,
                      stages=(StageConfig(channels=8), StageConfig(channels=8, transformer=TransformerConfig(16, 1, 2))),
                      exit_stages=(0,), exit_heads=("linear", "leaky"))
    torch.manual_seed(0)
    model = MultiExitMobileViT(cfg).eval()
    rep = np.random.default_rng(0).random((16, 3, 16, 16), dtype=np.float32)
    out = tmp_path / "export"
    with pytest.raises(TinyeeError, match=r"segment1.tflite: op #\d+ LEAKY_RELU is not supported"):
        export_model(model, rep, out, [0.9])
    assert list(tmp_path.iterdir()) == []  # neither the target nor a scratch directory is left behind


def test_chaining_aligns_float_rounding_but_refuses_real_differences(shipped_export):
    from tinyee.export.pipeline import _chain_inputs

    out, _, _ = shipped_export
    seg1 = TfliteModel.load(out / "segment1.tflite")
    data = (out / "segment1.tflite").read_bytes()
    feature = seg1.inputs[0]
    one_ulp = np.nextafter(np.float32(feature.scales[0]), np.float32(1))

    class Producer:  # what segment 0 would have produced, one float32 ulp away
        shape, scales, zero_points = feature.shape, (float(one_ulp),), feature.zero_points

        def quant(self):
            return {"scale": float(one_ulp), "zero_point": feature.zero_points[0]}

    aligned, was = _chain_inputs(data, [Producer()], "segment1", 1)
    fixed = TfliteModel(aligned, "aligned")
    assert was == [float(np.float32(feature.scales[0]))] and fixed.inputs[0].quant() == Producer().quant()
    check_int8_segment(fixed)
    Producer.zero_points = (feature.zero_points[0] + 1,)
    with pytest.raises(TinyeeError, match="input 0 quantization .* does not chain"):
        _chain_inputs(data, [Producer()], "segment1", 1)


def test_manifest_reports_each_exit_heads_parameters_and_macs(shipped_export):
    _, manifest, model = shipped_export
    heads = manifest.exit_heads
    assert [h["kind"] for h in heads] == ["linear"] * 3
    for h, module in zip(heads, model.heads):
        # a linear head: global pool then Linear(C, 10): C * 10 MACs, C * 10 + 10 parameters
        assert h["macs"] == module.fc.in_features * 10 and h["params"] == module.fc.in_features * 10 + 10


def test_export_never_replaces_a_folder_that_holds_no_export(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me\n")
    torch.manual_seed(0)
    model = MultiExitMobileViT(ModelConfig(name="tiny", input_size=16, in_channels=3, num_classes=4, stem_channels=8,
                                           stages=(StageConfig(channels=8),), exit_stages=(), exit_heads=("linear",)))
    rep = np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)
    with pytest.raises(TinyeeError, match="holds no earlier tinyee result"):
        export_model(model, rep, tmp_path / "mine", [])
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me\n"
