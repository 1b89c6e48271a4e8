from __future__ import annotations

import dataclasses
import gzip
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyee.errors import TinyeeError

REPO_ROOT = Path(__file__).resolve().parents[2]
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian package dataset-fashion-mnist
SHIPPED_SUBSET = REPO_ROOT / "calibration" / "fashion-mnist-subset.npz"

FASHION_MNIST_CLASSES = [
    "t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
]
UNLABELLED = -1
MAX_SIDE = 4096  # pixels; larger files are refused before they are decoded (decompression bombs)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm"}
LAYOUTS_HELP = (
    "expected one of: IDX files (train-images-idx3-ubyte[.gz], t10k-..., as Fashion-MNIST/MNIST ship them); "
    "CIFAR-10 python layout (data_batch_1..5, test_batch, batches.meta); CIFAR-10 binary layout "
    "(data_batch_1.bin..5, test_batch.bin); or an image folder (train/<class>/*.png and test/<class>/*.png, "
    "or train/*.png without labels)"
)


@dataclass
class ImageSet:
    images: np.ndarray  # uint8 [N, H, W, C]
    labels: np.ndarray  # int64 [N]
    classes: list[str]
    source: str     # what was read, for reports
    spec: str = ""  # what load_split reads again: "shipped", a dataset folder or a .npz subset

    def __post_init__(self):
        """Checked once, where data enters: whatever a loader read must be images tinyee can use."""
        im, lab = self.images, self.labels
        if not (isinstance(im, np.ndarray) and im.dtype == np.uint8 and im.ndim == 4 and 1 <= im.shape[-1] <= 4):
            raise TinyeeError(f"{self.source}: images must be uint8 [N, H, W, C] with 1-4 channels, not "
                              f"{getattr(im, 'dtype', type(im).__name__)} {list(getattr(im, 'shape', []))}")
        if max(im.shape[1:3]) > MAX_SIDE:
            raise TinyeeError(f"{self.source}: images of {im.shape[2]}x{im.shape[1]} pixels; tinyee takes images "
                              f"up to {MAX_SIDE}x{MAX_SIDE} (microcontroller models see far fewer)")
        if not (isinstance(lab, np.ndarray) and lab.ndim == 1 and np.issubdtype(lab.dtype, np.integer)
                and len(lab) == len(im)):
            raise TinyeeError(f"{self.source}: {len(im)} images need as many integer labels, found "
                              f"{getattr(lab, 'dtype', type(lab).__name__)} {list(getattr(lab, 'shape', []))}")
        if len(lab) == 0:
            raise TinyeeError(f"{self.source} holds no images")
        if (lab < UNLABELLED).any() or (len(self.classes) and (lab >= len(self.classes)).any()):
            raise TinyeeError(f"{self.source}: labels must lie in 0..{len(self.classes) - 1} (or -1 for unlabelled)")

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, n: int | None) -> "ImageSet":
        if n is None:
            return self
        if n < 1:
            raise TinyeeError(f"{n} samples: give a positive number")
        return dataclasses.replace(self, images=self.images[:n], labels=self.labels[:n])


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise TinyeeError(f"cannot read IDX file {path}: {e}") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise TinyeeError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise TinyeeError(f"IDX file {path} is truncated: header says {dims}, found {body.size} values")
    return body.reshape(dims)


def _find(root: Path, stem: str) -> Path | None:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _load_idx(root: Path, split: str) -> ImageSet | None:
    prefix = "train" if split == "train" else "t10k"
    img, lab = _find(root, f"{prefix}-images-idx3-ubyte"), _find(root, f"{prefix}-labels-idx1-ubyte")
    if not (img and lab):
        return None
    images, labels = _read_idx(img), _read_idx(lab)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise TinyeeError(f"IDX files in {root} disagree: images {images.shape}, labels {labels.shape}")
    is_fashion = "fashion" in str(root).lower()
    classes = FASHION_MNIST_CLASSES if is_fashion else [str(i) for i in range(10)]
    return ImageSet(images[..., None].copy(), labels.astype(np.int64), classes, f"idx:{root}")


def _cifar_python(root: Path, split: str) -> ImageSet | None:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if not all((root / n).is_file() for n in names):
        return None
    images, labels = [], []
    for n in names:
        try:
            with open(root / n, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            data, labs = batch[b"data"], batch[b"labels"]
        except (OSError, pickle.UnpicklingError, KeyError, EOFError, TypeError) as e:
            raise TinyeeError(f"CIFAR-10 batch {root / n} is malformed: {e}") from e
        images.append(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(labs, dtype=np.int64))
    classes = [str(i) for i in range(10)]
    meta = root / "batches.meta"
    if meta.is_file():
        with open(meta, "rb") as f:
            classes = [c.decode() for c in pickle.load(f, encoding="bytes")[b"label_names"]]
    return ImageSet(np.concatenate(images), np.concatenate(labels), classes, f"cifar10-python:{root}")


def _cifar_binary(root: Path, split: str) -> ImageSet | None:
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    if not all((root / n).is_file() for n in names):
        return None
    record = 1 + 3 * 32 * 32
    images, labels = [], []
    for n in names:
        raw = np.fromfile(root / n, dtype=np.uint8)
        if raw.size % record:
            raise TinyeeError(f"CIFAR-10 binary batch {root / n} has {raw.size} bytes, not a multiple of {record}")
        raw = raw.reshape(-1, record)
        labels.append(raw[:, 0].astype(np.int64))
        images.append(raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    classes = [str(i) for i in range(10)]
    meta = root / "batches.meta.txt"
    if meta.is_file():
        classes = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
    return ImageSet(np.concatenate(images), np.concatenate(labels), classes, f"cifar10-binary:{root}")


def _image_folder(root: Path, split: str) -> ImageSet | None:
    split_dirs = ["train"] if split == "train" else ["test", "val"]
    base = next((root / d for d in split_dirs if (root / d).is_dir()), None)
    if base is None:
        return None
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in base.iterdir() if p.is_dir())
    # Images directly in the split folder, without class sub-folders, are unlabelled (label -1):
    # enough for label-free copycat distillation of the exits.
    groups = [(label, base / cls) for label, cls in enumerate(classes)] or [(UNLABELLED, base)]
    images, labels = [], []
    for label, folder in groups:
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            too_large = f"image {f} is too large: tinyee takes images up to {MAX_SIDE}x{MAX_SIDE} pixels; resize it"
            try:
                with Image.open(f) as im:
                    if max(im.size) > MAX_SIDE:  # the header is read, the pixels not yet
                        raise TinyeeError(f"{too_large} ({im.size[0]}x{im.size[1]})")
                    images.append(np.asarray(im.convert("RGB")))
            except Image.DecompressionBombError:  # PIL's own limit, met while reading the header
                raise TinyeeError(too_large) from None
            except (OSError, UnidentifiedImageError, ValueError) as e:
                raise TinyeeError(f"cannot decode image {f}: {e}") from e
            labels.append(label)
    if not images:
        raise TinyeeError(f"image folder {base} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise TinyeeError(f"images in {base} differ in size ({sorted(shapes)[:3]}...); resize them to one size first")
    return ImageSet(np.stack(images), np.asarray(labels, dtype=np.int64), classes, f"image-folder:{base}")


LOADERS = (_load_idx, _cifar_python, _cifar_binary, _image_folder)


def load_dataset(root: Path | str, split: str = "train") -> ImageSet:
    """Load split 'train' or 'test' from a dataset directory, detecting its layout."""
    root = Path(root)
    if split not in ("train", "test"):
        raise TinyeeError(f"unknown split {split!r} (train or test)")
    if not root.is_dir():
        raise TinyeeError(f"dataset directory not found: {root}")
    # CIFAR-10 archives unpack into a sub-folder; accept its parent as well.
    for candidate in (root, root / "cifar-10-batches-py", root / "cifar-10-batches-bin"):
        for loader in LOADERS:
            found = loader(candidate, split) if candidate.is_dir() else None
            if found is not None:
                return dataclasses.replace(found, spec=str(root.resolve()))
    raise TinyeeError(f"{root} is not a dataset directory tinyee can read ({split} split); {LAYOUTS_HELP}")


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
