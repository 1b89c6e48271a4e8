"""The export manifest: what every later stage (eval, firmware build, bench) reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tinyee.errors import TinyeeError

FORMAT = "tinyee-manifest-v1"
MANIFEST_NAME = "manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_manifest(export_dir: Path) -> dict:
    """Read and verify a manifest: format, and every segment file present with its recorded hash."""
    export_dir = Path(export_dir)
    path = export_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise TinyeeError(f"no {MANIFEST_NAME} in {export_dir}; run `tinyee export` first") from e
    except (OSError, json.JSONDecodeError) as e:
        raise TinyeeError(f"{path} is not a readable manifest: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TinyeeError(f"{path} is not a tinyee manifest (expected format {FORMAT!r})")
    for seg in manifest["segments"]:
        f = export_dir / seg["file"]
        if not f.is_file():
            raise TinyeeError(f"segment file {f} listed in {path} is missing")
        if sha256(f.read_bytes()) != seg["sha256"]:
            raise TinyeeError(f"segment file {f} does not match the hash in {path}; re-run `tinyee export`")
    return manifest


def write_manifest(export_dir: Path, manifest: dict) -> None:
    (Path(export_dir) / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
