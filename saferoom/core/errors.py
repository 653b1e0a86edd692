"""The one exception an action raises when it refuses: its message is for the person."""

from __future__ import annotations


class ActionRefused(Exception):
    """A business rule refused the write. Nothing was changed; ``message`` says what to do."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
