"""The reference values logged at step 0 of a fit: least squares, the step-size limit, chance, PCA."""

from types import SimpleNamespace

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from amal_lightning.api import fit
from amal_lightning.callbacks import references
from amal_lightning.callbacks.references import ReferenceValues, reference_values
from amal_lightning.data import HousingDataModule
from amal_lightning.data.references import chance, least_squares_references, pca_mses, step_size_limit
from tests.helpers import CONFIGS, TEST_SETTINGS

SETTINGS = [f"{name}={value}" for name, value in TEST_SETTINGS.items()]
HOUSING = ("train/loss", "val/loss", "test/loss", "step_limit")


def scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(event.step, event.value) for event in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_an_exactly_linear_target_has_a_least_squares_mse_of_zero():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=generator)
    y = x @ torch.randn(5, 2, generator=generator) + 3.0  # an intercept too
    held_out = torch.randn(10, 5, generator=generator)
    split = (held_out, held_out @ torch.linalg.lstsq(torch.cat([x, torch.ones(40, 1)], 1), y).solution[:5] + 3.0)
    found = least_squares_references((x, y), split, None)
    assert set(found) == {"train", "val"}  # a missing split is left out
    assert found["train"] == pytest.approx(0, abs=1e-10) and found["val"] == pytest.approx(0, abs=1e-8)


def test_the_mse_averages_or_sums_over_the_outputs_as_the_model_does():
    x = torch.zeros(4, 1)
    y = torch.tensor([[1.0, 2.0], [-1.0, -2.0], [1.0, 2.0], [-1.0, -2.0]])  # the best fit is the means, 0
    assert least_squares_references((x, y))["train"] == pytest.approx((1 + 4) / 2)  # F.mse_loss
    assert least_squares_references((x, y), sum_outputs=True)["train"] == pytest.approx(1 + 4)  # TME1's MSE


def test_the_step_limit_of_an_orthogonal_design_is_two_over_its_largest_eigenvalue():
    # Centred, orthogonal columns: X̃ᵀX̃ = diag(2·3², 2·1², 4) and H = (2/4)·that = diag(9, 1, 2).
    x = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    assert step_size_limit(x) == pytest.approx(2 / 9)
    assert step_size_limit(x, num_outputs_averaged=2) == pytest.approx(4 / 9)  # a loss averaged over 2 outputs
    assert step_size_limit(torch.zeros(5, 3)) == pytest.approx(1.0)  # only the intercept: H = 2


def test_the_housing_references_are_the_known_ones():
    data = HousingDataModule()
    data.setup("fit")
    splits = [split.tensors for split in (data.train_set, data.val_set, data.test_set)]
    found = least_squares_references(*splits)
    assert found == pytest.approx({"train": 19.7767, "val": 19.4018, "test": 32.6846}, abs=1e-3)
    assert step_size_limit(splits[0][0]) == pytest.approx(0.162, abs=1e-3)  # docs/GUIDE.md §8


def test_chance_is_the_frequency_of_the_most_common_label():
    assert chance(torch.tensor([0, 0, 1, 2])) == 0.5
    assert chance(torch.tensor([7, 3, 3, 7, 7])) == 0.6
    assert chance(torch.arange(10)) == pytest.approx(0.1)


def pca_mse(train_images: torch.Tensor, images: torch.Tensor, k: int) -> float:
    return pca_mses(train_images, {"images": images}, k)["images"]


def test_pca_with_every_component_reconstructs_exactly_and_with_none_gives_the_variance():
    generator = torch.Generator().manual_seed(0)
    train = torch.rand(50, 12, generator=generator)
    test = torch.rand(20, 12, generator=generator)
    assert pca_mse(train, test, 12) == pytest.approx(0, abs=1e-12)
    assert pca_mse(train, train, 0) == pytest.approx(train.double().var(0, unbiased=False).mean().item())
    # uint8 images are taken as pixels / 255, as MNISTDigits serves them
    pixels = (train * 255).round().to(torch.uint8)
    assert pca_mse(pixels, pixels, 3) == pytest.approx(pca_mse(pixels.double() / 255, pixels.double() / 255, 3))


def test_pca_on_points_along_a_line_needs_one_component():
    direction = torch.tensor([0.6, 0.8, 0.0])
    train = 0.5 + torch.linspace(-0.3, 0.3, 9)[:, None] * direction
    off_line = torch.tensor([[0.5, 0.5, 0.6]])  # 0.1 away from the line, along the third pixel
    found = pca_mses(train, {"train": train, "test": off_line, "val": train[:0]}, 1)
    assert found["train"] == pytest.approx(0, abs=1e-12) and "val" not in found
    assert found["test"] == pytest.approx(0.1**2 / 3)
    assert pca_mses(train, {"test": off_line}, 2)["test"] == pytest.approx(0.1**2 / 3)  # beyond the rank: still off


def test_a_model_or_data_it_does_not_know_gets_nothing():
    data = HousingDataModule()
    data.setup("fit")
    assert reference_values(L.LightningModule(), data) == {}


def test_a_failed_computation_is_a_warning(monkeypatch, tmp_path):
    def fail(model, datamodule):
        raise RuntimeError("no luck")

    monkeypatch.setattr(references, "reference_values", fail)
    logger = TensorBoardLogger(tmp_path)
    trainer = SimpleNamespace(is_global_zero=True, loggers=[logger], datamodule=object())
    with pytest.warns(UserWarning, match="Reference values not logged: RuntimeError: no luck"):
        ReferenceValues().on_train_start(trainer, L.LightningModule())
    assert ReferenceValues(skip=True).logged == {}


def test_a_housing_fit_logs_the_four_references_once_at_step_0(workdir):
    # a full-batch descent at 0.95 times the step limit: its training loss ends on the reference
    options = ("--trainer.max_epochs", "300", "--model.learning_rate", str(0.95 * 0.16202))
    outcome = fit(str(CONFIGS / "regression.yaml"), *options, *SETTINGS)
    logged = scalars(outcome.log_dir)
    for name in HOUSING:
        assert len(logged[f"reference/{name}"]) == 1 and logged[f"reference/{name}"][0][0] == 0, name
    assert logged["reference/step_limit"][0][1] == pytest.approx(0.16202, abs=1e-4)
    reference = logged["reference/train/loss"][0][1]
    assert reference == pytest.approx(19.7767, abs=1e-3)
    assert logged["train/loss"][-1][1] == pytest.approx(reference, rel=0.01)
    assert logged["val/loss"][-1][1] == pytest.approx(logged["reference/val/loss"][0][1], rel=0.01)


@pytest.mark.slow
def test_a_step_above_the_limit_does_not_reduce_the_training_loss(workdir):
    options = ("--trainer.max_epochs", "300", "--model.learning_rate", str(1.05 * 0.16202))
    outcome = fit(str(CONFIGS / "regression.yaml"), *options, "--divergence_factor", "1e30", *SETTINGS)
    losses = [value for _, value in scalars(outcome.log_dir)["train/loss"]]
    assert len(losses) == 300 and losses[-1] > 1e6 * losses[0]


def test_a_sample_classifier_fit_logs_chance(workdir):
    options = ("--data.source", "sample", "--trainer.limit_train_batches", "2", "--trainer.max_epochs", "1")
    outcome = fit(str(CONFIGS / "classifier.yaml"), *options, *SETTINGS)
    logged = scalars(outcome.log_dir)
    assert [step for step, _ in logged["reference/test/acc"]] == [0]
    assert 0.1 <= logged["reference/test/acc"][0][1] <= 0.13 and len(logged["reference/val/acc"]) == 1
    assert not any(name.startswith("reference/") and name.endswith("loss") for name in logged)


def test_the_autoencoder_gets_pca_with_as_many_components_as_its_code():
    from amal_lightning.data import MNISTDataModule
    from amal_lightning.tme3 import Autoencoder

    data = MNISTDataModule(source="sample")
    data.setup("fit")
    found = reference_values(Autoencoder(latent_dim=[128, 16]), data)
    images = {"val": data.val_set.images, "test": data.test_set.images}
    assert {name: value for name, value in found.items() if not name.startswith("mean_image/")} == pytest.approx(
        {f"{name}/mse": mse for name, mse in pca_mses(data.train_set.images, images, 16).items()}
    )
    assert 0.01 < found["test/mse"] < 0.07  # per pixel in [0, 1]: 16 components keep the digits' outline only


def test_a_fit_resumed_in_its_own_run_does_not_log_them_again(workdir):
    config = str(CONFIGS / "regression.yaml")
    first = fit(config, "--trainer.max_epochs", "3", *SETTINGS)
    resumed = fit(config, "--trainer.max_epochs", "5", "--ckpt_path", "last", *SETTINGS)
    assert resumed.log_dir == first.log_dir
    logged = scalars(resumed.log_dir)
    assert len(logged["train/loss"]) == 5
    assert all(len(logged[f"reference/{name}"]) == 1 for name in HOUSING)
