"""The exceptions the CLI turns into one clear line and an exit code of their own."""


class TinyeeError(Exception):
    """A user-facing failure: bad input, a model that cannot be exported, a broken file."""
    exit_code = 1


class DoesNotFitError(TinyeeError):
    """The model does not fit the board's flash or RAM (the message has the numbers)."""
    exit_code = 3


class DeviceMismatchError(TinyeeError):
    """The board disagreed with the host, stopped answering, or samples were lost."""
    exit_code = 4


def first_line(e: Exception) -> str:
    """The gist of a library's exception (native ones carry pages of context), or its type when it says nothing."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
