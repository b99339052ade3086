"""The housing models: each config, with its shipped defaults, trains to the least-squares
optimum, and each model's logged losses are the means of one epoch."""

import csv
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

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


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: HandGradientRegression(learning_rate=0.05),
        lambda: AutogradRegression(learning_rate=0.05),
        lambda: OptimRegression(optimizer=partial(torch.optim.SGD, lr=0.05)),
    ],
    ids=["HandGradientRegression", "AutogradRegression", "OptimRegression"],
)
def test_losses_are_logged_once_per_epoch_as_that_epochs_mean(tmp_path, make_model):
    data = HousingDataModule(batch_size=32)  # 304 training rows: 9 batches of 32 and one of 16
    trainer = L.Trainer(
        max_epochs=2,
        logger=CSVLogger(tmp_path),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    model = make_model()
    trainer.fit(model, data)
    assert trainer.global_step == 2 * 10  # the manual updates are counted as steps too
    assert {"train/loss", "val/loss"} <= set(trainer.progress_bar_metrics)
    trainer.test(model, data)

    with open(Path(trainer.logger.log_dir, "metrics.csv")) as file:
        rows = list(csv.DictReader(file))
    logged = {name: [float(row[name]) for row in rows if row[name]] for name in ("train/loss", "val/loss", "test/loss")}
    assert [len(values) for values in logged.values()] == [2, 2, 1]  # one value per epoch, none per step
    x, y = data.val_set.tensors
    # epoch 2's value is the loss of epoch 2's weights, not a mean that still holds epoch 1
    assert logged["val/loss"][-1] == pytest.approx(training_mse(model, x, y), rel=1e-5)
    assert logged["test/loss"][0] == pytest.approx(training_mse(model, *data.test_set.tensors), rel=1e-5)
