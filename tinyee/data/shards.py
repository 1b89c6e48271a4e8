"""Tar shards in WebDataset's layout for large data sets: `<key>.png` (or the source file's own encoding)
plus `<key>.cls` (the label) per sample, a few thousand samples per `.tar`, and `shards.json` listing
each member's offset so that any sample is read with one seek (shuffled training, several workers).

The shards are ordinary tar files: `tar tf` lists them and WebDataset reads them as they are.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np

from tinyee.data.layouts import FolderSource, Source, decode_image, open_source
from tinyee.errors import TinyeeError
from tinyee.fileio import atomic_write, atomic_write_text

INDEX_NAME = "shards.json"
FORMAT = "tinyee-shards-v1"


def _encoded(source: Source, i: int) -> tuple[bytes, str]:
    """A sample's bytes: an image file as it is, decoded arrays as PNG (lossless)."""
    if isinstance(source, FolderSource):
        return source.files[i].read_bytes(), source.files[i].suffix.lower()
    from PIL import Image

    buf = io.BytesIO()
    image = source.image(i)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buf, format="PNG")
    return buf.getvalue(), ".png"


def _write_shard(path: Path, source: Source, indices: range) -> list[list]:
    """One tar of the samples `indices`; returns [member, data offset, size, label] per sample."""
    entries = []

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in indices:
                data, suffix = _encoded(source, i)
                label = int(source.labels[i])
                image_name = f"{i:09d}{suffix}"
                for name, payload in ((image_name, data), (f"{i:09d}.cls", str(label).encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(payload)
                    header_at = tar.offset  # short names: the USTAR header is one block
                    tar.addfile(info, io.BytesIO(payload))
                    if name == image_name:
                        entries.append([name, header_at + tarfile.BLOCKSIZE, len(payload), label])

    atomic_write(path, write)
    return entries


def write_shards(data_dir: Path, out: Path, shard_size: int, log=print) -> dict:
    """Both splits of a data set (any layout tinyee reads) as tar shards plus their index in `out`."""
    index = {"format": FORMAT, "source": str(Path(data_dir).resolve()), "splits": {}}
    for split in ("train", "test"):
        try:
            source = open_source(data_dir, split)
        except TinyeeError:
            if split == "train":
                raise
            continue  # a data set without a test split (unlabelled images for distillation)
        index["classes"] = index.get("classes") or source.classes
        shards = []
        for start in range(0, len(source), shard_size):
            name = f"{split}-{start // shard_size:06d}.tar"
            shards.append({"file": name, "samples": _write_shard(out / name, source,
                                                                 range(start, min(start + shard_size, len(source))))})
            log(f"{split}: {name} ({len(shards[-1]['samples'])} samples)")
        index["splits"][split] = shards
    atomic_write_text(out / INDEX_NAME, json.dumps(index) + "\n")
    return index


class ShardSource(Source):
    """One split of a sharded data set; a sample is one seek and one read in its shard."""

    def __init__(self, root: Path, shards: list[dict], classes: list[str]):
        self.root, self.classes, self.source = root, classes, f"shards:{root}"
        self.members = [(s["file"], m[0], int(m[1]), int(m[2])) for s in shards for m in s["samples"]]
        self.labels = np.asarray([int(m[3]) for s in shards for m in s["samples"]], dtype=np.int64)
        self._fds: dict[str, int] = {}  # shard file descriptors, read with pread: forked workers may share them

    def __getstate__(self):  # workers started by spawn open their own
        return {**self.__dict__, "_fds": {}}

    def image(self, i: int) -> np.ndarray:
        file, name, offset, size = self.members[i]
        fd = self._fds.get(file)
        try:
            if fd is None:
                fd = self._fds[file] = os.open(self.root / file, os.O_RDONLY)
            data = os.pread(fd, size, offset)  # no shared file position: safe in every process
        except OSError as e:
            raise TinyeeError(f"cannot read shard {self.root / file}: {e.strerror or e}") from e
        if len(data) != size:
            raise TinyeeError(f"shard {self.root / file} is truncated at member {name}")
        return decode_image(io.BytesIO(data), f"{name} in {self.root / file}")


def open_shards(root: Path, split: str) -> Source:
    try:
        index = json.loads((root / INDEX_NAME).read_text())
        shards, classes = index["splits"].get(split), list(index["classes"])
        if index.get("format") != FORMAT or not isinstance(shards, (list, type(None))):
            raise ValueError(f"format {index.get('format')!r}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise TinyeeError(f"{root / INDEX_NAME} is not a tinyee shard index ({e})") from e
    if not shards:
        raise TinyeeError(f"{root / INDEX_NAME} has no {split} split")
    try:
        return ShardSource(root, shards, classes)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise TinyeeError(f"{root / INDEX_NAME}: malformed shard entry ({e})") from e
