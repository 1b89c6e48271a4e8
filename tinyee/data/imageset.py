"""The in-memory image set every evaluating command reads: uint8 NHWC images, labels, class names."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tinyee.errors import TinyeeError

UNLABELLED = -1
MAX_SIDE = 4096  # pixels; larger files are refused before they are decoded (decompression bombs)


def check_labels(labels, classes: list[str], source: str) -> None:
    """Labels as tinyee needs them, wherever a data set enters (in memory or streamed)."""
    if not (isinstance(labels, np.ndarray) and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)):
        raise TinyeeError(f"{source}: labels must be a 1-D integer array, not "
                          f"{getattr(labels, 'dtype', type(labels).__name__)} {list(getattr(labels, 'shape', []))}")
    if len(labels) == 0:
        raise TinyeeError(f"{source} holds no images")
    if (labels < UNLABELLED).any() or (len(classes) and (labels >= len(classes)).any()):
        raise TinyeeError(f"{source}: labels must lie in 0..{len(classes) - 1} (or -1 for unlabelled)")


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
        check_labels(lab, self.classes, self.source)
        if len(lab) != len(im):
            raise TinyeeError(f"{self.source}: {len(im)} images need as many labels, found {len(lab)}")

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, n: int | None) -> "ImageSet":
        if n is None:
            return self
        if n < 1:
            raise TinyeeError(f"{n} samples: give a positive number")
        return dataclasses.replace(self, images=self.images[:n], labels=self.labels[:n])
