"""The one exception type that the ``amal`` command reports as a single line, without a traceback."""


class AmalError(Exception):
    """Bad input from the user: a malformed file, a missing data set, an unusable checkpoint.

    The message must say what is wrong and where (a path, a line number, an option), because
    it is all the user will see.
    """
