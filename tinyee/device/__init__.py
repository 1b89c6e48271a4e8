"""The host side of the firmware's framed UART protocol (firmware/PROTOCOL.md), over any pyserial port:
frames (framing), resending until a valid answer (transport), the commands (protocol)."""

from tinyee.device.protocol import DeviceError, DeviceLink, InferResult

__all__ = ["DeviceError", "DeviceLink", "InferResult"]
