"""Quantization-aware fine-tuning (tinyee train --qat): the simulation matches the export, runs resume, and the
checkpoint stays a plain float model."""

import numpy as np
import pytest
import torch
from torch import nn

from conftest import SHIPPED_CHECKPOINT
from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_shipped, to_model_input
from tinyee.export import export_checkpoint
from tinyee.errors import TinyeeError
from tinyee.model import load_checkpoint, load_resumable
from tinyee.tflite import TfliteModel
from tinyee.train import TrainConfig, train
from tinyee.train.qat import ActivationFakeQuant, PerChannelWeights, prepare_qat

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _segment0_layers(model):
    """Segment 0's convolutions and linear layers in forward order, each with the sign batch norm folds into it."""
    parts = [model.stem] + [model.stages[i] for i in model._segment_stage_ranges()[0]] + [model.heads[0]]
    layers = []
    for part in parts:
        mods = list(part.modules())
        for i, m in enumerate(mods):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                bn = mods[i + 1] if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d) else None
                layers.append((m, torch.sign(bn.weight) if bn is not None else torch.ones(m.weight.shape[0])))
    return layers


def test_fake_quantized_weights_are_the_int8_weights_of_the_export(shipped_export):
    """Per output channel, the integers the fake quantization rounds to are the ones the converter stored
    (after folding batch norm, which scales whole channels: its sign can flip a channel)."""
    out, manifest, model = shipped_export
    tfl = TfliteModel.load(out / manifest.segments[0].file)
    stored = [tfl.tensors[op.inputs[1]] for op in tfl.ops if op.name in WEIGHTED_OPS]
    layers = _segment0_layers(model)
    assert len(stored) == len(layers) >= 8
    quantizer = PerChannelWeights()
    for (layer, sign), t in zip(layers, stored):
        w = layer.weight.detach()
        scale = (w.abs().flatten(1).amax(dim=1) / 127).view(-1, *[1] * (w.dim() - 1))
        ours = torch.round(quantizer(w) / scale)
        if w.dim() == 4:  # torch [O, I, kh, kw]; TFLite conv [O, kh, kw, I], depthwise [1, kh, kw, C]
            ours = ours.permute(1, 2, 3, 0) if layer.groups > 1 else ours.permute(0, 2, 3, 1)
            sign = sign.view(1, 1, 1, -1) if layer.groups > 1 else sign.view(-1, 1, 1, 1)
        else:
            sign = sign.view(-1, 1)
        theirs = torch.from_numpy(t.data.astype(np.float32)).reshape(ours.shape)
        # the converter rounds the folded float weights: a value at .5 can round the other way
        assert (ours * sign - theirs).abs().max() <= 1
        assert ((ours * sign) == theirs).float().mean() > 0.995


def test_quantizers_sit_where_the_int8_graph_stores_tensors():
    model = prepare_qat(load_checkpoint(SHIPPED_CHECKPOINT)[0])
    quantizers = [m for m in model.modules() if isinstance(m, ActivationFakeQuant)]
    batch_norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(isinstance(getattr(bn, "output_fq", None), ActivationFakeQuant) for bn in batch_norms)
    assert len(quantizers) > len(batch_norms)
    for seq in (m for m in model.modules() if isinstance(m, nn.Sequential)):  # never run as a layer
        assert not any(isinstance(child, ActivationFakeQuant) for child in seq)
    images = load_dataset(FASHION_MNIST_DIR, "test").images[:256]
    x = to_model_input(images, model.cfg.input_size, model.cfg.in_channels)
    plain = load_checkpoint(SHIPPED_CHECKPOINT)[0].eval()
    model.train()
    with torch.no_grad():
        model(x)  # the observers see the data once
        model.eval()
        fake, real = model(x), plain(x)
    for f, r in zip(fake, real):
        assert not torch.equal(f, r)  # the quantization acts ...
        assert (f.argmax(-1) == r.argmax(-1)).float().mean() > 0.9  # ... and keeps the function


def _qat_run(out, log=lambda line: None, **settings):
    model = load_checkpoint(SHIPPED_CHECKPOINT)[0]
    data = load_dataset(FASHION_MNIST_DIR, "train").take(256)
    tc = TrainConfig(**{"epochs": 2, "batch_size": 64, "lr": 1e-3, "device": "cpu", "qat": True, **settings})
    return train(model.cfg, data, None, out, tc, log=log, init_model=model)


def test_qat_run_resumes_exactly_and_keeps_plain_float_weights(tmp_path):
    straight = _qat_run(tmp_path / "straight")

    def stop_after_first_epoch(line):
        if line.startswith("epoch 1/2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _qat_run(tmp_path / "broken", log=stop_after_first_epoch)
    resumed = _qat_run(tmp_path / "broken", resume=True)
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    start = load_checkpoint(SHIPPED_CHECKPOINT)[0].state_dict()
    saved, meta = load_checkpoint(tmp_path / "straight/last.pt")
    assert set(saved.state_dict()) == set(start) and meta["train"]["qat"]
    assert any(not torch.equal(saved.state_dict()[k], start[k]) for k in start if k.endswith(".weight"))
    _, _, state = load_resumable(tmp_path / "straight/last.pt")  # the run state keeps the observers' ranges
    assert any(k.endswith("output_fq.scale") for k in state["model"])
    # exported as any checkpoint, with clipped activation ranges unless told otherwise
    manifest = export_checkpoint(tmp_path / "straight/last.pt", load_shipped("rep").take(64), tmp_path / "export")
    assert manifest.activation_ranges == "percentile:99.99"


def test_qat_with_a_moving_average_is_refused(tmp_path):
    with pytest.raises(TinyeeError, match="--qat .* without --ema"):
        _qat_run(tmp_path / "run", ema=0.99)
