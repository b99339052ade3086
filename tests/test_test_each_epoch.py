"""--data.test_each_epoch: the test split evaluated after each validation, logged once per epoch."""

from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.nn import functional as F

from amal_lightning.data import HousingDataModule, MNISTDataModule, RandomRegressionDataModule
from amal_lightning.tme1 import HandGradientRegression
from amal_lightning.tme2 import AutogradRegression, OptimRegression, TanhMLP
from amal_lightning.tme3 import Autoencoder, Classifier, HighwayClassifier
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist


def scalars(log_dir: Path) -> dict[str, list]:
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


def epoch_points(logged: dict[str, list], name: str) -> list:
    """The points of ``name`` logged during the fit's epochs: exactly one at each ``val/loss`` point.

    An ``amal fit`` that tests its best checkpoint once training is over adds its own point after
    the last epoch: that one is not a per-epoch point, and it is the only other one allowed.
    """
    epochs = [event.step for event in logged["val/loss"]]
    points = [event for event in logged[name] if event.step <= epochs[-1]]
    assert [event.step for event in points] == epochs, name
    return points


def served(loader) -> torch.Tensor:
    return torch.cat([x for x, _ in loader])


@pytest.mark.parametrize(
    "make_data",
    [
        partial(HousingDataModule, batch_size=32),
        partial(RandomRegressionDataModule, batch_size=16),
        "mnist",
    ],
    ids=["housing", "random", "mnist"],
)
def test_the_validation_loop_gets_the_test_split_only_when_asked(tmp_path, make_data):
    if make_data == "mnist":
        write_synthetic_mnist(tmp_path, train=120, test=30)
        make_data = partial(MNISTDataModule, data_dir=str(tmp_path), source="full", batch_size=16)
    off, on = make_data(), make_data(test_each_epoch=True)
    assert not off.hparams.test_each_epoch  # off unless asked
    for data in (off, on):
        data.setup("fit")
    assert not isinstance(off.val_dataloader(), list)
    validation, test = on.val_dataloader()  # in this order: the models take index 1 for the test split
    torch.testing.assert_close(served(validation), served(off.val_dataloader()))
    torch.testing.assert_close(served(test), served(on.test_dataloader()))
    assert not torch.equal(served(test)[:5], served(validation)[:5])


def test_without_a_validation_split_there_is_no_test_curve():
    data = HousingDataModule(val_fraction=0, test_each_epoch=True)
    data.setup("fit")
    with pytest.warns(UserWarning, match="test_each_epoch needs a validation and a test split"):
        assert data.val_dataloader() == []  # no validation loop, and no test loader in its place


@pytest.mark.parametrize(
    "make_model",
    [
        lambda: HandGradientRegression(learning_rate=0.05),
        lambda: AutogradRegression(learning_rate=0.05),
        lambda: OptimRegression(optimizer=partial(torch.optim.SGD, lr=0.05)),
        lambda: TanhMLP(hidden_dim=8),
    ],
    ids=["HandGradientRegression", "AutogradRegression", "OptimRegression", "TanhMLP"],
)
def test_housing_models_log_one_test_point_per_epoch(tmp_path, make_model):
    data = HousingDataModule(batch_size=32, test_each_epoch=True)
    logger = TensorBoardLogger(tmp_path, name="run")
    trainer = L.Trainer(
        max_epochs=3,
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    model = make_model()
    trainer.fit(model, data)

    logged = scalars(Path(logger.log_dir))
    assert not [tag for tag in logged if "dataloader_idx" in tag]
    steps = [event.step for event in logged["val/loss"]]
    assert len(steps) == 3  # one per epoch, none from the sanity check
    assert [event.step for event in logged["test/loss"]] == steps  # beside val/loss, at each epoch's end
    with torch.no_grad():  # each is the loss of its own split, with the last epoch's weights
        for stage, dataset in (("val", data.val_set), ("test", data.test_set)):
            x, y = dataset.tensors
            mse = ((model(x) - y) ** 2).sum().item() / len(x)
            assert logged[f"{stage}/loss"][-1].value == pytest.approx(mse, rel=1e-5), stage


@pytest.mark.parametrize(
    ("config", "model_class", "size", "test_metrics"),
    [
        ("classifier", Classifier, "--model.hidden_dim=32", ["test/loss", "test/acc"]),
        ("highway", HighwayClassifier, "--model.num_layers=3", ["test/loss", "test/acc"]),
        ("autoencoder", Autoencoder, "--model.latent_dim=16", ["test/loss", "test/mse"]),
    ],
)
def test_mnist_models_log_the_test_metrics_once_per_epoch(workdir, config, model_class, size, test_metrics):
    write_synthetic_mnist(workdir / "mnist", train=300, test=90)
    data = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50", "--data.test_each_epoch=true"]
    run_inprocess("fit", "--config", str(CONFIGS / f"{config}.yaml"), "--trainer.max_epochs=2", size, *data)

    logged = scalars(Path(f"logs/{config}/version_0"))
    assert not [tag for tag in logged if "dataloader_idx" in tag]
    assert len(logged["val/loss"]) == 2
    test = {name: epoch_points(logged, name) for name in test_metrics}  # beside val/loss, at each epoch's end
    assert not [tag for tag in logged if tag.startswith("test/gate")]  # the gate statistics stay validation's

    model = model_class.load_from_checkpoint(f"checkpoints/{config}/version_0/last.ckpt", weights_only=True)
    module = MNISTDataModule(data_dir="mnist", source="full")
    module.setup("test")
    x, y = module.test_set[torch.arange(len(module.test_set))]
    with torch.no_grad():
        output = model(x)
    if model_class is Autoencoder:
        assert test["test/mse"][-1].value == pytest.approx(F.mse_loss(output, x).item(), rel=1e-4)
    else:
        assert test["test/loss"][-1].value == pytest.approx(F.cross_entropy(output, y).item(), rel=1e-4)
        assert test["test/acc"][-1].value == pytest.approx((output.argmax(1) == y).float().mean().item())


def test_best_checkpoint_follows_the_validation_loss_only(workdir):
    # 100 training rows of seed 4, 30 epochs: the validation loss is lowest after epoch 13 and
    # the test loss after epoch 0, so a checkpoint that followed the test loss would show it.
    run_inprocess(
        "fit",
        "--config",
        str(CONFIGS / "tme1_random.yaml"),  # test_each_epoch is on in the shipped config
        "--data.num_examples=100",
        "--data.seed=4",
        "--trainer.max_epochs=30",
    )
    logged = scalars(Path("logs/tme1_random/version_0"))
    val = [event.value for event in logged["val/loss"]]
    test = [event.value for event in epoch_points(logged, "test/loss")]
    assert len(val) == len(test) == 30
    best_val_epoch, best_test_epoch = val.index(min(val)), test.index(min(test))
    assert best_val_epoch != best_test_epoch  # else this test could not tell them apart

    best = torch.load("checkpoints/tme1_random/version_0/best.ckpt", weights_only=True)
    assert best["epoch"] == best_val_epoch
    (state,) = [state for name, state in best["callbacks"].items() if name.startswith("BestCheckpoint")]
    assert state["monitor"] == "val/loss"
    assert state["best_model_score"].item() == pytest.approx(min(val))
