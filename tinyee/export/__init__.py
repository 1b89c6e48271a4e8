"""Export: multi-exit model -> one full-integer int8 TFLite model per exit segment + manifest."""

from tinyee.compile.ops import SUPPORTED_OPS as FIRMWARE_INT8_OPS
from tinyee.export.pipeline import export_checkpoint, export_model

__all__ = ["export_checkpoint", "export_model", "FIRMWARE_INT8_OPS"]
