"""The host side of the firmware's framed UART protocol (firmware/PROTOCOL.md), over any pyserial port."""

from tinyee.device.protocol import DeviceError, DeviceLink, InferResult

__all__ = ["DeviceError", "DeviceLink", "InferResult"]
