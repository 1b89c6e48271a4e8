"""A software twin of the firmware for fault-injection tests: speaks the UART protocol on a
local TCP port (pyserial opens it as socket://) and answers with the generated C, compiled
natively, so its exits and classes are the device's. Faults: corrupt every n-th answer,
fall silent after some commands, claim another model id."""

from __future__ import annotations

import socket
import threading
import zlib

import numpy as np

from tinyee.device.protocol import frame


class FakeDevice:
    def __init__(self, runner, segments, thresholds_q, model_id, corrupt_every=0, silent_after=None):
        self.runner, self.segments = runner, segments
        self.thresholds = list(thresholds_q) + [-128]
        self.model_id, self.corrupt_every, self.silent_after = model_id, corrupt_every, silent_after
        first = segments[0].model.inputs[0]
        self.input = bytearray(first.nbytes)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.url = f"socket://127.0.0.1:{self.server.getsockname()[1]}"
        self.answers = self.commands = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _send(self, conn, text):
        data = frame(text)
        self.answers += 1
        if self.corrupt_every and self.answers % self.corrupt_every == 0:
            data = data[:4] + bytes([data[4] ^ 0x20]) + data[5:]  # one flipped bit: the checksum no longer matches
        conn.sendall(data)

    def _infer(self, force):
        seg0 = self.segments[0]
        self.runner.write(seg0, seg0.model.inputs[0].index, np.frombuffer(bytes(self.input), np.int8))
        for k, seg in enumerate(self.segments):
            self.runner.run(k)
            probs = self.runner.view(seg, seg.probs_tensor).reshape(-1)
            best = int(np.argmax(probs))
            if (k == force) if force >= 0 else probs[best] >= self.thresholds[k]:
                break
        ticks = ",".join(str(1000 * (i + 1)) for i in range(k + 1))
        return (f"m-result exit={k} class={best} conf={int(probs[best])} crc={zlib.crc32(bytes(self.input)):08X} "
                f"ticks={ticks} runs=1")

    def _serve(self):
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as rx:
            self._send(conn, "m-ready")
            for raw in rx:
                self.commands += 1
                if self.silent_after is not None and self.commands > self.silent_after:
                    continue
                line = raw.decode().strip()
                text = line[:-3]
                if len(line) < 3 or line[-3] != "*" or frame(text).decode().strip() != line:
                    self._send(conn, "m-error bad-frame")
                elif text == "id":
                    self._send(conn, f"m-id model={self.model_id} board=twin segments={len(self.segments)} classes=10")
                elif text.startswith("db "):
                    _, off, hexdata = text.split(" ")
                    chunk = bytes.fromhex(hexdata)
                    self.input[int(off):int(off) + len(chunk)] = chunk
                    self._send(conn, f"m-ok db {off} {len(chunk)}")
                elif text.startswith("infer"):
                    self._send(conn, self._infer(int(text[6:].split()[0]) if len(text) > 5 else -1))
                else:
                    self._send(conn, "m-error unknown-command")

    def close(self):
        self.server.close()
