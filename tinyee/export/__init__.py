"""Export: multi-exit model -> one full-integer int8 TFLite model per exit segment + manifest."""

from tinyee.export.manifest import load_manifest
from tinyee.export.ops import FIRMWARE_INT8_OPS
from tinyee.export.pipeline import export_checkpoint, export_model

__all__ = ["export_checkpoint", "export_model", "load_manifest", "FIRMWARE_INT8_OPS"]
