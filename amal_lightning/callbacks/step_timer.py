"""The seconds a fit spends inside its training steps, logged once per epoch as ``time/train_seconds``.

Wall-clock time (the event files' own timestamps) also counts validation, checkpoints, logging and
the start of the run; this counts the training steps alone, so that two variants can be compared
on what they change.
"""

import time
from typing import Any, Optional

import lightning as L

from amal_lightning.base_module import log_epoch_points

METRIC = "time/train_seconds"


class TrainStepTimer(L.Callback):
    """Sums the wall-clock seconds from each ``on_train_batch_start`` to its ``on_train_batch_end``.

    The count is cumulative over the run, a resumed run continuing it (it travels in the
    checkpoints through :meth:`state_dict`), and is logged at the end of each training epoch as
    ``time/train_seconds`` to every logger. Each step costs it two ``time.perf_counter()`` calls.
    What it counts: the forward and backward passes, the optimizer step and the hooks called
    between (amal puts it first among the callbacks, so that the other callbacks' batch-end hooks,
    a checkpoint or the progress bar, fall outside); the fetch of the batch and its copy to the
    device come before the first hook and are not counted.

    It measures on the host only: on a GPU nothing here synchronizes with the device (a
    synchronization per step would slow the very steps it measures). A step's seconds are then
    what the host spent issuing its work; the host waits for the GPU only where it must (a value
    read back, a full launch queue), so the count can fall short of the device's work by what is
    still queued when a step ends.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0
        self._started: Optional[float] = None

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._started = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log_epoch_points(trainer, {METRIC: self.seconds})  # a curve only: nothing watches it

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.seconds = float(state_dict.get("seconds", 0.0))
