"""Dataset layouts on disk, each opened as a :class:`Source`: one split that is read image by image (what
the streaming loaders of training index, in worker processes) or whole into memory (`load`).

IDX files and CIFAR-10's binary batches are memory-mapped (a gzipped IDX file is decompressed once),
image folders decode one file per image, tar shards (`tinyee shards`) read one member by its offset.
"""

from __future__ import annotations

import copy
import gzip
import pickle
from pathlib import Path

import numpy as np

from tinyee.data.imageset import MAX_SIDE, UNLABELLED, ImageSet, check_labels
from tinyee.errors import TinyeeError

FASHION_MNIST_CLASSES = [
    "t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm"}
LAYOUTS_HELP = (
    "expected one of: IDX files (train-images-idx3-ubyte[.gz], t10k-..., as Fashion-MNIST/MNIST ship them); "
    "CIFAR-10 python layout (data_batch_1..5, test_batch, batches.meta); CIFAR-10 binary layout "
    "(data_batch_1.bin..5, test_batch.bin); an image folder (train/<class>/*.png and test/<class>/*.png, "
    "or train/*.png without labels); or tar shards written by `tinyee shards` (shards.json)"
)


class Source:
    """One split of a dataset: len, image(i) (uint8 HWC), labels (all of them, cheap), classes."""

    labels: np.ndarray
    classes: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def take(self, n: int | None) -> "Source":
        """The first n samples (all for None)."""
        if n is None:
            return self
        if n < 1:
            raise TinyeeError(f"{n} samples: give a positive number")
        first = copy.copy(self)
        first.labels = self.labels[:n]
        return first

    def load(self) -> ImageSet:
        """The whole split in memory (one array: the images must share one size)."""
        images = [self.image(i) for i in range(len(self))]
        shapes = {im.shape for im in images}
        if len(shapes) > 1:
            raise TinyeeError(f"images in {self.source} differ in size ({sorted(shapes)[:3]}...); resize them to "
                              "one size first (or train with --stream, which resizes each image)")
        return ImageSet(np.stack(images), self.labels, self.classes, self.source)


class ArraySource(Source):
    """Images held in (memory-mapped) arrays, one part per file."""

    def __init__(self, parts: list[np.ndarray], labels: np.ndarray, classes: list[str], source: str):
        self.parts, self.labels, self.classes, self.source = parts, labels, classes, source
        self.starts = np.cumsum([0] + [len(p) for p in parts])

    def image(self, i: int) -> np.ndarray:
        part = int(np.searchsorted(self.starts, i, side="right")) - 1
        return np.array(self.parts[part][i - self.starts[part]])  # a copy: torch wants writable memory

    def load(self) -> ImageSet:
        parts = [p[:max(0, len(self) - start)] for p, start in zip(self.parts, self.starts)]
        return ImageSet(np.concatenate(parts), self.labels, self.classes, self.source)


def decode_image(data, name) -> np.ndarray:
    """An encoded image (a path or a file object) -> uint8 HWC RGB; too large or undecodable is one clear error."""
    from PIL import Image, UnidentifiedImageError

    too_large = f"image {name} is too large: tinyee takes images up to {MAX_SIDE}x{MAX_SIDE} pixels; resize it"
    try:
        with Image.open(data) as im:
            if max(im.size) > MAX_SIDE:  # the header is read, the pixels not yet
                raise TinyeeError(f"{too_large} ({im.size[0]}x{im.size[1]})")
            return np.array(im.convert("RGB"))  # a writable copy, as torch wants
    except Image.DecompressionBombError:  # PIL's own limit, met while reading the header
        raise TinyeeError(too_large) from None
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise TinyeeError(f"cannot decode image {name}: {e}") from e


class FolderSource(Source):
    """An image folder: one file per image, decoded when it is read."""

    def __init__(self, files: list[Path], labels: np.ndarray, classes: list[str], source: str):
        self.files, self.labels, self.classes, self.source = files, labels, classes, source

    def image(self, i: int) -> np.ndarray:
        return decode_image(self.files[i], self.files[i])


def _read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte IDX file: memory-mapped, or decompressed into memory when gzipped."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = np.frombuffer(f.read(), dtype=np.uint8)
        else:
            data = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, EOFError, ValueError) as e:
        raise TinyeeError(f"cannot read IDX file {path}: {e}") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise TinyeeError(f"{path} is not an unsigned-byte IDX file")
    ndim = int(data[3])
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i].tobytes(), "big") for i in range(ndim)]
    body = data[4 + 4 * ndim:]
    if body.size != int(np.prod(dims)):
        raise TinyeeError(f"IDX file {path} is truncated: header says {dims}, found {body.size} values")
    return body.reshape(dims)


def _find(root: Path, stem: str) -> Path | None:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx(root: Path, split: str) -> Source | None:
    prefix = "train" if split == "train" else "t10k"
    img, lab = _find(root, f"{prefix}-images-idx3-ubyte"), _find(root, f"{prefix}-labels-idx1-ubyte")
    if not (img and lab):
        return None
    images, labels = _read_idx(img), _read_idx(lab)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise TinyeeError(f"IDX files in {root} disagree: images {images.shape}, labels {labels.shape}")
    is_fashion = "fashion" in str(root).lower()
    classes = FASHION_MNIST_CLASSES if is_fashion else [str(i) for i in range(10)]
    return ArraySource([images[..., None]], labels.astype(np.int64), classes, f"idx:{root}")


def _cifar_python(root: Path, split: str) -> Source | None:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if not all((root / n).is_file() for n in names):
        return None
    images, labels = [], []
    for n in names:  # pickled batches cannot be read in part: this layout is always read whole
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
    return ArraySource(images, np.concatenate(labels), classes, f"cifar10-python:{root}")


def _cifar_binary(root: Path, split: str) -> Source | None:
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    if not all((root / n).is_file() for n in names):
        return None
    record = 1 + 3 * 32 * 32
    images, labels = [], []
    for n in names:
        raw = np.memmap(root / n, dtype=np.uint8, mode="r")
        if raw.size % record:
            raise TinyeeError(f"CIFAR-10 binary batch {root / n} has {raw.size} bytes, not a multiple of {record}")
        raw = raw.reshape(-1, record)
        labels.append(raw[:, 0].astype(np.int64))
        images.append(raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    classes = [str(i) for i in range(10)]
    meta = root / "batches.meta.txt"
    if meta.is_file():
        classes = [line.strip() for line in meta.read_text().splitlines() if line.strip()]
    return ArraySource(images, np.concatenate(labels), classes, f"cifar10-binary:{root}")


def _image_folder(root: Path, split: str) -> Source | None:
    split_dirs = ["train"] if split == "train" else ["test", "val"]
    base = next((root / d for d in split_dirs if (root / d).is_dir()), None)
    if base is None:
        return None
    classes = sorted(p.name for p in base.iterdir() if p.is_dir())
    # Images directly in the split folder, without class sub-folders, are unlabelled (label -1):
    # enough for label-free copycat distillation of the exits.
    groups = [(label, base / cls) for label, cls in enumerate(classes)] or [(UNLABELLED, base)]
    files, labels = [], []
    for label, folder in groups:
        found = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        files += found
        labels += [label] * len(found)
    if not files:
        raise TinyeeError(f"image folder {base} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return FolderSource(files, np.asarray(labels, dtype=np.int64), classes, f"image-folder:{base}")


def _shards(root: Path, split: str) -> Source | None:
    from tinyee.data.shards import INDEX_NAME, open_shards

    return open_shards(root, split) if (root / INDEX_NAME).is_file() else None


OPENERS = (_shards, _idx, _cifar_python, _cifar_binary, _image_folder)


def open_source(root: Path | str, split: str = "train") -> Source:
    """Split 'train' or 'test' of a dataset directory, its layout detected; nothing is decoded yet."""
    root = Path(root)
    if split not in ("train", "test"):
        raise TinyeeError(f"unknown split {split!r} (train or test)")
    if not root.is_dir():
        raise TinyeeError(f"dataset directory not found: {root}")
    # CIFAR-10 archives unpack into a sub-folder; accept its parent as well.
    for candidate in (root, root / "cifar-10-batches-py", root / "cifar-10-batches-bin"):
        for opener in OPENERS:
            found = opener(candidate, split) if candidate.is_dir() else None
            if found is not None:
                check_labels(found.labels, found.classes, found.source)
                return found
    raise TinyeeError(f"{root} is not a dataset directory tinyee can read ({split} split); {LAYOUTS_HELP}")
