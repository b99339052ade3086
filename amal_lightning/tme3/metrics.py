"""An epoch mean that never makes the host wait for the GPU."""

import torch
from torchmetrics import MeanMetric


class BatchMean(MeanMetric):
    """The mean over examples of per-batch means (a loss, a pixel MSE), for one epoch.

    ``MeanMetric.update(value, weight)`` makes the host wait for the GPU at every step twice: its
    NaN check branches on ``nans.any()``, and a Python-number weight is copied to the device. Here
    the NaN check is off (a NaN loss then shows as a NaN mean instead of being dropped) and the
    batch mean is repeated once per example, so a short last batch counts for what it holds and
    the whole update stays on the device.
    """

    def __init__(self) -> None:
        super().__init__(nan_strategy="disable")

    def update(self, batch_mean: torch.Tensor, batch_size: int) -> None:
        super().update(batch_mean.detach().expand(batch_size))
