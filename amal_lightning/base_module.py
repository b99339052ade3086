"""Epoch means of the losses and metrics, accumulated at each step and logged once per epoch.

Every model here keeps one :class:`BatchMean` (or torchmetrics object) per stage, updates it in
its shared ``_step(batch, stage)`` and hands it to ``self.log`` once, in ``on_train_epoch_end``,
``on_validation_epoch_end`` and ``on_test_epoch_end``; Lightning computes it, logs it and resets
it for the next epoch (:class:`EpochMetricsModule` writes that routing once for all of them).
The alternative, ``self.log(..., on_epoch=True)`` at every step, lets Lightning do the
accumulating, but its bookkeeping of each call costs more than a whole step of the housing
regressions and a noticeable share of an MNIST epoch. ``BatchMean.update`` is two additions on
tensors already on the model's device: it never makes the host wait for the GPU.
Values that no callback watches (a timer, a predicted curve) skip ``self.log`` altogether and go
straight to every logger (:func:`log_epoch_points`). Measurements: docs/PERFORMANCE.md.
"""

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from torchmetrics import Metric

from amal_lightning.batches import Batch, evaluation_stage
from amal_lightning.errors import AmalError

# What each of the sizes that a model and a datamodule may both state counts, for the message.
EXAMPLE_DIMS = {"input_dim": "features", "output_dim": "targets", "num_classes": "classes"}


def log_epoch_points(trainer: L.Trainer, points: Mapping[str, float]) -> None:
    """Hands ``points`` to every logger of ``trainer`` (TensorBoard's and those added), at an epoch's end.

    For values that only go to the logs, as curves: ``self.log`` also keeps them for the callbacks and
    the progress bar, at about 0.3 ms a call in Lightning 2.6 (``bench/self_log.py``), a tenth of a
    housing epoch each. The step is the one Lightning gives the epoch's other points, that of its
    last optimizer step, so that they line up in every logger. Lightning's loggers write on global rank zero only.
    """
    for logger in trainer.loggers:
        logger.log_metrics(dict(points), step=max(trainer.global_step - 1, 0))


class BatchMean(Metric):
    """The mean over examples of per-batch means (a loss, a pixel MSE), for one epoch.

    ``torchmetrics.MeanMetric`` would do, but its ``update`` makes the host wait for the GPU at
    every step: its NaN check branches on ``nans.any()``, and a Python-number weight is copied to
    the device first. Here each batch adds ``mean × size`` and ``size`` to two device tensors and
    nothing else: a short last batch counts for what it holds, a NaN loss shows as a NaN mean,
    and torchmetrics still sums both states over the processes of a multi-device run.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, batch_mean: torch.Tensor, batch_size: int) -> None:
        self.total += batch_mean.detach() * batch_size
        self.count += batch_size

    def compute(self) -> torch.Tensor:
        return self.total / self.count


class EpochMetricsModule(L.LightningModule):
    """A model whose steps all go through ``_step(batch, stage)`` and whose logging through ``_log_epoch(stage)``.

    ``stage`` is ``train``, ``val`` or ``test``; the subclass updates its metrics of that stage in
    ``_step`` and returns the loss. The base keeps one ``train_loss``, ``val_loss`` and
    ``test_loss`` and logs them as ``{stage}/loss``; a subclass with more metrics extends
    ``_log_epoch``. When the datamodule evaluates the test split with each validation
    (``test_each_epoch``), the validation loop's second loader feeds the ``test`` metrics, logged
    at the validation epoch's end. Lightning logs from an epoch-end hook outside any loader, so
    the names carry no ``/dataloader_idx_1`` suffix.
    """

    def __init__(self) -> None:
        super().__init__()
        self.train_loss, self.val_loss, self.test_loss = BatchMean(), BatchMean(), BatchMean()

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        raise NotImplementedError

    def reference_values(self, datamodule: Any) -> dict[str, float]:
        """The values this model's curves are compared with on ``datamodule`` (a least-squares floor,
        chance, PCA...), named as logged under ``reference/``: none unless the lab's model says.

        :class:`~amal_lightning.callbacks.references.ReferenceValues` logs them at step 0 of a fit;
        :mod:`amal_lightning.data.references` computes them from the data.
        """
        return {}

    def example_dims(self) -> dict[str, int]:
        """What the model expects of each example: those of its hyperparameters named in :data:`EXAMPLE_DIMS`."""
        return {name: self.hparams[name] for name in EXAMPLE_DIMS if name in self.hparams}

    def setup(self, stage: str) -> None:
        """Checks that the datamodule's examples fit the model, before any batch reaches it.

        An ``input_dim`` other than the data's fails inside the first matrix product with a
        traceback, an ``output_dim`` other than the targets' is silently broadcast by the loss,
        and a ``num_classes`` other than the labels' fails inside cross-entropy (on a GPU, as a
        device assertion). A datamodule states its sizes in ``example_dims()``; Lightning runs
        this after the datamodule's ``setup`` and before any loop, in every subcommand.
        """
        datamodule = self.trainer.datamodule
        given = datamodule.example_dims() if hasattr(datamodule, "example_dims") else {}
        for name, wanted in self.example_dims().items():
            if name in given and given[name] != wanted:
                raise AmalError(
                    f"model.{name} {wanted} does not fit the data: the examples of {type(datamodule).__name__} "
                    f"have {given[name]} {EXAMPLE_DIMS[name]}"
                )

    def _log_epoch(self, stage: str) -> None:
        self.log(f"{stage}/loss", getattr(self, f"{stage}_loss"), prog_bar=True)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self._step(batch, evaluation_stage(dataloader_idx))

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")
        if self.test_loss.update_count:  # the test split came with this validation
            self._log_epoch("test")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
