"""Native code that trusts its input (TFLite Micro's and LiteRT's interpreters) meets a user's model first
in a child process: a crash there (SIGFPE, SIGSEGV, abort) becomes one clear error instead of ending
tinyee with results not yet written. Lowering's checks come first and should leave nothing to crash on;
this is the net under them.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
from typing import Callable

from tinyee.errors import TinyeeError


def run_in_child(probe: Callable[[], None], what: str) -> None:
    """Run probe() in a forked child; raise TinyeeError naming `what` if the child dies of a signal. An
    ordinary exception in the child is left for the caller to meet (and report) in its own process."""
    if not hasattr(os, "fork"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: no Python clean-up, no atexit handlers of the parent's
        faulthandler.disable()  # the parent reports the signal in one line
        try:
            probe()
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise TinyeeError(f"{what} crashed on this model ({name}); tinyee's checks did not catch the cause: "
                          "the model is damaged or uses the op in a way its kernel cannot take")
