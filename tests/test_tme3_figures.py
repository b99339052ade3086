"""The TME3 test figures as PNG files: the classifiers' confusion matrix and confident mistakes, the
autoencoder's code projection, reconstructions and interpolation."""

from pathlib import Path

import lightning as L
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from amal_lightning.api import fit
from amal_lightning.tme3 import (
    Autoencoder,
    AutoencoderFigures,
    Classifier,
    ClassifierFigures,
    autoencoder_figures,
    classifier_figures,
)
from amal_lightning.tme3.autoencoder_figures import pca_2d
from amal_lightning.tme3.classifier_figures import confusion_matrix
from amal_lightning.tme3.figure_files import save_figure
from tests.helpers import CONFIGS, TEST_SETTINGS, write_synthetic_mnist

SETTINGS = [f"{name}={value}" for name, value in TEST_SETTINGS.items()]
TINY = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]
DIGIT_PIXELS = 84  # a 28-pixel digit drawn at least three times larger


def dpi(path: Path) -> float:
    """The file's dpi; and it is written in at most 256 colours, as docs/figures' others (amal_lightning.png)."""
    with Image.open(path) as image:
        assert image.mode == "P", f"{path.name}: {image.mode}, not a palette of at most 256 colours"
        return min(image.info["dpi"])


def width(path: Path) -> int:
    with Image.open(path) as image:
        return image.width


def recorder(monkeypatch, module, name: str) -> list:
    """Replaces ``module.name`` by a wrapper that records its arguments, and returns that record."""
    calls, original = [], getattr(module, name)

    def wrapper(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_confusion_matrix_of_a_known_case():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    predicted = torch.tensor([0, 1, 1, 2, 0, 2])
    expected = torch.tensor([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    matrix = confusion_matrix(labels, predicted, 3)
    torch.testing.assert_close(matrix, expected)
    assert matrix.sum() == len(labels) and matrix.trace() == 4  # the right answers on the diagonal


def test_pca_of_codes_on_a_line_holds_all_the_variance_on_its_first_axis():
    t = torch.linspace(-1, 1, 50).unsqueeze(1)
    codes = torch.cat([3 * t, -4 * t, torch.zeros_like(t)], 1) + 7  # a line in 3-D, off the origin
    projection, shares = pca_2d(codes)
    assert projection.shape == (50, 2)
    assert shares[0] == pytest.approx(1.0) and shares[1] == pytest.approx(0.0, abs=1e-6)
    torch.testing.assert_close(projection[:, 0].abs(), 5 * t.squeeze(1).abs(), atol=1e-5, rtol=1e-5)
    assert projection.mean(0).abs().max() < 1e-5  # centred
    one_number, _ = pca_2d(torch.rand(10, 1))
    assert one_number.shape == (10, 2)


def test_the_confusion_counts_every_test_digit_once_and_the_mistakes_are_the_most_confident(tmp_path, monkeypatch):
    counts = recorder(monkeypatch, classifier_figures, "confusion_figure")
    mistakes = recorder(monkeypatch, classifier_figures, "wrong_figure")
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.rand(70, 784, generator=generator), torch.arange(70) % 10
    torch.manual_seed(0)
    model = Classifier(hidden_dim=16)
    trainer = L.Trainer(
        default_root_dir=tmp_path, callbacks=[ClassifierFigures(num_wrong=5)], enable_progress_bar=False
    )
    trainer.test(model, DataLoader(TensorDataset(images, labels), batch_size=32), verbose=False)  # 32, 32, 6

    ((matrix,),) = counts
    assert matrix.sum() == 70
    torch.testing.assert_close(matrix.sum(1), torch.bincount(labels, minlength=10))  # each row: a digit's images
    with torch.no_grad():
        probability, predicted = model(images).softmax(1).max(1)
    wrong = predicted != labels
    expected = probability[wrong].sort(descending=True).values[:5]
    ((kept, total),) = mistakes
    assert total == 70
    torch.testing.assert_close(kept["probability"], expected)
    assert (kept["predicted"] != kept["label"]).all() and kept["image"].shape == (5, 784)
    folder = Path(trainer.log_dir)
    for name in ("confusion.png", "confidently_wrong.png"):
        assert dpi(folder / name) >= 150


def test_without_a_logger_nothing_is_kept_or_written(tmp_path):
    figures = ClassifierFigures()
    trainer = L.Trainer(default_root_dir=tmp_path, logger=False, callbacks=[figures], enable_progress_bar=False)
    loader = DataLoader(TensorDataset(torch.rand(20, 784), torch.arange(20) % 10), batch_size=8)
    trainer.test(Classifier(hidden_dim=8), loader, verbose=False)
    assert figures.confusion is None and figures.wrong is None
    assert not list(tmp_path.rglob("*.png"))


@pytest.mark.parametrize("config", ["classifier", "highway"])
def test_a_classifier_fit_writes_its_figures_in_its_log_folder(workdir, monkeypatch, config):
    counts = recorder(monkeypatch, classifier_figures, "confusion_figure")
    write_synthetic_mnist(workdir / "mnist", train=300, test=90)
    data = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=32"]
    outcome = fit(CONFIGS / f"{config}.yaml", *TINY, *data, "--model.hidden_dim=16", *SETTINGS)

    ((matrix,),) = counts  # the test after the fit: 90 digits in batches of 32
    assert matrix.sum() == 90 and matrix.sum(1).tolist() == [9] * 10
    for name in ("confusion.png", "confidently_wrong.png"):
        assert dpi(outcome.log_dir / name) >= 150
    assert width(outcome.log_dir / "confidently_wrong.png") >= 4 * DIGIT_PIXELS


def test_an_autoencoder_fit_writes_its_figures_in_its_log_folder(workdir, monkeypatch):
    codes = recorder(monkeypatch, autoencoder_figures, "pca_figure")
    write_synthetic_mnist(workdir / "mnist", train=300, test=90)
    data = ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=32"]
    outcome = fit(CONFIGS / "autoencoder.yaml", *TINY, *data, "--model.latent_dim=8", *SETTINGS)

    ((projected, labels),) = codes  # the config's num_codes (2,000) is more than the test set holds
    assert projected.shape == (90, 8) and sorted(labels.tolist()) == sorted(list(range(10)) * 9)
    folder = outcome.log_dir
    for name in ("codes_pca.png", "reconstructions.png", "interpolation.png"):
        assert dpi(folder / name) >= 150
    assert width(folder / "reconstructions.png") >= 8 * DIGIT_PIXELS  # the config's 8 digits
    assert width(folder / "interpolation.png") >= 10 * DIGIT_PIXELS  # and 10 values of λ
    assert list(folder.glob("events.out.tfevents*"))  # beside the TensorBoard files


def test_one_class_gives_no_interpolation_and_the_codes_stop_at_num_codes(tmp_path, monkeypatch):
    codes = recorder(monkeypatch, autoencoder_figures, "pca_figure")
    images = torch.rand(40, 784, generator=torch.Generator().manual_seed(0))
    loader = DataLoader(TensorDataset(images, torch.full((40,), 7)), batch_size=16)
    figures = AutoencoderFigures(num_images=3, num_codes=20)
    trainer = L.Trainer(default_root_dir=tmp_path, callbacks=[figures], enable_progress_bar=False)
    trainer.test(Autoencoder(latent_dim=4), loader, verbose=False)
    ((projected, labels),) = codes
    assert projected.shape == (20, 4) and labels.tolist() == [7] * 20  # cut inside the second batch
    assert figures.test_batches == []  # released once drawn
    written = sorted(path.name for path in Path(trainer.log_dir).glob("*.png"))
    assert written == ["codes_pca.png", "reconstructions.png"]


def test_a_test_without_mistakes_still_gets_its_file(tmp_path):
    none = {
        "image": torch.zeros(0, 784),
        "label": torch.zeros(0),
        "predicted": torch.zeros(0),
        "probability": torch.zeros(0),
    }
    path = save_figure(classifier_figures.wrong_figure(none, 90), tmp_path / "confidently_wrong.png")
    assert path is not None and dpi(path) >= 150
