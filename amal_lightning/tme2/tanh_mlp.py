"""TME2: the two-layer network linear → tanh → linear on the housing data."""

import torch
from jsonargparse.typing import PositiveInt
from lightning.pytorch.cli import OptimizerCallable
from torch import nn

from amal_lightning.data.housing import NUM_FEATURES
from amal_lightning.tme2.regression import OptimRegression


class TanhMLP(OptimRegression):
    """``Linear(input_dim, hidden_dim) → tanh → Linear(hidden_dim, 1)``, trained like :class:`OptimRegression`.

    Args:
        input_dim: number of features.
        hidden_dim: width of the tanh layer.
        optimizer: the optimizer and its settings.
    """

    def __init__(
        self,
        input_dim: PositiveInt = NUM_FEATURES,
        hidden_dim: PositiveInt = 100,
        optimizer: OptimizerCallable = torch.optim.Adam,
    ) -> None:
        super().__init__(input_dim, optimizer)  # its save_hyperparameters() records hidden_dim too

    def layer_sizes(self) -> list[int]:
        return [self.hparams.input_dim, self.hparams.hidden_dim, 1]

    def build_net(self) -> nn.Module:
        hidden_dim = self.hparams.hidden_dim
        return nn.Sequential(nn.Linear(self.hparams.input_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, 1))
