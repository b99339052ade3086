"""The TensorBoard logger of ``amal`` runs."""

import math
import time
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger


class BufferedTensorBoardLogger(TensorBoardLogger):
    """A TensorBoard logger that writes its event file to disk at most every ``min_interval_s``.

    Lightning calls ``save()`` after each logging call, and TensorBoard's waits until its writer
    thread has emptied its queue: in housing runs whose epochs last a few milliseconds, that
    wait is a large part of an epoch (docs/PERFORMANCE.md). The writer thread itself still writes
    what is pending every ``min_interval_s`` (its ``flush_secs``), without holding training up,
    and the end of the run (``finalize``) writes everything.
    """

    def __init__(self, *args: Any, min_interval_s: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("flush_secs", max(1, round(min_interval_s)))
        super().__init__(*args, **kwargs)
        self.min_interval_s = min_interval_s
        self.saved_at = -math.inf

    def save(self) -> None:
        if time.monotonic() - self.saved_at >= self.min_interval_s:
            self.saved_at = time.monotonic()
            super().save()
