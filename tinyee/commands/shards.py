"""`tinyee shards`: a data set as tar shards for streaming."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import log, result
from tinyee.errors import TinyeeError
from tinyee.fileio import check_writable


def run(data_dir: Path, out: Path, shard_size: int) -> None:
    from tinyee.data.shards import INDEX_NAME, write_shards

    check_writable(out)
    if out.is_dir() and any(out.iterdir()) and not (out / INDEX_NAME).is_file():
        raise TinyeeError(f"{out} is a folder with other files in it: give a new or empty folder for the shards")
    index = write_shards(data_dir, out, shard_size, log=log.print)
    for split, shards in index["splits"].items():
        result(f"{split}: {sum(len(s['samples']) for s in shards):,} samples in {len(shards)} shards")
    result(f"index: {out / INDEX_NAME}")
