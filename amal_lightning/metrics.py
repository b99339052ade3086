"""Epoch means of the losses and metrics, accumulated at each step and logged once per epoch.

Every model here keeps one :class:`BatchMean` (or torchmetrics object) per stage, updates it in
its shared ``_step(batch, stage)`` and hands it to ``self.log`` once, in ``on_train_epoch_end``,
``on_validation_epoch_end`` and ``on_test_epoch_end``; Lightning computes it, logs it and resets
it for the next epoch. The alternative, ``self.log(..., on_epoch=True)`` at every step, lets
Lightning do the accumulating, but its bookkeeping of each call costs more than a whole step of
the housing regressions and a noticeable share of an MNIST epoch. ``BatchMean.update`` is two
additions on tensors already on the model's device: it never makes the host wait for the GPU.
Measurements: docs/PERFORMANCE.md.
"""

import torch
from torchmetrics import Metric


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
