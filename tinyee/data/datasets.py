from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from tinyee.data.imageset import ImageSet
from tinyee.data.layouts import open_source
from tinyee.errors import TinyeeError

REPO_ROOT = Path(__file__).resolve().parents[2]
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
SHIPPED_SUBSET = REPO_ROOT / "calibration" / "fashion-mnist-subset.npz"



def load_dataset(root: Path | str, split: str = "train") -> ImageSet:
    """Load split 'train' or 'test' of a dataset directory into memory, detecting its layout."""
    return dataclasses.replace(open_source(root, split).load(), spec=str(Path(root).resolve()))


def load_shipped(split: str = "eval", path: Path = SHIPPED_SUBSET) -> ImageSet:
    """A subset written by make_subset: 'rep' (from the training set) or 'eval' (test set); by default the
    real Fashion-MNIST subset shipped in calibration/."""
    if split not in ("rep", "eval"):
        raise TinyeeError(f"shipped split must be 'rep' or 'eval', not {split!r}")
    path = Path(path)
    shipped = path.resolve() == SHIPPED_SUBSET.resolve()
    try:
        with np.load(path) as z:
            return ImageSet(z[f"{split}_images"], z[f"{split}_labels"].astype(np.int64),
                            json.loads(str(z["classes"])), f"{'shipped' if shipped else 'npz'}:{path.name}:{split}",
                            "shipped" if shipped else str(path.resolve()))
    except (OSError, KeyError, ValueError, TypeError, EOFError) as e:
        raise TinyeeError(f"cannot read the data subset {path}: {e}") from e


def _stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(labels)
    per = n // len(classes)
    picks = [rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in classes]
    return np.sort(np.concatenate(picks))


def make_subset(source: Path, out: Path, rep: int, eval_: int, seed: int = 0) -> dict:
    """Write the shipped subset: `rep` training images (int8 calibration) and `eval_` test images."""
    rng = np.random.default_rng(seed)
    train, test = load_dataset(source, "train"), load_dataset(source, "test")
    ri, ei = _stratified(train.labels, rep, rng), _stratified(test.labels, eval_, rng)
    np.savez_compressed(
        out, rep_images=train.images[ri], rep_labels=train.labels[ri].astype(np.uint8), rep_indices=ri,
        eval_images=test.images[ei], eval_labels=test.labels[ei].astype(np.uint8), eval_indices=ei,
        classes=json.dumps(train.classes),
    )
    return {"source": str(source), "seed": seed, "rep": len(ri), "eval": len(ei)}


def to_model_input(images: np.ndarray, input_size: int, in_channels: int):
    """uint8 NHWC images -> float32 NCHW tensor in [0, 1] at the model's size and channel count.

    Smaller images are zero-padded to the centre (28x28 Fashion-MNIST -> 32x32), larger ones
    resized bilinearly; grayscale is repeated to 3 channels and RGB averaged to 1 when needed.
    """
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    c = x.shape[1]
    if c != in_channels:
        if c == 1:
            x = x.expand(-1, in_channels, -1, -1)
        elif in_channels == 1:
            x = x.mean(dim=1, keepdim=True)
        else:
            raise TinyeeError(f"cannot map {c}-channel images to a {in_channels}-channel model")
    h, w = x.shape[2:]
    if (h, w) != (input_size, input_size):
        if h <= input_size and w <= input_size and (input_size - h) % 2 == 0 and (input_size - w) % 2 == 0:
            ph, pw = (input_size - h) // 2, (input_size - w) // 2
            x = F.pad(x, (pw, pw, ph, ph))
        else:
            x = F.interpolate(x, size=(input_size, input_size), mode="bilinear", align_corners=False)
    return x.contiguous()


def load_split(spec: str | Path, split: str, limit: int | None = None) -> ImageSet:
    """'shipped' (the calibration/ subset), a .npz subset written by `tinyee data-subset` (its 'rep' split
    stands for training, 'eval' for test) or a dataset directory ('train' or 'test'); first `limit` images."""
    subset_split = "rep" if split in ("rep", "train") else "eval"
    if str(spec) == "shipped":
        data = load_shipped(subset_split)
    elif str(spec).endswith(".npz"):
        data = load_shipped(subset_split, Path(spec))
    else:
        data = load_dataset(spec, "train" if split in ("rep", "train") else "test")
    return data.take(limit)
