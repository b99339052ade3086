"""What a fit did, remembered as it goes: its best validation epoch and metrics, and why it stopped."""

import math
import time
from typing import Optional

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer

from amal_lightning.callbacks.interrupt import StopOnInterrupt


class FitSummary(Callback):
    """Remembers what a fit did (its best validation epoch, why it stopped), for the run's outcome.

    The best epoch is the one with the lowest ``val/loss``, the metric that ``best.ckpt`` keeps.
    """

    def __init__(self, monitor: str = "val/loss") -> None:
        self.monitor = monitor
        self.best_score = math.inf
        self.best_epoch: Optional[int] = None
        self.best_metrics: dict[str, float] = {}
        self.started_at = time.monotonic()
        self.first_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started_at = time.monotonic()
        self.first_epoch = trainer.current_epoch

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or score is None or not float(score) < self.best_score:
            return
        self.best_score, self.best_epoch = float(score), trainer.current_epoch
        self.best_metrics = {
            name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("val/")
        }

    def stop_reason(self, trainer: L.Trainer) -> str:
        for callback in trainer.callbacks:
            if isinstance(callback, EarlyStopping) and callback.stopped_epoch > 0:
                return f"early stopping on {callback.monitor}"
            if isinstance(callback, Timer) and callback.time_remaining() is not None and callback.time_remaining() <= 0:
                return "time limit reached"
        if trainer.interrupted or any(
            isinstance(callback, StopOnInterrupt) and callback.interrupted for callback in trainer.callbacks
        ):
            return "interrupted"
        if trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
            return f"max_steps={trainer.max_steps} reached"
        return f"max_epochs={trainer.max_epochs} reached"
