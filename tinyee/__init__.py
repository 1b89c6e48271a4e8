"""tinyee: early-exit vision models from PyTorch to int8 microcontroller firmware.

Data flow: model (``tinyee.model``) -> int8 segments (``tinyee.export``) ->
host cascade evaluation (``tinyee.eval``).
"""

__version__ = "0.1.0"
