"""Hierarchical bag-of-features exits: a second boundary tensor (the running histogram) carried from
segment to segment, in torch, through the int8 export, in the generated C and on the emulated board."""

import json
import subprocess
import sys

import pytest
import torch
from conftest import host_against_tflm

from tinyee.model import ModelConfig, MultiExitMobileViT, preset


def hbof_config(heads):
    return ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": heads})


def test_a_run_of_hbof_exits_shares_one_classifier_and_carries_its_histogram():
    model = MultiExitMobileViT(hbof_config(["linear", "hbof", "hbof"])).eval()
    assert [getattr(h, "position", None) for h in model.heads] == [None, 0, 1]
    assert model.heads[1].fc is model.heads[2].fc
    segments = model.segments()
    assert [(s.input_names, s.output_names) for s in segments] == [
        (["input"], ["probs", "feature"]), (["input"], ["probs", "feature", "carry_out"]),
        (["input", "carry_in"], ["probs"])]
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        whole = model(x)
        _, feature = segments[0](x)
        probs1, feature, carry = segments[1](feature)
        probs2 = segments[2](feature, carry)
        own = model.heads[2].histogram(model.stages[3](feature))
    assert torch.allclose(probs2, torch.softmax(whole[2], -1), atol=1e-6)
    assert torch.allclose(probs1, torch.softmax(whole[1], -1), atol=1e-6)
    # exit 2 classifies the mean of exit 1's histogram and its own
    assert torch.allclose(whole[2], model.heads[2].fc((carry + own) / 2), atol=1e-5)


@pytest.fixture(scope="module")
def hbof_export(tmp_path_factory):
    """Every exit hierarchical (the carry crosses both boundaries), codebooks by k-means on real images."""
    from tinyee.data import load_shipped, to_model_input
    from tinyee.export import export_model
    from tinyee.train.joint import init_bof_codebooks

    torch.manual_seed(0)
    model = MultiExitMobileViT(hbof_config(["hbof", "hbof", "hbof"]))
    x = to_model_input(load_shipped("rep").take(128).images, 32, 3)
    assert init_bof_codebooks(model, x[:64]) == 3
    out = tmp_path_factory.mktemp("hbof") / "export"
    manifest = export_model(model.eval(), x.numpy(), out, [0.3, 0.3])
    return out, manifest, model


def test_the_carry_chains_exactly_between_int8_segments(hbof_export):
    _, manifest, _ = hbof_export
    for prev, seg in zip(manifest.segments, manifest.segments[1:]):
        assert len(prev.boundary) == len(seg.inputs) == 2
        assert [(t.shape, t.scale, t.zero_point) for t in prev.boundary] == \
            [(t.shape, t.scale, t.zero_point) for t in seg.inputs]
        assert seg.inputs[1].shape == (1, 32)  # the running histogram over 32 codewords
    assert manifest.segments[-1].boundary == ()
    assert [h["kind"] for h in manifest.exit_heads] == ["hbof"] * 3


def test_generated_c_matches_tflite_micro_on_every_boundary_tensor(hbof_export, tmp_path):
    from tinyee.compile import compile_export
    from tinyee.compile.native import HostRunner, build_shared_library
    from tinyee.data import load_shipped
    from tinyee.eval.evaluate import quantized_inputs
    export, manifest, _ = hbof_export
    segments = compile_export(export, manifest, tmp_path / "src")
    for prev, nxt in zip(segments, segments[1:]):  # both boundary tensors are handed over in place
        assert [nxt.plan.offsets[t.index] for t in nxt.model.inputs] == \
            [prev.plan.offsets[t] for t in prev.boundary_tensors]
    host = HostRunner(build_shared_library(tmp_path / "src", tmp_path / "src" / "model.so"), segments)
    compared, mismatched = host_against_tflm(export, manifest, segments, host,
                                             quantized_inputs(manifest, load_shipped("eval").take(40)))
    assert compared == 40 * (3 * 10 + 2 * 32 + 8 * 8 * 24 + 8 * 8 * 32) and mismatched == 0


def test_the_cascade_on_the_emulated_board_agrees_with_the_host(hbof_export, tmp_path):
    export, _, _ = hbof_export
    r = subprocess.run([sys.executable, "-m", "tinyee", "validate", "--export", str(export), "--data", "shipped", "--samples", "24",
                        "--tensor-samples", "2", "--out", str(tmp_path), "--json"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["passed"] and report["samples"] == 24
    assert report["cascade"]["exit_class_confidence_agreement"] == 1.0
    assert all(t["bytes_equal"] for t in report["tensors"]) and len(report["tensors"]) == 2 * 3
