"""TME3: an MLP classifier on MNIST, linear–ReLU–linear–ReLU–linear with cross-entropy."""

import lightning as L
import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from amal_lightning.data.mnist import NUM_PIXELS

Batch = tuple[torch.Tensor, torch.Tensor]


class Classifier(L.LightningModule):
    """``Linear(784, h) → ReLU → Linear(h, h) → ReLU → Linear(h, 10)`` on flat images.

    Args:
        input_dim: pixels per image.
        hidden_dim: width h of both hidden layers.
        num_classes: number of digits.
        optimizer: the optimizer and its settings.
    """

    def __init__(
        self,
        input_dim: int = NUM_PIXELS,
        hidden_dim: int = 256,
        num_classes: int = 10,
        optimizer: OptimizerCallable = torch.optim.Adam,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.optimizer = optimizer
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, num_classes),
        )
        self.accuracy = nn.ModuleDict(
            {stage: MulticlassAccuracy(num_classes, average="micro") for stage in ("val", "test")}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(x))
        if stage in self.accuracy:
            self.accuracy[stage](logits, y)
            self.log(f"{stage}/acc", self.accuracy[stage], on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())
