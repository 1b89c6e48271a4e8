import gzip
import pickle

import numpy as np
import pytest
from PIL import Image

from tinyee.data import FASHION_MNIST_DIR, SHIPPED_SUBSET, load_dataset, load_shipped, to_model_input
from tinyee.errors import TinyeeError


def _images(rng, n, h=32, w=32, c=3):
    return rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)


def test_fashion_mnist_from_the_debian_package():
    train, test = load_dataset(FASHION_MNIST_DIR, "train"), load_dataset(FASHION_MNIST_DIR, "test")
    assert train.images.shape == (60000, 28, 28, 1) and test.images.shape == (10000, 28, 28, 1)
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert train.classes[9] == "ankle boot"


def test_shipped_subset_is_real_fashion_mnist_and_balanced():
    full_test = load_dataset(FASHION_MNIST_DIR, "test")
    shipped = load_shipped("eval")
    with np.load(SHIPPED_SUBSET) as z:
        idx = z["eval_indices"]
    assert np.array_equal(shipped.images, full_test.images[idx])
    assert np.array_equal(shipped.labels, full_test.labels[idx])
    assert np.bincount(shipped.labels).tolist() == [200] * 10
    assert len(load_shipped("rep")) == 500


def test_cifar10_python_layout(tmp_path, rng):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        imgs = _images(rng, 4)
        batches[name] = imgs
        planar = imgs.transpose(0, 3, 1, 2).reshape(4, -1)  # CIFAR stores R plane, G plane, B plane
        with open(root / name, "wb") as f:
            pickle.dump({b"data": planar, b"labels": [1, 2, 3, 4]}, f)
    with open(root / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f)
    train = load_dataset(tmp_path, "train")  # the parent folder of the archive works too
    assert np.array_equal(train.images[:4], batches["data_batch_1"])
    assert len(train) == 20 and train.classes[3] == "c3"
    assert np.array_equal(load_dataset(root, "test").images, batches["test_batch"])


def test_cifar10_binary_layout(tmp_path, rng):
    expected = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        imgs = _images(rng, 3)
        labels = np.array([7, 0, 9], np.uint8)
        expected[name] = imgs
        rows = np.concatenate([labels[:, None], imgs.transpose(0, 3, 1, 2).reshape(3, -1)], axis=1)
        rows.astype(np.uint8).tofile(tmp_path / name)
    test = load_dataset(tmp_path, "test")
    assert np.array_equal(test.images, expected["test_batch.bin"])
    assert test.labels.tolist() == [7, 0, 9]
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(TinyeeError, match="not a multiple"):
        load_dataset(tmp_path, "test")


def test_image_folder_layout(tmp_path, rng):
    imgs = _images(rng, 4, 16, 16)
    for split in ("train", "test"):
        for i, cls in enumerate(["cat", "dog"]):
            (tmp_path / split / cls).mkdir(parents=True)
            for j in range(2):
                Image.fromarray(imgs[2 * i + j]).save(tmp_path / split / cls / f"{j}.png")
    data = load_dataset(tmp_path, "train")
    assert data.classes == ["cat", "dog"] and data.labels.tolist() == [0, 0, 1, 1]
    assert np.array_equal(data.images, imgs)
    (tmp_path / "test" / "dog" / "2.png").write_bytes(b"not a png")
    with pytest.raises(TinyeeError, match="cannot decode image .*2.png"):
        load_dataset(tmp_path, "test")


def test_wrong_layout_and_missing_directory(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(TinyeeError, match="not a dataset directory tinyee can read.*CIFAR-10 python"):
        load_dataset(tmp_path)
    with pytest.raises(TinyeeError, match="dataset directory not found"):
        load_dataset(tmp_path / "missing")


def test_truncated_idx_file(tmp_path):
    for split in ("train",):
        with gzip.open(tmp_path / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
        with gzip.open(tmp_path / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 10)
    with pytest.raises(TinyeeError, match="truncated"):
        load_dataset(tmp_path, "train")


def test_model_input_pads_grayscale_to_rgb_32x32():
    img = np.zeros((1, 28, 28, 1), np.uint8)
    img[0, 0, 0, 0] = 255
    x = to_model_input(img, 32, 3)
    assert x.shape == (1, 3, 32, 32)
    assert x[0, :, 2, 2].tolist() == [1.0, 1.0, 1.0] and float(x.sum()) == 3.0
    assert to_model_input(_images(np.random.default_rng(0), 2, 64, 64), 32, 1).shape == (2, 1, 32, 32)
