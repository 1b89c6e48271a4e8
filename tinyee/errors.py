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
