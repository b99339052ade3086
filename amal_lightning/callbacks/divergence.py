"""Divergence stops a run at once, says so in one line, and leaves a mark in its run folder.

A step size too large for the problem sends the loss to infinity or NaN; training on would
only overwrite the last sound checkpoint with a useless one and report success. The guard
stops the run before any checkpoint of the diverged state is written, so ``last.ckpt`` keeps
the last finite state and no ``best.ckpt`` records a non-finite score.
"""

import json
import math
from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from amal_lightning.errors import DivergedError
from amal_lightning.runs.folders import DIVERGED_FILE


class DivergenceGuard(Callback):
    """Stops training when the training loss, the validation loss or a weight is not finite.

    The check of each step's loss stays on the device (no wait for the GPU) and is looked at
    after every step on a CPU, at the end of the epoch on a GPU; the weights and the validation
    loss are checked at the end of each epoch, before any checkpoint callback saves.

    Args:
        run_dir: the run's checkpoint folder, where ``diverged.json`` records the divergence.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.seen_bad: Optional[torch.Tensor] = None  # whether a step of this epoch had a non-finite loss
        self.bad_value: Optional[torch.Tensor] = None  # the latest such loss
        self.read_on_host = False  # one CPU process: each step's loss is read as a float

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:  # trained again (resumed with other settings): no longer diverged
            (self.run_dir / DIVERGED_FILE).unlink(missing_ok=True)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seen_bad = torch.zeros((), dtype=torch.bool, device=pl_module.device)
        self.bad_value = torch.zeros((), device=pl_module.device)
        self.read_on_host = pl_module.device.type == "cpu" and trainer.world_size == 1

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor) or self.seen_bad is None:
            return
        if self.read_on_host and loss.numel() == 1:
            # Reading a CPU tensor waits for nothing: one float, where the device bookkeeping below
            # costs about 0.15 ms a step; one call, since each step's hooks run with cold caches
            # (docs/PERFORMANCE.md).
            value = loss.item()
            if not math.isfinite(value):
                self._stop(trainer, "train/loss", value)
            return
        loss = loss.detach().reshape(-1)[0].float()
        bad = ~torch.isfinite(loss)
        self.seen_bad = self.seen_bad | bad
        self.bad_value = torch.where(bad, loss, self.bad_value)
        if loss.device.type == "cpu":
            self._check(trainer, "train/loss")

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer, "train/loss")
        val_loss = trainer.callback_metrics.get("val/loss")
        if val_loss is not None and not math.isfinite(float(val_loss)):
            self._stop(trainer, "val/loss", float(val_loss))
        for name, parameter in pl_module.named_parameters():
            if not bool(torch.isfinite(parameter).all()):
                self._stop(trainer, f"weight {name}", math.nan)

    def _check(self, trainer: L.Trainer, metric: str) -> None:
        seen_bad = self.seen_bad is not None and bool(self.seen_bad)
        if trainer.world_size > 1:
            seen_bad = trainer.strategy.reduce_boolean_decision(seen_bad, all=False)
        if seen_bad:
            self._stop(trainer, metric, float(self.bad_value))

    def _stop(self, trainer: L.Trainer, metric: str, value: float) -> None:
        if trainer.is_global_zero:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            record = {"epoch": trainer.current_epoch, "metric": metric, "value": str(value)}
            (self.run_dir / DIVERGED_FILE).write_text(json.dumps(record) + "\n")
        raise DivergedError(trainer.current_epoch, metric, value)
