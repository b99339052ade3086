"""Each housing config, with its shipped defaults, trains to the least-squares optimum."""

from pathlib import Path

import pytest
import torch

from amal_lightning.data import HousingDataModule
from amal_lightning.tme1 import HandGradientRegression
from amal_lightning.tme2 import AutogradRegression, OptimRegression, TanhMLP
from tests.helpers import CONFIGS, run_inprocess


def least_squares_mse(x: torch.Tensor, y: torch.Tensor) -> float:
    """The closed-form optimum of the linear model with an intercept, in float64."""
    design = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.lstsq(design, y.double()).solution
    return (design @ solution - y.double()).pow(2).mean().item()


def training_mse(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x) - y).pow(2).mean().item()


def test_least_squares_optimum_on_all_rows_is_the_known_value():
    data = HousingDataModule(val_fraction=0, test_fraction=0)
    data.setup("fit")
    assert least_squares_mse(*data.train_set.tensors) == pytest.approx(21.8948, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "model_class", "bound"),
    [
        ("tme1_gradient_descent", HandGradientRegression, 1.02),
        ("regression", AutogradRegression, 1.02),
        ("regression_sgd", OptimRegression, 1.02),
        ("regression_minibatch", OptimRegression, 1.02),
        ("tanh_mlp", TanhMLP, 1.0),
    ],
)
def test_config_reaches_the_least_squares_optimum(workdir, config, model_class, bound):
    run_inprocess("fit", "--config", str(CONFIGS / f"{config}.yaml"))
    checkpoint = Path("checkpoints", config, "version_0", "last.ckpt")
    model = model_class.load_from_checkpoint(checkpoint, weights_only=True)

    data = HousingDataModule()  # the configs keep the default split
    data.setup("fit")
    x, y = data.train_set.tensors
    optimum = least_squares_mse(x, y)
    reached = training_mse(model, x, y)
    assert reached <= bound * optimum, f"{config}: training MSE {reached:.3f}, optimum {optimum:.3f}"
