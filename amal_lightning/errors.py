"""The one exception type that the ``amal`` command reports as a single line, without a traceback."""

from typing import Optional

from lightning.pytorch.utilities.exceptions import MisconfigurationException


class AmalError(Exception):
    """Bad input from the user: a malformed file, a missing data set, an unusable checkpoint.

    The message must say what is wrong and where (a path, a line number, an option), because
    it is all the user will see. ``amal`` exits with ``exit_status``.
    """

    exit_status = 1


class UsageError(AmalError):
    """An option that cannot be used, found after parsing (a Trainer option Lightning refuses)."""

    exit_status = 2


def user_error(error: BaseException) -> Optional[AmalError]:
    """The AmalError behind ``error``: itself, one that jsonargparse wrapped while building a class,
    or Lightning's refusal of a Trainer option (``--trainer.max_epochs -5``); None for a bug."""
    if isinstance(error, MisconfigurationException):
        return UsageError(" ".join(str(error).split()))
    cause: Optional[BaseException] = error
    while cause is not None and not isinstance(cause, AmalError):
        cause = cause.__cause__
    return cause


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type's name), to quote inside an AmalError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
