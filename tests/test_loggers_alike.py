"""Every logger a user adds gets what TensorBoard gets, under the same names, in the run's own folder."""

import csv

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from amal_lightning.api import fit
from tests.helpers import CONFIGS, TEST_SETTINGS

TANH_MLP = str(CONFIGS / "tanh_mlp.yaml")
FIVE_EPOCHS = ("--trainer.max_epochs", "5", "--data.test_each_epoch", "true", *TEST_SETTINGS.items())


def csv_points(path) -> dict[str, list[tuple[int, float]]]:
    """Each column of a CSV logger's metrics.csv as its (step, value) points."""
    points: dict[str, list[tuple[int, float]]] = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            for name, value in row.items():
                if value and name != "step":
                    points.setdefault(name, []).append((int(row["step"]), float(value)))
    return points


def tensorboard_points(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Each scalar of the run's TensorBoard event files as its (step, value) points."""
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {name: [(event.step, event.value) for event in events.Scalars(name)] for name in events.Tags()["scalars"]}


def test_a_csv_logger_gets_tensorboards_points_under_its_names_in_the_run_folder(workdir):
    outcome = fit(TANH_MLP, *FIVE_EPOCHS, "--trainer.logger+=CSVLogger")
    metrics = outcome.log_dir / "csv" / "metrics.csv"  # no lightning_logs/version_0 inside the run's folder
    assert metrics.is_file() and not (outcome.log_dir / "csv" / "lightning_logs").exists()
    points, tensorboard = csv_points(metrics), tensorboard_points(outcome.log_dir)
    assert len(points["test/loss"]) == 5 and len(points["best/test/loss"]) == 1  # not a sixth test/loss point
    for name in ("train/loss", "val/loss", "test/loss", "best/test/loss", "reference/val/loss", "hp/test/loss"):
        assert [value for _, value in points[name]] == pytest.approx([value for _, value in tensorboard[name]])
    assert points["best/test/loss"][0][1] == pytest.approx(outcome.test_metrics["test/loss"])


def test_an_mlflow_logger_gets_tensorboards_points_named_after_the_run(workdir, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    outcome = fit(TANH_MLP, *FIVE_EPOCHS, "--trainer.logger+=MLFlowLogger")
    (run,) = [path.parent for path in (outcome.log_dir / "mlflow").glob("*/*/metrics")]
    assert f"name: {outcome.experiment}" in (run.parent / "meta.yaml").read_text()

    def points(name: str) -> list[float]:
        return [float(line.split()[1]) for line in (run / "metrics" / name).read_text().splitlines()]

    tensorboard = tensorboard_points(outcome.log_dir)
    assert len(points("test/loss")) == 5 and len(points("best/test/loss")) == 1
    for name in ("train/loss", "test/loss", "best/test/loss", "reference/train/loss", "hp/val/loss"):
        assert points(name) == pytest.approx([value for _, value in tensorboard[name]])


def test_a_fit_resumed_in_its_own_run_keeps_the_csv_logger_s_earlier_points(workdir):
    quick = (
        "--data.test_each_epoch",
        "false",
        "--test",
        "false",
        *TEST_SETTINGS.items(),
        "--trainer.logger+=CSVLogger",
    )
    first = fit(TANH_MLP, "--trainer.max_epochs", "2", *quick)
    resumed = fit(TANH_MLP, "--trainer.max_epochs", "3", "--ckpt_path", "last", *quick)
    assert resumed.log_dir == first.log_dir
    assert len(csv_points(first.log_dir / "csv" / "metrics.csv")["train/loss"]) == 2
    (later,) = (first.log_dir / "csv").glob("resumed_from_step_*/metrics.csv")
    assert [step for step, _ in csv_points(later)["train/loss"]] == [2]
