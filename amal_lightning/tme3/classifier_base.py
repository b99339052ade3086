"""What the MNIST classifiers share: cross-entropy, epoch metrics, logging and the optimizer."""

from typing import Any, Literal

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from amal_lightning.batches import Batch, known_targets
from amal_lightning.data.references import chance_references
from amal_lightning.errors import AmalError
from amal_lightning.tme3.compiling import CompilableModule, CompileOption

# The classifiers' `init` option: how the weights of every linear layer start.
InitOption = Literal["default", "kaiming", "xavier"]


def initialize(module: nn.Module, init: InitOption) -> None:
    """Sets the weights of every ``nn.Linear`` inside ``module`` as ``init`` says.

    - ``default``: PyTorch's own (uniform, variance 1/(3·fan_in)), left as built;
    - ``kaiming``: He's ``kaiming_normal_(w, nonlinearity="relu")``, standard deviation
      √(2/fan_in), and zero biases: the initialization that keeps a deep ReLU network's
      activations from shrinking layer after layer;
    - ``xavier``: Glorot's ``xavier_uniform_`` (variance 2/(fan_in + fan_out)) and zero biases.

    Every linear layer is set, the output layer too; a layer whose bias must start elsewhere (the
    Highway gates' b_T) is set again by its model afterwards.
    """
    if init == "default":
        return
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            if init == "kaiming":
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            elif init == "xavier":
                nn.init.xavier_uniform_(layer.weight)
            else:
                raise AmalError(f"model.init: {init!r} is not one of default, kaiming, xavier")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class MNISTClassifier(CompilableModule):
    """A classifier of flat images whose subclass only builds ``self.net`` (images → logits).

    Logs ``train/loss``, ``val/loss``, ``val/acc``, ``test/loss`` and ``test/acc``, each the mean
    over the epoch's examples, once per epoch (the test ones after each validation too when the
    datamodule has ``test_each_epoch``). Subclasses call ``save_hyperparameters()``
    themselves, so that the saved arguments are theirs, and ``compile_module(self.net)`` once
    it is built (``compile``: :class:`~amal_lightning.tme3.cuda_graphs.CompilableModule`).
    """

    net: nn.Module

    def __init__(self, num_classes: int, optimizer: OptimizerCallable, compile: CompileOption = False) -> None:
        super().__init__(compile)
        self.optimizer = optimizer
        # validate_args=False: the checks of the labels' range wait for the GPU at every step
        self.val_acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        self.test_acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)

    def reference_values(self, datamodule: Any) -> dict[str, float]:
        """Chance on the held-out splits: what always answering the most common digit scores."""
        return chance_references(datamodule)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict[str, torch.Tensor]:
        """Per image, the label where known, the predicted class and its probability: ``amal predict``'s columns."""
        probability, predicted = self(batch[0]).softmax(1).max(1)
        return {**known_targets(batch, "label"), "predicted": predicted, "probability": probability}

    def _logits(self, x: torch.Tensor, stage: str) -> torch.Tensor:
        """The logits for a batch of ``stage``; a subclass may record more on the way."""
        return self(x)

    def training_loss(self, batch: Batch) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self._logits(x, "train"), y)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self._logits(x, stage)
        loss = F.cross_entropy(logits, y)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        if stage != "train":
            getattr(self, f"{stage}_acc").update(logits, y)
        return loss

    def _log_epoch(self, stage: str) -> None:
        super()._log_epoch(stage)
        if stage != "train":
            self.log(f"{stage}/acc", getattr(self, f"{stage}_acc"), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())
