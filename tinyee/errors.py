"""The one exception type the CLI turns into a clear message and a non-zero exit."""


class TinyeeError(Exception):
    """A user-facing failure: bad input, a model that cannot be exported, a broken file."""
