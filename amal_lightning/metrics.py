"""An epoch mean that never makes the host wait for the GPU."""

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
