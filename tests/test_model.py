import json

import pytest
import torch

from tinyee.errors import TinyeeError
from tinyee.model import ModelConfig, MultiExitMobileViT, load_checkpoint, preset, save_checkpoint
from tinyee.model.blocks import fold_patches, unfold_patches


@pytest.mark.parametrize("name", ["mcu", "small"])
def test_segments_chained_reproduce_every_exit_of_the_full_model(name):
    torch.manual_seed(0)
    model = MultiExitMobileViT(preset(name)).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        full = [torch.softmax(l, -1) for l in model(x)]
        feature, chained = x, []
        for seg in model.segments():
            out = seg(feature)
            probs, feature = (out, None) if seg.is_last else out
            chained.append(probs)
    assert len(chained) == model.cfg.num_exits == 3
    for a, b in zip(full, chained):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_unfold_puts_each_patch_pixel_in_its_own_sequence():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    t = unfold_patches(x, 2)  # [B*p*p, N, C]
    assert t.shape == (8, 6, 3)
    # batch 1, pixel offset (1, 0) inside the patch, patch (row 1, col 2)
    assert torch.equal(t[1 * 4 + 1 * 2 + 0, 1 * 3 + 2], x[1, :, 1 * 2 + 1, 2 * 2 + 0])
    assert torch.equal(fold_patches(t, 2, 2, 4, 6), x)


def test_exit_after_the_last_stage_is_rejected():
    cfg = preset("mcu").to_dict()
    cfg["exit_stages"] = [1, 3]  # stage 3 is the last one: its exit is the final exit already
    with pytest.raises(TinyeeError, match="exit after stage 3 is not possible"):
        ModelConfig.from_dict(cfg)
    cfg["exit_stages"] = [7]
    with pytest.raises(TinyeeError, match="exit after stage 7"):
        ModelConfig.from_dict(cfg)


@pytest.mark.parametrize("change, message", [
    ({"exit_stages": [2, 1]}, "strictly increasing"),
    ({"exit_heads": ["linear"]}, "1 exit heads given for 3 exits"),
    ({"exit_heads": ["linear", "nonsense", "linear"]}, "unknown exit head 'nonsense'"),
    ({"input_size": 20}, "not divisible by patch size"),
])
def test_bad_configs_name_the_problem(change, message):
    cfg = {**preset("mcu").to_dict(), **change}
    with pytest.raises(TinyeeError, match=message):
        MultiExitMobileViT(ModelConfig.from_dict(cfg))


def test_config_json_round_trip(tmp_path):
    cfg = preset("small", num_classes=7, in_channels=1)
    cfg.save(tmp_path / "c.json")
    assert ModelConfig.load(tmp_path / "c.json") == cfg
    assert json.loads((tmp_path / "c.json").read_text())["num_classes"] == 7


def test_checkpoint_round_trip_restores_weights(tmp_path):
    torch.manual_seed(1)
    model = MultiExitMobileViT(preset("mcu")).eval()
    save_checkpoint(tmp_path / "m.pt", model, epoch=3)
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta["epoch"] == 3
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x)):
            assert torch.equal(a, b)


def test_missing_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(TinyeeError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    save_checkpoint(tmp_path / "m.pt", MultiExitMobileViT(preset("mcu")))
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(TinyeeError, match="corrupt"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(TinyeeError, match="not a tinyee checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_failed_checkpoint_write_leaves_no_file(tmp_path):
    model = MultiExitMobileViT(preset("mcu"))
    with pytest.raises(Exception):  # a lambda in the metadata cannot be pickled: the write fails midway
        save_checkpoint(tmp_path / "m.pt", model, callback=lambda: None)
    assert list(tmp_path.iterdir()) == []


def test_exit_heads_produce_logits_and_bof_folding_is_exact():
    from tinyee.model.heads import BagOfFeaturesHead, SingleLayerViTHead

    torch.manual_seed(0)
    x = torch.randn(3, 24, 8, 8)
    bof = BagOfFeaturesHead(24, 10, 8).eval()
    bof.init_codebook(x)
    with torch.no_grad():
        torch.testing.assert_close(bof.folded()(x), bof(x), rtol=1e-5, atol=1e-5)
        assert SingleLayerViTHead(24, 10, 8)(x).shape == (3, 10)
    # k-means placed every codeword on a cluster of the features: each is the mean of its members.
    samples = x.permute(0, 2, 3, 1).reshape(-1, 24)
    nearest = torch.cdist(samples, bof.codebook).argmin(dim=1)
    for j in nearest.unique():
        torch.testing.assert_close(bof.codebook[j], samples[nearest == j].mean(dim=0), rtol=1e-4, atol=1e-4)


def test_heads_are_chosen_per_exit_in_the_config():
    cfg = ModelConfig.from_dict({**preset("mcu").to_dict(), "exit_heads": ["bof", "slvit", "linear"]})
    model = MultiExitMobileViT(cfg)
    assert [type(h).__name__ for h in model.heads] == ["BagOfFeaturesHead", "SingleLayerViTHead", "LinearHead"]
    assert [o.shape for o in model(torch.randn(2, 3, 32, 32))] == [(2, 10)] * 3


def test_new_exit_heads_keep_the_backbone_and_final_head():
    torch.manual_seed(0)
    base = MultiExitMobileViT(preset("mcu")).eval()
    swapped = base.with_exit_heads(["bof", "slvit", "linear"]).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(base(x)[-1], swapped(x)[-1])  # same backbone, same final head
    assert type(swapped.heads[0]).__name__ == "BagOfFeaturesHead"
    with pytest.raises(TinyeeError, match="final exit"):
        base.with_exit_heads(["linear", "linear", "bof"])
