"""Native libraries (TensorFlow's converter and its absl logging, LiteRT's delegates, CUDA plugin
registration) write straight to the process's stdout and stderr file descriptors, where neither
Python nor TF_CPP_MIN_LOG_LEVEL reaches. Around those calls their output goes to a temporary file:
attached to the error when the call fails, passed through with `tinyee --verbose`. Python's own
output (tinyee's messages and progress) keeps going to the terminal meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from tinyee.errors import TinyeeError

VERBOSE_ENV = "TINYEE_VERBOSE"
ATTACHED_CHARS = 2000


@contextlib.contextmanager
def native_output_captured():
    if os.environ.get(VERBOSE_ENV):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    python_streams = sys.stdout, sys.stderr
    with tempfile.TemporaryFile() as sink:
        sys.stdout = os.fdopen(os.dup(saved[1]), "w", buffering=1)
        sys.stderr = os.fdopen(os.dup(saved[2]), "w", buffering=1)
        for fd in (1, 2):
            os.dup2(sink.fileno(), fd)
        try:
            yield
        except TinyeeError as e:
            sink.seek(0)
            native = sink.read().decode(errors="replace").strip()
            if native:
                raise TinyeeError(f"{e}\nnative output (last {ATTACHED_CHARS} characters):\n"
                                  f"{native[-ATTACHED_CHARS:]}") from e
            raise
        finally:
            for fd in (1, 2):
                os.dup2(saved[fd], fd)
                os.close(saved[fd])
            sys.stdout.close()
            sys.stderr.close()
            sys.stdout, sys.stderr = python_streams
