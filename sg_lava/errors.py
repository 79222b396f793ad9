"""The one exception type that the command line reports as a single line."""

from __future__ import annotations


class UserError(Exception):
    """An expected failure caused by input (a bad file, a bad argument).

    The CLI prints ``<prog>: error: <message>`` on stderr and exits with ``exit_code``
    instead of showing a traceback.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
