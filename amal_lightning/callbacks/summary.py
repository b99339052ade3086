"""What a fit did, remembered as it goes: its best validation epoch and metrics, why it stopped, and
its ``run.json`` (:mod:`amal_lightning.runs.record`, its outcome so far) kept up to date for ``amal runs``."""

import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer

from amal_lightning.callbacks.interrupt import StopOnInterrupt
from amal_lightning.errors import DivergedError
from amal_lightning.runs.claims import this_holder
from amal_lightning.runs.outcome import DIVERGED, FAILED, INTERRUPTED, RUNNING, Outcome
from amal_lightning.runs.record import write_run_record


def metrics_of(trainer: L.Trainer, *prefixes: str) -> dict[str, float]:
    """The trainer's current metrics whose names start with one of ``prefixes``, as floats."""
    return {
        name: float(value)
        for name, value in trainer.callback_metrics.items()
        if name.startswith(prefixes) and getattr(value, "numel", lambda: 1)() == 1
    }


class FitSummary(Callback):
    """Remembers what a fit did (its best validation epoch, why it stopped), for the run's outcome.

    The best epoch is the one with the lowest ``val/loss``, the metric that ``best.ckpt`` keeps; it
    is saved in the checkpoints, so that a resumed fit still knows its earlier best. With a
    ``run_dir``, the fit's ``run.json`` there says how it goes (written by the first process only).
    """

    def __init__(self, run_dir: Optional[Path] = None, monitor: str = "val/loss", min_interval_s: float = 1.0) -> None:
        self.run_dir = run_dir
        self.min_interval_s = min_interval_s
        self.written_at = -math.inf
        self.holder: dict[str, Any] = {}
        self.monitor = monitor
        self.best_score = math.inf
        self.best_epoch: Optional[int] = None
        self.best_metrics: dict[str, float] = {}
        self.started_at = time.monotonic()
        self.first_epoch = 0

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "best_metrics": self.best_metrics}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = float(state_dict.get("best_score", math.inf))
        self.best_epoch = state_dict.get("best_epoch")
        self.best_metrics = dict(state_dict.get("best_metrics") or {})

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started_at = time.monotonic()
        self.first_epoch = trainer.current_epoch
        self.holder = this_holder()
        self.write_record(trainer, RUNNING)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if time.monotonic() - self.written_at >= self.min_interval_s:  # housing epochs last milliseconds
            self.write_record(trainer, RUNNING)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, DivergedError):
            self.write_record(trainer, DIVERGED, str(exception))
        elif isinstance(exception, KeyboardInterrupt):
            self.write_record(trainer, INTERRUPTED, "interrupted")
        else:
            self.write_record(trainer, FAILED, f"{type(exception).__name__}: {exception}".splitlines()[0])

    def progress(self, trainer: L.Trainer, status: str, reason: str = "", **fields: Any) -> Outcome:
        """The fit's outcome so far: its status now, its epochs, its best; in ``run_dir`` unless ``fields`` (which
        override what is counted here) say where."""
        where = {} if self.run_dir is None else {"experiment": self.run_dir.parent.name, "run": self.run_dir.name}
        counted: dict[str, Any] = dict(
            command="fit",
            status=status,
            reason=reason,
            **where,
            checkpoint_dir=self.run_dir,
            epochs=trainer.current_epoch - self.first_epoch,
            steps=trainer.global_step,
            seconds=time.monotonic() - self.started_at,
            final_metrics=metrics_of(trainer, "train/", "val/"),
            best_epoch=self.best_epoch,
            best_metrics=dict(self.best_metrics),
            first_epoch=self.first_epoch,
            max_epochs=trainer.max_epochs,
            max_steps=trainer.max_steps,
            monitor=self.monitor,
        )
        return Outcome(**{**counted, **fields})

    def write_record(self, trainer: L.Trainer, status: str, reason: str = "") -> None:
        """Writes the fit's ``run.json``: its outcome so far (the first process only)."""
        if self.run_dir is not None and trainer.is_global_zero:
            self.save(self.progress(trainer, status, reason))

    def save(self, outcome: Outcome) -> None:
        """Writes ``outcome`` as the fit's ``run.json``, saying who runs it and when (``run_dir`` set)."""
        if self.run_dir is None:
            return
        self.written_at = time.monotonic()
        holder = self.holder or this_holder()
        write_run_record(self.run_dir, dataclasses.replace(outcome, holder=holder, updated=time.time()))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or score is None or not float(score) < self.best_score:
            return
        self.best_score, self.best_epoch = float(score), trainer.current_epoch
        self.best_metrics = metrics_of(trainer, "val/")

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
