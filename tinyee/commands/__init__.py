"""One module per `tinyee` command: what the command does, called by the argument parser in tinyee/cli.py.

Results go to stdout (tables), progress and messages to stderr (tinyee.commands.console).
"""

from tinyee.commands import (
    analyze, bench, boards, build, calibrate, data_subset, demo, evaluate, export, farm, flash, generate, import_model, profile, shards,
    train, validate,
)

__all__ = ["analyze", "bench", "boards", "build", "calibrate", "data_subset", "demo", "evaluate", "export", "farm", "flash", "generate",
           "import_model", "profile", "shards", "train", "validate"]
