"""Exit methods that carry a second boundary tensor from segment to segment: hierarchical
bag-of-features exits (the running histogram) and Dynamic-Perceiver latent exits (the latent
tokens), in torch, through the int8 export, in the generated C and on the emulated board."""

import pytest
import torch
from conftest import host_against_tflm, validate_on_board

from tinyee.errors import TinyeeError
from tinyee.model import ModelConfig, MultiExitMobileViT, preset


LATENT = {"tokens": 8, "dim": 32, "heads": 2}


def config(heads, latent=None):
    return ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": heads, "latent": latent})


def test_a_run_of_hbof_exits_shares_one_classifier_and_carries_its_histogram():
    model = MultiExitMobileViT(config(["linear", "hbof", "hbof"])).eval()
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


def test_latent_exits_read_only_the_latent_which_travels_flattened():
    model = MultiExitMobileViT(config(["latent"] * 3, LATENT)).eval()
    segments = model.segments()
    assert [(s.input_names, s.output_names) for s in segments] == [
        (["input"], ["probs", "feature", "latent_out"]), (["input", "latent_in"], ["probs", "feature", "latent_out"]),
        (["input", "latent_in"], ["probs"])]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        whole = model(x)
        probs0, feature, latent = segments[0](x)
        probs1, feature, latent = segments[1](feature, latent)
        probs2 = segments[2](feature, latent)
    assert latent.shape == (2, 8 * 32)
    for got, logits in zip((probs0, probs1, probs2), whole):
        assert torch.allclose(got, torch.softmax(logits, -1), atol=1e-6)
    mixed = MultiExitMobileViT(config(["latent", "latent", "linear"], LATENT)).segments()
    assert [s.input_names for s in mixed] == [["input"], ["input", "latent_in"], ["input"]]  # ends at exit 1
    with pytest.raises(TinyeeError, match="latent"):
        config(["latent", "linear", "linear"])  # latent exits without a latent branch


METHODS = {"hbof": (["hbof", "hbof", "hbof"], None, 32), "latent": (["latent"] * 3, LATENT, 8 * 32)}


@pytest.fixture(scope="module", params=sorted(METHODS))
def method_export(request, tmp_path_factory):
    """Every exit of the method (the second boundary tensor crosses both boundaries); random weights,
    bag-of-features codebooks by k-means on real images."""
    from tinyee.data import load_shipped, to_model_input
    from tinyee.export import export_model
    from tinyee.train.joint import init_bof_codebooks

    heads, latent, carry_size = METHODS[request.param]
    torch.manual_seed(0)
    model = MultiExitMobileViT(config(heads, latent))
    x = to_model_input(load_shipped("rep").take(128).images, 32, 3)
    init_bof_codebooks(model, x[:64])
    out = tmp_path_factory.mktemp(request.param) / "export"
    manifest = export_model(model.eval(), x.numpy(), out, [0.3, 0.3])
    return out, manifest, carry_size


def test_the_second_boundary_tensor_chains_exactly_between_int8_segments(method_export):
    _, manifest, carry_size = method_export
    for prev, seg in zip(manifest.segments, manifest.segments[1:]):
        assert len(prev.boundary) == len(seg.inputs) == 2
        assert [(t.shape, t.scale, t.zero_point) for t in prev.boundary] == \
            [(t.shape, t.scale, t.zero_point) for t in seg.inputs]
        assert seg.inputs[1].shape == (1, carry_size)  # histogram over 32 codewords, or 8 latent tokens x 32
    assert manifest.segments[-1].boundary == ()


def test_generated_c_matches_tflite_micro_on_every_boundary_tensor(method_export, tmp_path):
    from tinyee.compile import compile_export
    from tinyee.compile.native import HostRunner, build_shared_library
    from tinyee.data import load_shipped
    from tinyee.eval.evaluate import quantized_inputs
    export, manifest, carry_size = method_export
    segments = compile_export(export, manifest, tmp_path / "src")
    for prev, nxt in zip(segments, segments[1:]):  # both boundary tensors are handed over in place
        assert [nxt.plan.offsets[t.index] for t in nxt.model.inputs] == \
            [prev.plan.offsets[t] for t in prev.boundary_tensors]
    host = HostRunner(build_shared_library(tmp_path / "src", tmp_path / "src" / "model.so"), segments)
    compared, mismatched = host_against_tflm(export, manifest, segments, host,
                                             quantized_inputs(manifest, load_shipped("eval").take(40)))
    assert compared == 40 * (3 * 10 + 2 * carry_size + 8 * 8 * 24 + 8 * 8 * 32) and mismatched == 0


def test_the_cascade_on_the_emulated_board_agrees_with_the_host(method_export, tmp_path):
    export, _, _ = method_export
    assert len(validate_on_board(export, tmp_path, 24)["tensors"]) == 2 * 3
