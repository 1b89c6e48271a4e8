"""Talking to boards: the framed UART protocol and emulated boards under QEMU."""

from tinyee.device.protocol import DeviceError, DeviceLink, InferResult
from tinyee.device.qemu import QemuBoard

__all__ = ["DeviceError", "DeviceLink", "InferResult", "QemuBoard"]
