"""Samples as the model sees them, for torch's DataLoader: from memory (small sets, converted once) or
streamed (decoded image by image in the loader's worker processes, so a large set never has to fit in
memory and the first batch comes after a batch's worth of decoding).

Augmentation (2-pixel random crop, horizontal flip) is drawn per sample from (seed, epoch, index), so a
sample gets the same augmentation whichever worker or rank reads it: a run on N processes sees exactly the
batches of a run on one, and a resumed run the batches of an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tinyee.data.datasets import to_model_input
from tinyee.data.imageset import ImageSet
from tinyee.data.layouts import Source
from tinyee.errors import TinyeeError

CROP_PAD = 2


def _mix(*values: int) -> int:
    """A 64-bit hash of a few integers (splitmix64 steps): cheap, and the same in every process."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return h ^ (h >> 29)


def augment(x: torch.Tensor, seed: int, epoch: int, index: int) -> torch.Tensor:
    """Random crop of the image padded by 2 pixels, and a horizontal flip with probability 1/2."""
    h = _mix(seed, epoch, index)
    span = 2 * CROP_PAD + 1
    dy, dx, flip = h % span, (h // span) % span, (h // span ** 2) & 1
    _, height, width = x.shape
    x = F.pad(x, (CROP_PAD,) * 4)[:, dy:dy + height, dx:dx + width]
    return x.flip(2) if flip else x


class ModelInputs(torch.utils.data.Dataset):
    """(float CHW tensor, label) per sample; `set_epoch` before each epoch when augmenting."""

    def __init__(self, data: ImageSet | Source, input_size: int, in_channels: int, stream: bool,
                 augment_seed: int | None = None):
        self.data, self.size, self.channels = data, input_size, in_channels
        self.labels = torch.from_numpy(np.asarray(data.labels, dtype=np.int64))
        self.seed, self.epoch = augment_seed, 0
        self.memory = None
        if not stream or isinstance(data, ImageSet):  # a set already in memory is converted once
            images = data.images if isinstance(data, ImageSet) else data.load().images
            self.memory = to_model_input(images, input_size, in_channels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def plain(self, i: int) -> torch.Tensor:
        """Sample i without augmentation."""
        if self.memory is not None:
            return self.memory[i]
        return to_model_input(self.data.image(i)[None], self.size, self.channels)[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.plain(i)
        if self.seed is not None:
            x = augment(x, self.seed, self.epoch, i)
        return x, self.labels[i]


def loader(inputs: ModelInputs, batch_size: int, sampler=None, workers: int = 0) -> torch.utils.data.DataLoader:
    """Batches in the sampler's order (the test set in file order without one)."""
    return torch.utils.data.DataLoader(inputs, batch_size=batch_size, sampler=sampler, shuffle=False,
                                       num_workers=workers, persistent_workers=workers > 0,
                                       pin_memory=torch.cuda.is_available())


def batches(batch_loader: torch.utils.data.DataLoader):
    """The loader's batches; a tinyee error in a worker process surfaces as its own one-line message."""
    try:
        yield from batch_loader
    except TinyeeError as e:
        text = str(e).strip()
        if not text.startswith("Caught "):  # raised in this process: already one line
            raise
        raise TinyeeError(text.splitlines()[-1].split("TinyeeError: ", 1)[-1]) from None
