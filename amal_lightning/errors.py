"""The one exception type that the ``amal`` command reports as a single line, without a traceback."""


class AmalError(Exception):
    """Bad input from the user: a malformed file, a missing data set, an unusable checkpoint.

    The message must say what is wrong and where (a path, a line number, an option), because
    it is all the user will see.
    """


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type's name), to quote inside an AmalError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
