import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CHECKPOINT = REPO / "models" / "mcu-fashion-mnist" / "checkpoint.pt"


@pytest.fixture(scope="session")
def shipped_export(tmp_path_factory):
    """The shipped checkpoint exported once per test session with the shipped calibration data."""
    from tinyee.data import load_shipped
    from tinyee.export import export_checkpoint
    from tinyee.model import load_checkpoint

    out = tmp_path_factory.mktemp("export") / "shipped"
    manifest = export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), out)
    return out, manifest, load_checkpoint(SHIPPED_CHECKPOINT)[0]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
