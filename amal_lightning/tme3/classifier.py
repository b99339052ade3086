"""TME3: an MLP classifier on MNIST, linear–ReLU–linear–ReLU–linear with cross-entropy."""

import lightning as L
import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from amal_lightning.data.mnist import NUM_PIXELS
from amal_lightning.metrics import BatchMean

Batch = tuple[torch.Tensor, torch.Tensor]


class Classifier(L.LightningModule):
    """``Linear(784, h) → ReLU → Linear(h, h) → ReLU → Linear(h, 10)`` on flat images.

    Args:
        input_dim: pixels per image.
        hidden_dim: width h of both hidden layers.
        num_classes: number of digits.
        optimizer: the optimizer and its settings.
        compile: compile the network with ``torch.compile`` (its first steps are then slow);
            see docs/PERFORMANCE.md for where it pays.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_PIXELS,
        hidden_dim: PositiveInt = 256,
        num_classes: PositiveInt = 10,
        optimizer: OptimizerCallable = torch.optim.Adam,
        compile: bool = False,
    ) -> None:
        super().__init__()
        # `compile` is how this process runs, not what the model is: a checkpoint loads without it.
        self.save_hyperparameters(ignore=["compile"])
        self.optimizer = optimizer
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, num_classes),
        )
        if compile:
            self.net.compile()  # in place: the parameter names, hence the checkpoints, stay the same
        # Epoch means are accumulated here and logged once per epoch: a `self.log` call costs about
        # 0.4 ms in Lightning 2.6, a tenth of an epoch at 430 steps of this small network.
        self.train_loss, self.val_loss, self.test_loss = BatchMean(), BatchMean(), BatchMean()
        # validate_args=False: the checks of the labels' range wait for the GPU at every step
        self.val_acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        self.test_acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        if stage != "train":
            getattr(self, f"{stage}_acc").update(logits, y)
        return loss

    def _log_epoch(self, stage: str) -> None:
        self.log(f"{stage}/loss", getattr(self, f"{stage}_loss"), prog_bar=True)
        if stage != "train":
            self.log(f"{stage}/acc", getattr(self, f"{stage}_acc"), prog_bar=True)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())
