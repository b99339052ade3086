"""TME2: linear regression on the housing data, with autograd computing the gradients.

Two ways to apply them: :class:`AutogradRegression` updates the weights itself under
``torch.no_grad()``, as the lab does first; :class:`OptimRegression` hands them to a
``torch.optim`` optimizer chosen in the config.
"""

from typing import Any, Optional

import torch
from jsonargparse.typing import PositiveFloat, PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn
from torch.nn import functional as F

from amal_lightning.batches import Batch, known_targets
from amal_lightning.checks import check_model_size, check_optimizer, linear_parameters
from amal_lightning.data.housing import NUM_FEATURES
from amal_lightning.data.references import regression_references
from amal_lightning.tme2.predicted import PredictsItsDescent, descent_references


class AutogradRegression(PredictsItsDescent):
    """``yhat = x @ w + b`` trained by raw gradient descent: ``w -= learning_rate * w.grad``.

    Args:
        input_dim: number of features.
        learning_rate: the step size ε (positive: zero would not move, a negative step climbs the loss).
    """

    def __init__(self, input_dim: PositiveInt = NUM_FEATURES, learning_rate: PositiveFloat = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_model_size(self, linear_parameters([input_dim, 1]))
        self.automatic_optimization = False
        self.weight = nn.Parameter(torch.randn(input_dim, 1) * 0.01)
        self.bias = nn.Parameter(torch.zeros(1))

    def example_dims(self) -> dict[str, int]:
        return {**super().example_dims(), "output_dim": 1}  # one target per example

    def reference_values(self, datamodule: Any) -> dict[str, float]:
        """The least-squares losses, the step-size limits and the noise floor at this model's step."""
        return {
            **regression_references(datamodule, linear=True),
            **descent_references(datamodule, self.hparams.learning_rate),
        }

    def descent_start(self) -> tuple[torch.Tensor, Optional[float]]:
        return torch.cat([self.weight.flatten(), self.bias]), self.hparams.learning_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict[str, torch.Tensor]:
        """Per row, the target where the data has it and the prediction: ``amal predict``'s columns."""
        return {**known_targets(batch, "target"), "prediction": self(batch[0])}

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        loss = F.mse_loss(self(x), y)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        if stage == "train":
            self.manual_backward(loss)
            with torch.no_grad():  # the update itself must not enter the graph
                for parameter in (self.weight, self.bias):
                    parameter -= self.hparams.learning_rate * parameter.grad
                    parameter.grad = None
            self.optimizers().step()  # no-op stand-in: only advances global_step
        return loss

    def configure_optimizers(self) -> None:
        return None


class OptimRegression(PredictsItsDescent):
    """A regression network trained by a ``torch.optim`` optimizer on the mean squared error.

    Here the network is one linear layer; :class:`~amal_lightning.tme2.TanhMLP` builds a deeper
    one in :meth:`build_net`, whose sizes :meth:`layer_sizes` gives, so that the size is checked first.

    Args:
        input_dim: number of features.
        optimizer: the optimizer and its settings, e.g. ``torch.optim.SGD`` with ``lr: 0.01``.
        step_decay_epochs: τ, to decay the step as ε/(1 + t/τ) at epoch t: a constant step leaves
            mini-batch descent on a noise floor proportional to ε (:func:`~amal_lightning.tme2.theory.noise_floor`),
            a step decaying as 1/t lets it go on to the optimum. None: a constant step.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_FEATURES,
        optimizer: OptimizerCallable = torch.optim.SGD,
        step_decay_epochs: Optional[PositiveFloat] = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.optimizer = optimizer
        check_model_size(self, linear_parameters(self.layer_sizes()))
        self.net = self.build_net()
        check_optimizer(optimizer, self)

    def layer_sizes(self) -> list[int]:
        """The sizes of the network's layers, from the features to the one output."""
        return [self.hparams.input_dim, 1]

    def example_dims(self) -> dict[str, int]:
        return {**super().example_dims(), "output_dim": 1}  # one target per example

    def reference_values(self, datamodule: Any) -> dict[str, float]:
        """The least-squares losses; the step-size limits and noise floor only for a linear network."""
        linear = len(self.layer_sizes()) == 2
        values = regression_references(datamodule, linear=linear)
        return {**values, **descent_references(datamodule, self.plain_step())} if linear else values

    def plain_step(self) -> Optional[float]:
        """The step size ε of plain SGD steps (no momentum, no weight decay), else None: what theory takes."""
        optimizer = self.optimizer([nn.Parameter(torch.zeros(1))])
        settings = optimizer.defaults
        plain = type(optimizer) is torch.optim.SGD and not settings.get("momentum") and not settings.get("weight_decay")
        plain = plain and self.hparams.get("step_decay_epochs") is None  # theory's step is a constant one
        return float(settings["lr"]) if plain else None

    def build_net(self) -> nn.Module:
        return nn.Linear(self.hparams.input_dim, 1)

    def descent_start(self) -> tuple[torch.Tensor, Optional[float]]:
        if not isinstance(self.net, nn.Linear):  # a hidden layer: theory's quadratic is not its loss
            return torch.zeros(0), None
        return torch.cat([self.net.weight.flatten(), self.net.bias]), self.plain_step()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> dict[str, torch.Tensor]:
        """Per row, the target where the data has it and the prediction: ``amal predict``'s columns."""
        return {**known_targets(batch, "target"), "prediction": self(batch[0])}

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, y = batch
        loss = F.mse_loss(self(x), y)
        getattr(self, f"{stage}_loss").update(loss, len(x))
        return loss

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer(self.parameters())
        tau = self.hparams.get("step_decay_epochs")
        if tau is None:
            return optimizer
        decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1 / (1 + epoch / tau))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": decay, "interval": "epoch"}}
