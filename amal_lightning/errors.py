"""The one exception type that the ``amal`` command reports as a single line, without a traceback."""

from typing import Optional

import torch
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


class OutOfDeviceMemoryError(AmalError):
    """The GPU ran out of memory: the batch or the model is too large for it, not a bug.

    torch's message goes on for several sentences about the allocator; its first two (what was
    asked for) are kept, with what the user can change.
    """

    def __init__(self, error: torch.cuda.OutOfMemoryError) -> None:
        sentences = [part.strip() for part in str(error).split(". ") if part.strip()]
        said = ". ".join(sentences[:2]).rstrip(".") or "out of memory"
        super().__init__(f"{said}: try a smaller --data.batch_size or a smaller model")


def user_error(error: BaseException) -> Optional[AmalError]:
    """The AmalError behind ``error``: itself, one that jsonargparse wrapped while building a class,
    Lightning's refusal of a Trainer option (``--trainer.max_epochs -5``) or a GPU out of memory;
    None for a bug."""
    if isinstance(error, MisconfigurationException):
        return UsageError(" ".join(str(error).split()))
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return OutOfDeviceMemoryError(error)
    cause: Optional[BaseException] = error
    while cause is not None and not isinstance(cause, AmalError):
        cause = cause.__cause__
    return cause


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type's name), to quote inside an AmalError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
