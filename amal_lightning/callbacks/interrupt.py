"""Ctrl+C ends a fit at the end of its current step, as a finished run would end, and says it was interrupted.

Lightning's own handling of Ctrl+C tears the run down wherever it is and ends the process: a
caller (a study, a notebook) cannot tell an interruption from a failure, nor go on. Here the
first Ctrl+C asks the Trainer to stop (``trainer.should_stop``), so the step, the epoch's
checkpoints and the logs end as usual and the run's outcome says ``interrupted``; the same
command with ``--ckpt_path last`` resumes it. A second Ctrl+C stops at once, as Lightning does.
"""

import signal
import threading
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


class StopOnInterrupt(Callback):
    """The first SIGINT of a fit sets ``trainer.should_stop``; the second raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.interrupted = False
        self._trainer: Any = None
        self._previous: Any = None

    def _on_interrupt(self, signum: int, frame: Any) -> None:
        if self._trainer is None:  # its fit is over (Lightning puts this handler back after a failed fit)
            previous = self._previous if callable(self._previous) else signal.default_int_handler
            if self._previous != signal.SIG_IGN:
                previous(signum, frame)
            return
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        if self._trainer is not None:
            self._trainer.should_stop = True

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Signal handlers can only be set from the main thread (a fit run from another thread keeps Lightning's).
        if stage == "fit" and threading.current_thread() is threading.main_thread():
            self._trainer, self.interrupted = trainer, False
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.stop()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.stop()  # Lightning calls no teardown hook of a callback after an exception

    def stop(self) -> None:
        """The fit is over: Ctrl+C goes to the handler the process had before it, as if this one were gone."""
        if self._trainer is not None and self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        self._trainer = None
