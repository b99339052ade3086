"""TME3: precision–recall curves of the classifiers on the test set, in TensorBoard (``add_pr_curve``).

A side output, like the autoencoder's pictures: a callback, listed in the classifiers' configs,
so the model keeps only what defines it and the curves can be turned off without touching it.
"""

from typing import Any, Optional

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.loggers import TensorBoardLogger

from amal_lightning.batches import Batch
from amal_lightning.callbacks.tensorboard import find_tensorboard


class PRCurves(L.Callback):
    """One precision–recall curve per class on the test set: ``test/pr_curve/digit_0`` … ``digit_9``.

    The curve of digit k takes the images of k as the positives and the model's softmax
    probability of k as the score: where accuracy gives one number, the curve shows, for each
    threshold, how many of the images scored above it are k (precision) and how many of the k's
    are scored above it (recall), so the digits the model confuses stand out.

    At each test batch it runs the model once more on the batch the loop handed over, under
    ``no_grad``, and keeps the probabilities and labels; at the end of the test epoch it writes
    the curves through the run's TensorBoard logger. Without one it keeps and writes nothing. On
    a multi-device test run, the curves cover the first process's share of the test set
    (Lightning's advice is to test on one device, so that each image is counted once).

    Args:
        num_thresholds: points on each curve.
    """

    def __init__(self, num_thresholds: PositiveInt = 127) -> None:
        super().__init__()
        self.num_thresholds = num_thresholds
        self.probabilities: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def tensorboard(self, trainer: L.Trainer) -> Optional[TensorBoardLogger]:
        """Where to write, or None where nothing is to be written."""
        return find_tensorboard(trainer) if trainer.is_global_zero else None

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.probabilities, self.labels = [], []

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Batch,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if self.tensorboard(trainer) is None:
            return
        x, y = batch
        with torch.no_grad():
            self.probabilities.append(pl_module(x).softmax(1))
        self.labels.append(y.clone())  # not a view that keeps the whole batch

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        tensorboard = self.tensorboard(trainer)
        probabilities, labels = self.probabilities, self.labels
        self.probabilities, self.labels = [], []
        if tensorboard is None or not labels:
            return
        scores, digits = torch.cat(probabilities).cpu(), torch.cat(labels).cpu()
        for digit in range(scores.shape[1]):
            tensorboard.experiment.add_pr_curve(
                f"test/pr_curve/digit_{digit}",
                digits == digit,
                scores[:, digit],
                global_step=trainer.global_step,
                num_thresholds=self.num_thresholds,
            )
