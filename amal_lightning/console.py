"""What ``amal`` prints: Lightning's boilerplate left out, and a summary of each fit.

Every run used to print what hardware is (not) available, a tip to install another package,
and warnings that are expected here (a test of a checkpoint from another run folder, a resumed
run going on in its non-empty folder): they read like errors and hid what mattered. A fit now
ends with what it did: why it stopped, its best validation metrics, its test metrics, where
its files are and how to look at its curves.
"""

import logging
import math
import time
import warnings
from pathlib import Path
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer
from lightning.pytorch.loggers import TensorBoardLogger

from amal_lightning.runs import RunPlan

# Lines of Lightning's own logging that say nothing about this run.
BOILERPLATE = (
    "GPU available",
    "TPU available",
    "HPU available",
    "💡 Tip",
    "You are using a CUDA device",
    "`Trainer.fit` stopped",  # the fit's summary says why it stopped
)
# Warnings that are expected in amal's run folders, with the reason.
EXPECTED_WARNINGS = (
    r".*The dirpath has changed from.*",  # `amal test` of another run's checkpoint logs to a run of its own
    r".*Checkpoint directory .* exists and is not empty.*",  # a resumed fit goes on in its own folder
    r".*does not have many workers.*",  # in-memory tensors fetched a batch at a time: workers only add copies
    r".*configure_optimizers. returned .None.*",  # the gradient-descent modules update their weights themselves
    r".*smaller than the logging interval.*",  # the modules log epoch means only
    r".*isinstance\(treespec, LeafSpec\).*",  # raised inside Lightning by newer torch releases
)


class _DropBoilerplate(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(BOILERPLATE)


def quiet_lightning() -> None:
    """Leaves Lightning's boilerplate lines and the expected warnings out of ``amal``'s output."""
    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric"):
        logging.getLogger(name).addFilter(_DropBoilerplate())
    for pattern in EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def _number(value: Any) -> str:
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def format_metrics(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{name} {_number(value)}" for name, value in sorted(metrics.items()))


class FitSummary(Callback):
    """Remembers what a fit did (its best validation epoch, why it stopped), for :meth:`lines`.

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
        if trainer.interrupted:
            return "interrupted"
        if trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
            return f"max_steps={trainer.max_steps} reached"
        return f"max_epochs={trainer.max_epochs} reached"

    def lines(self, trainer: L.Trainer, plan: RunPlan, tested: Optional[Path], test_metrics: dict[str, Any]) -> list:
        """The summary printed at the end of ``amal fit``."""
        epochs = trainer.current_epoch - self.first_epoch
        seconds = time.monotonic() - self.started_at
        lines = [f"Fit: {epochs} epochs in {seconds:.0f} s ({self.stop_reason(trainer)}), {trainer.global_step} steps"]
        if self.best_epoch is not None:
            lines.append(f"  best validation (epoch {self.best_epoch}): {format_metrics(self.best_metrics)}")
        if tested is not None:
            lines.append(f"  test of {tested.name}: {format_metrics(test_metrics)}")
        lines.append(f"  checkpoints: {plan.checkpoint_dir}/")
        if isinstance(trainer.logger, TensorBoardLogger):
            lines.append(f"  logs:        {plan.log_dir}/  (curves: tensorboard --logdir {plan.log_dir.parent})")
        elif trainer.log_dir is not None:
            lines.append(f"  logs:        {trainer.log_dir}/")
        return lines
