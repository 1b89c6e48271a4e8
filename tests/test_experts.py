"""Per-token mixture-of-experts MobileViT: top-1 routing in torch, its dense int8 export, and the
compiler's routed experts (each expert runs only on its tokens), bit-exact with TFLite Micro on every
kernel path, fewer multiply-accumulates than the dense graph, and on the emulated board."""

import pytest
import torch
from conftest import host_against_tflm, validate_on_board

from tinyee.errors import TinyeeError
from tinyee.model import MultiExitMobileViT, preset
from tinyee.model.experts import ExpertMLP, balance_loss

EXPERTS = 4


def config(experts=EXPERTS):
    return preset("mcu").with_experts(experts)


def test_each_token_goes_through_exactly_its_best_expert():
    torch.manual_seed(0)
    moe = ExpertMLP(16, 32, EXPERTS).eval()
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        gates = moe.gates(x)
        best = moe.router(x).argmax(-1)
        y = moe(x)
    assert torch.equal(gates, torch.nn.functional.one_hot(best, EXPERTS).float())
    with torch.no_grad():
        want = torch.stack([moe.experts[int(e)](t) for t, e in zip(x.reshape(-1, 16), best.reshape(-1))])
    assert torch.allclose(y.reshape(-1, 16), want, atol=1e-6)
    assert moe.balance is None  # kept only in training


def test_training_keeps_the_load_balancing_loss_and_the_router_learns():
    torch.manual_seed(0)
    model = MultiExitMobileViT(config()).train()
    sum(z.sum() for z in model(torch.randn(4, 3, 32, 32))).backward()
    balance = balance_loss(model)
    assert balance is not None and balance.item() >= 3 * 1.0 - 1e-4  # E * sum f_e P_e >= 1 per layer, 3 layers
    routers = [m.router for m in model.modules() if isinstance(m, ExpertMLP)]
    assert len(routers) == 3 and all(r.weight.grad is not None and r.weight.grad.abs().sum() > 0 for r in routers)


def test_split_shares_out_the_dense_mlp_with_its_parameter_count():
    torch.manual_seed(0)
    dense = MultiExitMobileViT(preset("mcu"))
    moe = dense.with_experts(EXPERTS)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    routers = sum(p.numel() for m in moe.modules() if isinstance(m, ExpertMLP) for p in m.router.parameters())
    biases = sum((EXPERTS - 1) * m.experts[0][2].bias.numel() for m in moe.modules() if isinstance(m, ExpertMLP))
    assert n(moe) == n(dense) + routers + biases
    layer = next(m for m in moe.modules() if isinstance(m, ExpertMLP))
    mlp = dense.stages[2][-1].transformer[0].mlp
    assert torch.equal(torch.cat([e[0].weight for e in layer.experts]), mlp[0].weight)
    assert torch.equal(torch.cat([e[2].weight for e in layer.experts], 1), mlp[2].weight)
    with pytest.raises(TinyeeError, match="experts"):
        config(3)  # 128 hidden units do not share out among 3
    with pytest.raises(TinyeeError, match="already"):
        moe.with_experts(2)


@pytest.fixture(scope="module")
def moe_export(tmp_path_factory):
    from tinyee.data import load_shipped, to_model_input
    from tinyee.export import export_model

    torch.manual_seed(0)
    model = MultiExitMobileViT(config()).eval()
    x = to_model_input(load_shipped("rep").take(128).images, 32, 3)
    out = tmp_path_factory.mktemp("experts") / "export"
    return out, export_model(model, x.numpy(), out, [0.3, 0.3])


@pytest.mark.parametrize("path", ["portable", "dsp", "mve"])
def test_routed_experts_match_tflite_micro_and_run_one_expert_per_token(moe_export, tmp_path, path):
    from tinyee.compile import compile_export
    from tinyee.compile.footprint import call_macs
    from tinyee.compile.native import HostRunner, build_shared_library
    from tinyee.compile.route import KERNEL
    from tinyee.data import load_shipped
    from tinyee.eval.evaluate import quantized_inputs

    export, manifest = moe_export
    segments = compile_export(export, manifest, tmp_path / "src")
    routed = [[c for c in s.calls if c.kernel == KERNEL] for s in segments]
    assert [len(r) for r in routed] == [0, EXPERTS, 2 * EXPERTS]  # stage 2 has one layer, stage 3 two
    host = HostRunner(build_shared_library(tmp_path / "src", tmp_path / "src" / "model.so", path=path), segments)
    inputs = quantized_inputs(manifest, load_shipped("eval").take(12))
    compared, mismatched = host_against_tflm(export, manifest, segments, host, inputs)
    assert compared > 0 and mismatched == 0
    # every token runs its chosen expert (two only on an exact int8 tie): 1/E of the dense experts' work
    dense = sum(call_macs(c) for r in routed for c in r) * len(inputs)
    assert dense / EXPERTS <= host.routed_macs < dense / EXPERTS * 1.02


def test_reference_and_unrouted_builds_stay_dense(moe_export, tmp_path):
    from tinyee.compile import compile_export
    from tinyee.compile.route import KERNEL

    export, manifest = moe_export
    for kernels, route in (("reference", True), ("optimized", False)):
        segments = compile_export(export, manifest, tmp_path / kernels, kernels, route)
        assert not any(c.kernel == KERNEL for s in segments for c in s.calls)


def test_the_routed_cascade_on_the_emulated_board_agrees_with_the_host(moe_export, tmp_path):
    assert validate_on_board(moe_export[0], tmp_path, 16)["tensors"]
