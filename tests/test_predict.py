"""``amal predict``: a file of predictions per run, for every model, on the test split or the user's own data."""

import csv
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from jsonargparse.typing import PositiveFloat
from PIL import Image

from amal_lightning.data import HousingDataModule
from amal_lightning.data.housing import bundled_housing_path
from amal_lightning.data.idx import write_idx
from amal_lightning.tme2 import AutogradRegression
from tests.helpers import CONFIGS, run_inprocess, synthetic_digits, write_synthetic_mnist

MNIST_FULL = ["--data.source=full", "--data.download=false"]
TEST_IMAGES = 30
HOUSING_TEST_ROWS = round(0.2 * 506)


class NoPredictStep(L.LightningModule):
    """A model that can train but has nothing to say for ``amal predict``.

    Its ``learning_rate`` has the type of the regression's that the config sets: jsonargparse hands
    over the value parsed for that class, which it could not serialize under another type.
    """

    def __init__(self, learning_rate: PositiveFloat = 0.1) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(13, 1)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def predict_and_say(capsys: pytest.CaptureFixture, *args: str) -> tuple[Path, str]:
    """Runs ``amal predict ARGS``; returns the file named by the line it prints last, and that line."""
    capsys.readouterr()
    run_inprocess("predict", *args)
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    path = Path(last_line.split(": ")[-1].split(" and ")[0])
    assert path.is_file(), last_line
    return path, last_line


def predict(capsys: pytest.CaptureFixture, *args: str) -> Path:
    return predict_and_say(capsys, *args)[0]


def fails(capsys: pytest.CaptureFixture, *args: str) -> str:
    """Runs ``amal predict ARGS``, which must fail with one line; returns it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_inprocess("predict", *args)
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in error if line.startswith("amal: error:")]) == 1 and "Traceback" not in error
    return error[-1]


@pytest.fixture
def mnist(workdir):
    write_synthetic_mnist(workdir / "data", train=120, test=TEST_IMAGES)
    return workdir


def test_classifier_predicts_every_test_image_and_says_where(mnist, capsys):
    config = str(CONFIGS / "classifier.yaml")
    run_inprocess("fit", "--config", config, *MNIST_FULL, "--trainer.max_epochs=3")
    path, line = predict_and_say(capsys, "--config", config, *MNIST_FULL, "--ckpt_path", "last")
    assert line.startswith(f"Predictions for the {TEST_IMAGES} test examples by checkpoints/classifier/version_0/")
    # named after the run whose checkpoint it used, and the next prediction by it kept apart
    assert path == Path("predictions/classifier/version_0/predict-last-0/predictions.csv")
    assert line.endswith(f": {path}")
    rows = read_rows(path)
    assert list(rows[0]) == ["index", "label", "predicted", "probability"]
    assert [int(row["index"]) for row in rows] == list(range(TEST_IMAGES))
    _, labels = synthetic_digits(TEST_IMAGES, 1)  # the test images of write_synthetic_mnist
    assert [int(row["label"]) for row in rows] == labels.tolist()
    assert all(0.1 <= float(row["probability"]) <= 1 for row in rows)  # the top one of 10 classes
    # the synthetic digits are easy: three epochs are enough to get most of them right
    assert sum(row["label"] == row["predicted"] for row in rows) >= 0.8 * TEST_IMAGES


def test_predicting_without_a_checkpoint_says_the_model_is_untrained(mnist, capsys):
    path, line = predict_and_say(capsys, "--config", str(CONFIGS / "highway.yaml"), *MNIST_FULL)
    assert len(read_rows(path)) == TEST_IMAGES
    assert line.startswith(f"Predictions for the {TEST_IMAGES} test examples by an untrained model (no --ckpt_path): ")


def test_housing_predictions_are_the_checkpoints_on_the_test_split(workdir, capsys):
    config = str(CONFIGS / "regression.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=20")
    path = predict(capsys, "--config", config, "--ckpt_path", "last")
    rows = read_rows(path)
    assert list(rows[0]) == ["index", "target", "prediction"] and len(rows) == HOUSING_TEST_ROWS
    data = HousingDataModule()
    data.setup("predict")
    x, y = data.test_set.tensors
    model = AutogradRegression.load_from_checkpoint("checkpoints/regression/version_0/last.ckpt")
    with torch.no_grad():
        expected = model(x).squeeze(1)
    torch.testing.assert_close(torch.tensor([float(row["target"]) for row in rows]), y.squeeze(1), rtol=1e-5, atol=0)
    torch.testing.assert_close(torch.tensor([float(row["prediction"]) for row in rows]), expected, rtol=1e-5, atol=1e-5)


def test_a_housing_file_of_ones_own_is_scaled_as_the_training_rows(workdir, capsys):
    config = str(CONFIGS / "tanh_mlp.yaml")
    run_inprocess("fit", "--config", config, "--trainer.max_epochs=5")
    test_split = read_rows(predict(capsys, "--config", config, "--ckpt_path", "last"))
    whole_table = read_rows(
        predict(capsys, "--config", config, "--ckpt_path", "last", "--data.predict_path", str(bundled_housing_path()))
    )
    assert len(whole_table) == 506 and [int(row["index"]) for row in whole_table] == list(range(506))
    # Each test row is a row of the table, predicted alike. Not bit for bit: a batch of another size
    # may sum in another order (one torch thread per test worker takes other kernels).
    by_target: dict[str, list[float]] = {}
    for row in whole_table:
        by_target.setdefault(row["target"], []).append(float(row["prediction"]))
    for row in test_split:
        predicted = float(row["prediction"])
        assert any(abs(other - predicted) <= 1e-5 * max(1.0, abs(predicted)) for other in by_target[row["target"]])

    lines = bundled_housing_path().read_text().splitlines()[:3]
    Path("features_only.data").write_text("".join(" ".join(line.split()[:13]) + "\n" for line in lines))
    features_only = read_rows(
        predict(capsys, "--config", config, "--ckpt_path", "last", "--data.predict_path", "features_only.data")
    )
    assert list(features_only[0]) == ["index", "prediction"]
    assert [float(row["prediction"]) for row in features_only] == pytest.approx(
        [float(row["prediction"]) for row in whole_table[:3]], rel=1e-5
    )


def test_random_regression_writes_one_column_per_output(workdir, capsys):
    rows = read_rows(predict(capsys, "--config", str(CONFIGS / "tme1_random.yaml")))
    assert list(rows[0]) == ["index", *(f"target_{j}" for j in range(3)), *(f"prediction_{j}" for j in range(3))]
    assert len(rows) == 20


def test_autoencoder_writes_errors_and_a_picture_of_the_worst_and_best(mnist, capsys):
    path = predict(capsys, "--config", str(CONFIGS / "autoencoder.yaml"), *MNIST_FULL)
    rows = read_rows(path)
    assert list(rows[0]) == ["index", "label", "mse"] and len(rows) == TEST_IMAGES
    errors = torch.tensor([float(row["mse"]) for row in rows])
    assert (errors > 0).all()
    grid = torch.from_numpy(np.array(Image.open(path.with_name("reconstructions.png")).convert("L")))[None]
    assert grid.shape[1:] == (2 + 4 * 30, 2 + 8 * 30)  # 4 rows of 8 digits of 28 pixels, 2 between them
    images, _ = synthetic_digits(TEST_IMAGES, 1)
    worst, best = int(errors.argmax()), int(errors.argmin())
    assert (grid[0, 2:30, 2:30].int() - torch.from_numpy(images[worst]).int()).abs().max() <= 1
    assert (grid[0, 62:90, 2:30].int() - torch.from_numpy(images[best]).int()).abs().max() <= 1


def test_an_idx_folder_and_a_png_folder_of_ones_own(mnist, capsys):
    config = str(CONFIGS / "classifier.yaml")
    run_inprocess("fit", "--config", config, *MNIST_FULL, "--trainer.max_epochs=2")
    images, labels = synthetic_digits(5, 7)
    Path("idx").mkdir()
    write_idx(Path("idx/mine-images-idx3-ubyte"), images)
    write_idx(Path("idx/mine-labels-idx1-ubyte"), labels)
    from_idx = read_rows(predict(capsys, "--config", config, "--ckpt_path", "last", "--data.predict_path", "idx"))
    assert [int(row["label"]) for row in from_idx] == labels.tolist()

    shutil.rmtree("data")  # one's own digits need no MNIST
    Path("pngs").mkdir()
    for number, image in enumerate(images):
        # dark on light, as drawn in most programs: inverted on reading
        Image.fromarray(255 - image if number % 2 else image).save(f"pngs/{number:02d}.png")
    from_png = read_rows(predict(capsys, "--config", config, "--ckpt_path", "last", "--data.predict_path", "pngs"))
    assert list(from_png[0]) == ["index", "file", "predicted", "probability"]
    assert [row["file"] for row in from_png] == [f"{number:02d}.png" for number in range(5)]
    assert [row["predicted"] for row in from_png] == [row["predicted"] for row in from_idx]
    assert not Path("data").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data.predict_path", "missing"], "--data.predict_path missing: not a folder"),
        (["--data.predict_path", "empty"], "--data.predict_path empty: no PNG files and no *images-idx3-ubyte file"),
        (["--data.predict_path", "bad_png"], "bad_png/0.png: not a readable PNG image"),
    ],
)
def test_a_bad_folder_of_digits_is_one_line(workdir, capsys, args, message):
    Path("empty").mkdir()
    Path("bad_png").mkdir()
    Path("bad_png/0.png").write_bytes(b"not a png")
    assert message in fails(capsys, "--config", str(CONFIGS / "classifier.yaml"), *args)


def test_nothing_to_predict_is_one_line(workdir, capsys):
    config = str(CONFIGS / "regression.yaml")
    assert "nothing to predict: the test split is empty" in fails(capsys, "--config", config, "--data.test_fraction=0")
    message = fails(capsys, "--config", config, "--model=tests.test_predict.NoPredictStep")
    assert message == "amal: error: NoPredictStep has no predict_step: amal predict has nothing to write for it"
    Path("bad.data").write_text("1 2 3\n")
    message = fails(capsys, "--config", config, "--data.predict_path", "bad.data")
    assert message.endswith(
        "bad.data, line 1: expected 14 columns (13 features and MEDV) or 13 (the features), found 3"
    )


def test_predictions_come_from_one_process(workdir, capsys):
    args = ["--config", str(CONFIGS / "regression.yaml"), "--trainer.accelerator=cpu", "--trainer.devices=2"]
    message = fails(capsys, *args)
    assert message == "amal: error: amal predict writes one file from one process: pass --trainer.devices 1"
    assert not Path("predictions").exists()


def test_earlier_predictions_are_never_overwritten(workdir, capsys):
    Path("predictions/regression/version_0").mkdir(parents=True)
    message = fails(capsys, "--config", str(CONFIGS / "regression.yaml"), "--trainer.logger=false")
    assert "predictions/regression/version_0: exists already" in message
    assert list(Path("predictions/regression").iterdir()) == [Path("predictions/regression/version_0")]
    assert not any(Path("predictions/regression/version_0").iterdir())


def test_png_digits_must_be_mnists_size(workdir, capsys):
    Path("big").mkdir()
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save("big/a.png")
    message = fails(capsys, "--config", str(CONFIGS / "classifier.yaml"), "--data.predict_path", "big")
    assert message.endswith("big/a.png: 32×32 pixels, expected 28×28 (MNIST's size)")
