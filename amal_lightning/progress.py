"""A progress bar over epochs, for the housing runs of hundreds of one-step epochs."""

import sys
import time
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import ProgressBar
from tqdm.auto import tqdm


class EpochProgressBar(ProgressBar):
    """One bar for the whole fit, advanced once per epoch, with the latest logged metrics.

    Full-batch gradient descent runs hundreds of epochs of a single step. Lightning's bar counts
    batches: it is reset and redrawn every epoch and opens a validation bar each time, about
    1.5 ms per epoch, as long as the epoch's own work. This one counts epochs and redraws at
    most every ``refresh_seconds``. It shows nothing for ``amal validate`` or ``amal test``,
    which take a fraction of a second on these data.

    Args:
        refresh_seconds: the shortest time between two redraws.
    """

    def __init__(self, refresh_seconds: float = 0.1) -> None:
        super().__init__()
        self.refresh_seconds = refresh_seconds
        self.enabled = True
        self.bar: Optional[tqdm] = None
        self._last_refresh = 0.0

    @property
    def is_enabled(self) -> bool:  # read by LightningModule.print
        return self.enabled

    @property
    def is_disabled(self) -> bool:
        return not self.enabled

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.enabled:
            return
        total = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs >= 0 else None
        self.bar = tqdm(
            desc="Training",
            unit="epoch",
            total=total,
            initial=trainer.current_epoch,  # a resumed run starts where it stopped
            mininterval=self.refresh_seconds,
            dynamic_ncols=True,
            file=sys.stdout,
        )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self._last_refresh >= self.refresh_seconds:
            self._last_refresh = now
            self.bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
        self.bar.update(1)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
            self.bar.close()
            self.bar = None

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Prints above the bar instead of through it."""
        if self.bar is None:
            print(*args, sep=sep, **kwargs)
            return
        kwargs.pop("flush", None)  # tqdm.write always flushes
        self.bar.write(sep.join(map(str, args)), **kwargs)
