"""The one exception type the package raises for problems a user can fix."""


class FastNSTError(Exception):
    """An error with a message meant for users; entry points print it and exit non-zero.

    ``exit_code`` lets the entry points tell bad input or setup (2) from a failed run (1).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (or its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
