"""The project's typed errors: what went wrong for a reason the user can act on, said in one line.

The run function (:mod:`amal_lightning.api`) and the commands raise them; only the command-line
entry (:mod:`amal_lightning.command_line.main`) prints them, as ``amal: error: <message>``, and
exits with their ``exit_status``. This module imports neither torch nor Lightning, so that the
commands that train nothing start at once.
"""

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, Optional

# The exit status of `amal fit` for a diverged run, apart from 1 (bad input) and 2 (usage).
DIVERGED_EXIT_STATUS = 3
INTERRUPTED_EXIT_STATUS = 130  # the shell's status for Ctrl+C


class AmalError(Exception):
    """Bad input from the user: a malformed file, a missing data set, an unusable checkpoint.

    The message must say what is wrong and where (a path, a line number, an option), because
    it is all the user will see. ``amal`` exits with ``exit_status``.
    """

    exit_status = 1
    # What the run had done when the error stopped it, where a run had started (set by amal_lightning.api).
    outcome: Optional[Any] = None


class UsageError(AmalError):
    """An option that cannot be used: refused by the parser, or found unusable after parsing.

    ``hint`` says where to look next (``all options: amal fit --help``); ``amal`` prints it on a
    second line, indented.
    """

    exit_status = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class DivergedError(AmalError):
    """Training produced a non-finite loss or weights, or a training loss past the divergence bound."""

    exit_status = DIVERGED_EXIT_STATUS

    def __init__(self, epoch: int, metric: str, value: float, bound: Optional[float] = None) -> None:
        past = "" if bound is None else f", past the bound {bound:.4g}"
        super().__init__(
            f"training diverged at epoch {epoch} ({metric} = {value:.4g}{past}): try a smaller learning rate"
        )
        self.epoch, self.metric, self.value, self.bound = epoch, metric, value, bound


class OutOfDeviceMemoryError(AmalError):
    """The GPU ran out of memory: the batch or the model is too large for it, not a bug.

    torch's message goes on for several sentences about the allocator; its first two (what was
    asked for) are kept, with what the user can change.
    """

    def __init__(self, error: BaseException) -> None:
        sentences = [part.strip() for part in str(error).split(". ") if part.strip()]
        said = ". ".join(sentences[:2]).rstrip(".") or "out of memory"
        super().__init__(f"{said}: try a smaller --data.batch_size or a smaller model")


def user_error(error: BaseException) -> Optional[AmalError]:
    """The AmalError behind ``error``: itself, one that jsonargparse wrapped while building a class,
    Lightning's refusal of a Trainer option (``--trainer.max_epochs -5``) or a GPU out of memory;
    None for a bug."""
    cause: Optional[BaseException] = error
    while cause is not None and not isinstance(cause, AmalError):
        cause = cause.__cause__
    if cause is not None:
        return cause
    # Taken from the modules already loaded: an error of torch or Lightning comes from a process that
    # imported them, and importing them here would slow every command that trains nothing.
    lightning_errors = sys.modules.get("lightning.fabric.utilities.exceptions")
    if lightning_errors is not None and isinstance(error, lightning_errors.MisconfigurationException):
        return UsageError(" ".join(str(error).split()))
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return OutOfDeviceMemoryError(error)
    return None


@contextlib.contextmanager
def as_user_errors() -> Iterator[None]:
    """Raises, for an error inside, the AmalError behind it (:func:`user_error`) in one line; a bug as it is."""
    try:
        yield
    except Exception as error:
        reported = user_error(error)
        if reported is None:
            raise
        raise reported from None


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type's name), to quote inside an AmalError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
