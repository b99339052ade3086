"""Divergence stops a run at once, says so in one line, and leaves a mark in its run folder.

A step size too large for the problem sends the loss to infinity or NaN, or to values so large
that they stay finite and mean nothing (cross-entropy on huge logits reaches 1e20 and stays
there); training on would only overwrite the last sound checkpoint with a useless one and report
success. The guard
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

BASELINE_STEPS = 10  # the first training steps, whose mean loss sets the bound


class DivergenceGuard(Callback):
    """Stops training when the training loss grows past a bound, or a loss or a weight is not finite.

    The bound is ``factor`` times the mean loss of the first :data:`BASELINE_STEPS` training steps
    (during those steps, of the steps before), or ``threshold`` where given, whichever is lower:
    a loss 10⁴ times its start has left any useful region. The baseline is saved in the
    checkpoints, so a resumed run keeps the one its first steps set.

    The check of each step's loss stays on the device (no wait for the GPU) and is looked at
    after every step on a CPU, at the end of the epoch on a GPU; the weights and the validation
    loss are checked at the end of each epoch, before any checkpoint callback saves.

    Args:
        run_dir: the run's checkpoint folder, where ``diverged.json`` records the divergence.
        factor: the bound as a multiple of the first steps' mean loss (``--divergence_factor``).
        threshold: an absolute bound on the training loss, or None (``--divergence_threshold``).
    """

    def __init__(self, run_dir: Path, factor: float = 1e4, threshold: Optional[float] = None) -> None:
        self.run_dir = Path(run_dir)
        self.factor, self.threshold = factor, threshold
        self.baseline_sum: Any = 0.0  # the sum of the first steps' losses: a float on a CPU, a tensor on a GPU
        self.baseline_count = 0
        self.seen_bad: Optional[torch.Tensor] = None  # whether a step of this epoch had a loss past the bound
        self.bad_value: Optional[torch.Tensor] = None  # the latest such loss
        self.read_on_host = False  # one CPU process: each step's loss is read as a float

    def state_dict(self) -> dict[str, Any]:
        return {"baseline_sum": float(self.baseline_sum), "baseline_count": self.baseline_count}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.baseline_sum = float(state_dict.get("baseline_sum", 0.0))
        self.baseline_count = int(state_dict.get("baseline_count", 0))

    def bound(self) -> float:
        """The largest training loss that is not divergence, as known now (infinite before the first step)."""
        relative = self.factor * float(self.baseline_sum) / self.baseline_count if self.baseline_count else math.inf
        return min(relative, math.inf if self.threshold is None else self.threshold)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:  # trained again (resumed with other settings): no longer diverged
            (self.run_dir / DIVERGED_FILE).unlink(missing_ok=True)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seen_bad = torch.zeros((), dtype=torch.bool, device=pl_module.device)
        self.bad_value = torch.zeros((), device=pl_module.device)
        self.read_on_host = pl_module.device.type == "cpu" and trainer.world_size == 1
        if not self.read_on_host and not isinstance(self.baseline_sum, torch.Tensor):
            self.baseline_sum = torch.tensor(float(self.baseline_sum), device=pl_module.device)

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
            if not value <= self.bound():  # NaN compares false
                self._stop(trainer, "train/loss", value)
            if self.baseline_count < BASELINE_STEPS:
                self.baseline_sum, self.baseline_count = float(self.baseline_sum) + value, self.baseline_count + 1
            return
        loss = loss.detach().reshape(-1)[0].float()
        if self.baseline_count:
            limit = self.factor * self.baseline_sum / self.baseline_count
            if self.threshold is not None:
                limit = torch.clamp(limit, max=self.threshold)
            bad = ~(loss <= limit)  # on the device: no wait for the GPU
        else:
            bad = ~torch.isfinite(loss) if self.threshold is None else ~(loss <= self.threshold)
        self.seen_bad = self.seen_bad | bad
        self.bad_value = torch.where(bad, loss, self.bad_value)
        if self.baseline_count < BASELINE_STEPS:
            self.baseline_sum, self.baseline_count = self.baseline_sum + loss, self.baseline_count + 1
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
        bound = self.bound() if metric == "train/loss" and math.isfinite(value) else None
        if trainer.is_global_zero:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            record = {"epoch": trainer.current_epoch, "metric": metric, "value": str(value), "bound": bound}
            (self.run_dir / DIVERGED_FILE).write_text(json.dumps(record) + "\n")
        raise DivergedError(trainer.current_epoch, metric, value, bound)
