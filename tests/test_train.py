"""Training at scale: torchrun/DDP on CPU processes (gloo), resuming a run, streamed data and tar shards."""

import subprocess
import sys
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SHIPPED_CHECKPOINT
from tinyee.data import FASHION_MNIST_DIR, load_dataset
from tinyee.data.layouts import open_source
from tinyee.data.shards import write_shards
from tinyee.data.stream import ModelInputs, loader
from tinyee.errors import TinyeeError
from tinyee.model import load_checkpoint, load_resumable, preset
from tinyee.train import TrainConfig, train
from tinyee.train.joint import exit_losses
from tinyee.train.recipe import load_teacher, mix_batch, weight_average

FASHION = str(FASHION_MNIST_DIR)


def tinyee(*args, launcher=(sys.executable, "-m", "tinyee")):
    return subprocess.run([*launcher, *map(str, args)], capture_output=True, text=True, timeout=600)


def torchrun(nproc: int, *args):
    return tinyee(*args, launcher=(sys.executable, "-m", "torch.distributed.run", "--standalone",
                                   "--nproc-per-node", str(nproc), "-m", "tinyee"))


def _weights(path):
    return load_checkpoint(path)[0].state_dict()


def test_two_ddp_processes_train_what_one_process_trains(tmp_path):
    """Frozen backbone (its batch norm in eval mode) and linear heads: each of the two gloo processes takes
    half of every batch, DDP averages their gradients, and the result is the one-process run's."""
    args = ("train", "--data", FASHION, "--init", SHIPPED_CHECKPOINT, "--freeze-backbone", "--distill", 0.5,
            "--epochs", 2, "--limit", 512, "--batch-size", 64, "--device", "cpu")
    one = tinyee(*args, "--out", tmp_path / "one")
    two = torchrun(2, *args, "--out", tmp_path / "two")
    assert one.returncode == 0 and two.returncode == 0, one.stderr[-2000:] + two.stderr[-2000:]
    assert two.stderr.count("epoch 2/2") == 1 and "on 2 cpu processes" in two.stderr  # rank 0 alone speaks
    a, b, start = _weights(tmp_path / "one/last.pt"), _weights(tmp_path / "two/last.pt"), _weights(SHIPPED_CHECKPOINT)
    moved = max((a[k].float() - start[k].float()).abs().max().item() for k in a)
    apart = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert moved > 1e-3 and apart < 1e-5, (moved, apart)
    meta = load_checkpoint(tmp_path / "two/last.pt")[1]
    assert meta["world_size"] == 2 and [h["samples"] for h in meta["history"]] == [512, 512]


def test_joint_training_on_two_ddp_processes_with_streamed_data(tmp_path):
    r = torchrun(2, "train", "--data", FASHION, "--out", tmp_path / "run", "--epochs", 1, "--limit", 256,
                 "--batch-size", 64, "--device", "cpu", "--stream", "--workers", 1)
    assert r.returncode == 0, r.stderr[-3000:]
    model, meta = load_checkpoint(tmp_path / "run/last.pt")
    assert meta["world_size"] == 2 and meta["train"]["stream"] and model.cfg.num_exits == 3
    assert len(meta["history"][0]["test_accuracy"]) == 3


def _small_run(out, log=lambda line: None, **settings):
    data = load_dataset(FASHION, "train").take(256)
    return train(preset("mcu"), data, None, out, TrainConfig(**{"epochs": 2, "batch_size": 64, "device": "cpu",
                                                                **settings}), log=log)


RECIPE = {"ema": 0.9, "mixup": 0.2, "cutmix": 1.0, "label_smoothing": 0.1}


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path):
    """With the whole recipe on: the moving average, the raw weights and the optimizer all come back."""
    straight = _small_run(tmp_path / "straight", **RECIPE)

    def stop_after_first_epoch(line):
        if line.startswith("epoch 1/2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _small_run(tmp_path / "broken", log=stop_after_first_epoch, **RECIPE)
    assert load_checkpoint(tmp_path / "broken/last.pt")[1]["epoch"] == 1
    resumed = _small_run(tmp_path / "broken", resume=True, **RECIPE)
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    assert [h["epoch"] for h in load_checkpoint(tmp_path / "broken/last.pt")[1]["history"]] == [1, 2]
    with pytest.raises(TinyeeError, match="started with lr=0.003, not 0.001"):
        _small_run(tmp_path / "broken", resume=True, lr=1e-3, **RECIPE)
    _, _, state = load_resumable(tmp_path / "broken/last.pt")  # the checkpoint holds the average, not the raw weights
    average = {k[len("module."):]: v for k, v in state["ema"].items() if k.startswith("module.")}
    for name, value in straight.state_dict().items():
        assert torch.equal(value, average[name]), name
    assert any(not torch.equal(state["model"][k], average[k]) for k in average)


def test_mixup_and_cutmix_targets_weigh_what_was_mixed():
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1).expand(4, 1, 8, 8).contiguous()
    y = torch.tensor([0, 1, 2, 3])
    for mixup, cutmix in ((0.4, 0.0), (0.0, 1.0)):
        for seed in range(5):
            mixed, target = mix_batch(x, y, 4, mixup, cutmix, (seed,))
            again, _ = mix_batch(x, y, 4, mixup, cutmix, (seed,))
            assert torch.equal(mixed, again) and torch.allclose(target.sum(1), torch.ones(4))
            # each image is a blend (mixup) or a patchwork (cutmix) of two sources; its mean says how much of each
            expected = (target * torch.arange(4.0)).sum(1)
            assert torch.allclose(mixed.mean(dim=(1, 2, 3)), expected, atol=1e-5), (mixup, cutmix, seed)


def test_teacher_distillation_pulls_every_exit_to_the_teacher():
    tc = TrainConfig(teacher_weight=1.0, temperature=2.0)
    teacher = torch.randn(6, 10)
    same = exit_losses([teacher.clone(), teacher.clone()], torch.zeros(6, dtype=torch.long), tc, teacher)
    other = exit_losses([torch.randn(6, 10), teacher.clone()], torch.zeros(6, dtype=torch.long), tc, teacher)
    assert all(abs(float(v)) < 1e-6 for v in same) and float(other[0]) > 0.01 and abs(float(other[1])) < 1e-6
    with pytest.raises(TinyeeError, match="teacher .* into 10 classes; the student .* into 3"):
        load_teacher(SHIPPED_CHECKPOINT, preset("mcu", 3), torch.device("cpu"))


def test_streamed_training_sees_the_batches_of_in_memory_training(tmp_path):
    memory = _small_run(tmp_path / "memory", epochs=1)
    streamed = train(preset("mcu"), open_source(FASHION, "train").take(256), None, tmp_path / "stream",
                     TrainConfig(epochs=1, batch_size=64, device="cpu", stream=True, workers=2), log=lambda line: None)
    for name, value in memory.state_dict().items():
        assert torch.equal(value, streamed.state_dict()[name]), name


def _folder(root, sizes):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label, cls in enumerate(["a", "b"]):
            (root / split / cls).mkdir(parents=True)
            for i, size in enumerate(sizes):
                img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(img).save(root / split / cls / f"{i}.png")


def test_tar_shards_hold_the_data_set_and_stream_it(tmp_path):
    _folder(tmp_path / "folder", [20] * 40)
    index = write_shards(tmp_path / "folder", tmp_path / "shards", shard_size=4, log=lambda line: None)
    assert [len(s["samples"]) for s in index["splits"]["train"]] == [4] * 20
    original, sharded = load_dataset(tmp_path / "folder", "test"), load_dataset(tmp_path / "shards", "test")
    assert np.array_equal(original.images, sharded.images) and np.array_equal(original.labels, sharded.labels)
    assert sharded.classes == ["a", "b"]
    with tarfile.open(tmp_path / "shards/train-000000.tar") as tar:  # plain tar, WebDataset's key.ext members
        assert tar.getnames()[:2] == ["000000000.png", "000000000.cls"]
        assert tar.extractfile("000000001.cls").read() == b"0"
    streamed = open_source(tmp_path / "shards", "train")
    streamed.image(0)  # a shard opened before the workers fork: they must not share its file position
    batches = [x for x, _ in loader(ModelInputs(streamed, 32, 3, stream=True), 2, workers=2)]
    assert torch.equal(torch.cat(batches), ModelInputs(streamed, 32, 3, stream=False).memory)
    r = tinyee("train", "--data", tmp_path / "shards", "--out", tmp_path / "run", "--epochs", 1, "--batch-size", 16,
               "--stream", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    (tmp_path / "shards/test-000000.tar").write_bytes(b"")
    with pytest.raises(TinyeeError, match="shard .*test-000000.tar is truncated"):
        load_dataset(tmp_path / "shards", "test")


def test_streaming_takes_images_of_mixed_sizes_and_names_a_broken_one(tmp_path):
    _folder(tmp_path / "data", [16, 24, 40])
    assert tinyee("train", "--data", tmp_path / "data", "--out", tmp_path / "mem", "--epochs", 1).returncode == 1
    write_shards(tmp_path / "data", tmp_path / "shards", shard_size=4, log=lambda line: None)
    with pytest.raises(TinyeeError, match="differ in size"):  # every layout read into memory says so
        load_dataset(tmp_path / "shards", "train")
    r = tinyee("train", "--data", tmp_path / "data", "--out", tmp_path / "run", "--epochs", 1, "--batch-size", 4,
               "--stream", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    (tmp_path / "data/train/b/1.png").write_bytes(b"not a png")
    r = tinyee("train", "--data", tmp_path / "data", "--out", tmp_path / "run2", "--epochs", 1, "--batch-size", 4,
               "--stream", "--workers", 2)
    assert r.returncode == 1 and "cannot decode image" in r.stderr and "1.png" in r.stderr
    assert "Traceback" not in r.stderr and "Caught" not in r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without a CUDA GPU")
def test_a_missing_gpu_is_one_line(tmp_path):
    r = tinyee("train", "--data", FASHION, "--out", tmp_path / "run", "--device", "cuda", "--limit", 64)
    assert r.returncode == 1 and "sees no CUDA GPU" in r.stderr and "Traceback" not in r.stderr
    r = tinyee("train", "--data", FASHION, "--out", tmp_path / "run", "--device", "cpu", "--amp", "--limit", 64)
    assert r.returncode == 1 and "--amp needs a GPU" in r.stderr


def test_weight_average_ramps_its_decay_up_from_the_first_updates():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    average = weight_average(model, 0.999)
    average.update_parameters(model)  # the first update copies the weights
    first = model[0].weight.detach().clone()
    expected = first.clone()
    for n in range(1, 6):  # update n: decay min(0.999, (1 + n) / (10 + n)) towards the current weights
        with torch.no_grad():
            model[0].weight.add_(1.0)
        average.update_parameters(model)
        d = min(0.999, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * model[0].weight.detach()
    assert torch.allclose(average.module[0].weight, expected, atol=1e-6)
    assert not torch.allclose(expected, first, atol=0.5)  # it moved by more than a plain 0.999 average would
