"""Quantization-aware fine-tuning: the float model trained through fake int8 quantization as TFLite applies it.

The int8 export quantizes every convolution and linear weight per output channel, symmetric in
[-127, 127] (after folding batch norm, which scales whole output channels and so commutes with that
quantization), and every activation tensor per tensor, asymmetric in [-128, 127]. Here the weights
pass through exactly that rounding (PyTorch parametrizations), and the tensors the int8 graph stores
through PyTorch's fused FakeQuantize with a moving min/max: each batch-norm, SiLU, LayerNorm, linear and
unfolded-convolution output, each residual sum, the segment boundaries (a stage's output), the
pooled features an exit classifies, and the image input. Gradients pass straight through the
rounding. Batch norm keeps its running statistics (the export folds those).

Not simulated: the tensors inside the attention (scores, softmax, weighted sum), LayerNorm's
decomposition into int8 MEAN/RSQRT/MUL steps, and the codebook distances of bag-of-features heads.
The fake quantization lives only in the training run: the checkpoint holds plain float weights
(:func:`float_model`), which `tinyee export` quantizes as usual.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.ao.quantization import FusedMovingAvgObsFakeQuantize, MovingAverageMinMaxObserver
from torch.nn.utils import parametrize

from tinyee.model import MultiExitMobileViT
from tinyee.model.blocks import InvertedResidual, TransformerLayer
from tinyee.model.heads import LinearHead, SingleLayerViTHead

OUTPUT_FQ, INPUT_FQ = "output_fq", "input_fq"  # the submodule names of a module's quantizers
WEIGHT_KEY = ".parametrizations.weight.original"


class PerChannelWeights(nn.Module):
    """TFLite's int8 weights: symmetric per output channel (axis 0), [-127, 127], scale max|w| / 127."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        scale = (w.detach().abs().flatten(1).amax(dim=1) / 127).clamp_min(1e-12).float()
        zero = torch.zeros(w.shape[0], dtype=torch.int32, device=w.device)
        return torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127)


class ActivationFakeQuant(FusedMovingAvgObsFakeQuantize):
    """Per-tensor int8 with a moving min/max that only training batches update."""

    def __init__(self):
        super().__init__(observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127, dtype=torch.qint8,
                         qscheme=torch.per_tensor_affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.observer_enabled[0] = int(self.training)
        return super().forward(x)


def _quantize_output(module: nn.Module, _inputs, output: torch.Tensor) -> torch.Tensor:
    return getattr(module, OUTPUT_FQ)(output)


def _quantize_input(module: nn.Module, inputs: tuple) -> tuple:
    return (getattr(module, INPUT_FQ)(inputs[0]),) + tuple(inputs[1:])


def _activation_points(model: MultiExitMobileViT):
    """(module, 'output' | 'input') for every tensor the int8 graph stores that a module boundary shows."""
    folded = set()  # a convolution followed by batch norm: the export stores only the normalised output
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            for a, b in zip(m, list(m)[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    folded.add(a)
    yield next(m for m in model.stem.modules() if not list(m.children())), "input"  # the stem's first layer
    for m in model.modules():
        # (a MobileViT block's output is its fusing convolution's SiLU output, already on the list)
        if isinstance(m, (nn.BatchNorm2d, nn.SiLU, nn.LayerNorm, nn.Linear, TransformerLayer)) \
                or isinstance(m, nn.Conv2d) and m not in folded or isinstance(m, InvertedResidual) and m.residual:
            yield m, "output"
        elif isinstance(m, (LinearHead, SingleLayerViTHead)):
            yield m.fc, "input"  # the pooled features


def prepare_qat(model: MultiExitMobileViT) -> MultiExitMobileViT:
    """Insert the fake quantization into `model` in place (call before building the optimizer); returns it.
    Quantizers hang off leaf modules and blocks, never off an nn.Sequential (which would run them as a layer)."""
    points = list(_activation_points(model))
    for m in list(model.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            parametrize.register_parametrization(m, "weight", PerChannelWeights())
    for m, where in points:
        if where == "input":
            m.add_module(INPUT_FQ, ActivationFakeQuant())
            m.register_forward_pre_hook(_quantize_input)
        else:
            m.add_module(OUTPUT_FQ, ActivationFakeQuant())
            m.register_forward_hook(_quantize_output)
    return model


def train_mode(model: nn.Module) -> None:
    """After model.train() (and any part set to eval): batch norm in inference mode, as the export folds its
    running statistics, and every quantizer observing, frozen parts included."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    for m in model.modules():
        if isinstance(m, ActivationFakeQuant):
            m.train()


def float_state(model: nn.Module) -> dict:
    """The float weights of a QAT-prepared model under the plain model's names."""
    return {k.replace(WEIGHT_KEY, ".weight"): v for k, v in model.state_dict().items()
            if not {OUTPUT_FQ, INPUT_FQ} & set(k.split("."))}


def float_model(model: MultiExitMobileViT) -> MultiExitMobileViT:
    """A plain copy of a QAT-prepared model (its float weights), for checkpoints and export."""
    plain = MultiExitMobileViT(model.cfg)
    plain.load_state_dict(float_state(model))
    return plain.to(next(model.parameters()).device)
