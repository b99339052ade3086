"""Several loggers: TensorBoard is always kept, the loggers a user adds write under the run's folder too."""

import csv
import time

import pytest

from amal_lightning.api import fit
from amal_lightning.api.loggers import wait_to_name_after_earlier_event_files
from amal_lightning.api.trainer_parts import RUN_FOLDER, with_logger_folders
from amal_lightning.command_line.main import main
from tests.helpers import CONFIGS

REGRESSION = str(CONFIGS / "regression.yaml")
QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")


def test_an_added_csv_logger_writes_beside_tensorboard_in_the_run_folder(workdir):
    outcome = fit(REGRESSION, "--trainer.max_epochs", "4", "--trainer.logger+=CSVLogger", *QUIET)
    assert any(outcome.log_dir.glob("events.out.tfevents.*"))
    (metrics,) = outcome.log_dir.glob("csv/**/metrics.csv")
    with open(metrics, newline="") as file:
        rows = [row for row in csv.DictReader(file) if row.get("train/loss")]
    assert len(rows) == 4


def test_a_study_with_an_added_logger_still_draws_its_figures(workdir, capsys):
    study = workdir / "logged.yaml"
    study.write_text(
        f"name: logged\nconfig: {REGRESSION}\n"
        "common: [--trainer.max_epochs, '3', --trainer.logger+=CSVLogger, --trainer.enable_progress_bar=false]\n"
        "grid: {model.learning_rate: [0.05, 0.1]}\n"
    )
    main(["study", str(study)])
    assert sorted(path.name for path in (workdir / "studies/logged").glob("*.png")) == ["loss-epoch.png"]
    assert len(list((workdir / "logs").glob("logged.*/version_0/csv/**/metrics.csv"))) == 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--trainer.logger+=CSVLogger"],
            ["--trainer.logger+=CSVLogger", f"--trainer.logger.save_dir={RUN_FOLDER}/csv"],
        ),
        (
            ["--trainer.logger", "CSVLogger", "--x"],
            ["--trainer.logger", "CSVLogger", f"--trainer.logger.save_dir={RUN_FOLDER}/csv", "--x"],
        ),
        (
            ["--trainer.logger+=CSVLogger", "--trainer.logger.save_dir=mine"],
            ["--trainer.logger+=CSVLogger", "--trainer.logger.save_dir=mine"],
        ),
        (["--trainer.logger", "false"], ["--trainer.logger", "false"]),
    ],
)
def test_added_loggers_get_a_folder_unless_given_one(argv, expected):
    assert with_logger_folders(argv) == expected


def test_an_added_mlflow_logger_keeps_its_file_store_in_the_run_folder(workdir, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    outcome = fit(REGRESSION, "--trainer.max_epochs", "3", "--trainer.logger+=MLFlowLogger", *QUIET)
    metrics = list(outcome.log_dir.glob("mlflow/*/*/metrics/train/loss"))
    assert len(metrics) == 1 and len(metrics[0].read_text().splitlines()) == 3
    assert any(outcome.log_dir.glob("events.out.tfevents.*"))


def test_a_resumed_run_s_event_file_is_named_after_one_opened_the_same_second(tmp_path):
    """TensorBoard reads a folder's files in name order; a count of 10 must not sort before 9."""
    second = int(time.time())
    (tmp_path / f"events.out.tfevents.{second:010d}.host.123.9").write_bytes(b"")
    wait_to_name_after_earlier_event_files(tmp_path)
    assert time.time() >= second + 1
    later = f"events.out.tfevents.{int(time.time()):010d}.host.123.10"
    assert sorted([later, f"events.out.tfevents.{second:010d}.host.123.9"])[-1] == later
