"""What a fit shows as it goes: Lightning's bar over batches with the full run name, one bar over epochs for
housing runs, and the model's size in one line instead of Lightning's table of its layers."""

import sys
import time
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import Callback, ProgressBar, TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_info
from torch.nn.parameter import UninitializedParameter
from tqdm.auto import tqdm

# Lightning redraws its bar after every batch by default, which costs more than a training step
# of the MNIST models on a CPU (docs/PERFORMANCE.md). Every 50 batches is still several times a second.
REFRESH_RATE = 50


def with_run_name(metrics: dict[str, Any], trainer: L.Trainer) -> dict[str, Any]:
    """The bar's metrics with the run's full name: Lightning shows the last four characters as ``v_num``."""
    metrics = dict(metrics)
    if metrics.pop("v_num", None) is not None and trainer.logger is not None:
        metrics = {"run": trainer.logger.version, **metrics}
    return metrics


class RunProgressBar(TQDMProgressBar):
    """Lightning's bar over batches, redrawn every ``refresh_rate`` batches, naming the run in full."""

    def __init__(self, refresh_rate: int = REFRESH_RATE) -> None:
        super().__init__(refresh_rate=refresh_rate)

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        return with_run_name(super().get_metrics(trainer, pl_module), trainer)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # Lightning's own test of whether to redraw costs about 0.015 ms a step: the batches between redraws end here
        done = batch_idx + 1
        if self.refresh_rate > 0 and done % self.refresh_rate and done != trainer.num_training_batches:
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


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

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        return with_run_name(super().get_metrics(trainer, pl_module), trainer)

    def print(self, *args: Any, sep: str = " ", **kwargs: Any) -> None:
        """Prints above the bar instead of through it."""
        if self.bar is None:
            print(*args, sep=sep, **kwargs)
            return
        kwargs.pop("flush", None)  # tqdm.write always flushes
        self.bar.write(sep.join(map(str, args)), **kwargs)


class ParameterCount(Callback):
    """One line when a fit starts, ``Classifier: 269,322 parameters (269,322 trainable)``, in place of Lightning's
    table of the model's layers, which a run shows with ``--trainer.enable_model_summary true``."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            rank_zero_info(parameter_line(pl_module))


def parameter_line(model: L.LightningModule) -> str:
    """The model's class and its parameter counts (a lazy module's parameters, not yet made, are not counted)."""
    made = [parameter for parameter in model.parameters() if not isinstance(parameter, UninitializedParameter)]
    total, trainable = (sum(p.numel() for p in chosen) for chosen in (made, [p for p in made if p.requires_grad]))
    return f"{type(model).__name__}: {total:,} parameters ({trainable:,} trainable)"
