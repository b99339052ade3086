"""The run function: ``amal_lightning.api.fit`` (and test, validate, predict) return an outcome or raise
the project's typed errors, printing no error and ending no process."""

import os
import sys
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import Callback

from amal_lightning.api import check_command_line, check_options, fit, predict, test
from amal_lightning.api.scope import run_scope
from amal_lightning.errors import AmalError, DivergedError, UsageError
from tests.helpers import CONFIGS

REGRESSION = str(CONFIGS / "regression.yaml")
QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")


def test_a_fit_returns_its_outcome(workdir, capsys):
    outcome = fit(REGRESSION, "--trainer.max_epochs", "4", *QUIET)
    assert (outcome.command, outcome.status, outcome.reason) == ("fit", "finished", "max_epochs=4 reached")
    assert (outcome.experiment, outcome.run, outcome.epochs, outcome.steps) == ("regression", "version_0", 4, 4)
    assert outcome.last_checkpoint == outcome.checkpoint_dir / "last.ckpt" and outcome.last_checkpoint.is_file()
    assert outcome.best_checkpoint.is_file() and outcome.tested_checkpoint == outcome.best_checkpoint
    assert set(outcome.test_metrics) == {"test/loss"} and outcome.test_metrics["test/loss"] > 0
    assert {"train/loss", "val/loss"} <= set(outcome.final_metrics)
    assert outcome.best_epoch is not None and "val/loss" in outcome.best_metrics
    assert outcome.log_dir is not None and outcome.log_dir.is_dir()
    assert capsys.readouterr().err == ""

    tested = test(REGRESSION, "--ckpt_path", "best", *QUIET)
    assert tested.command == "test" and tested.test_metrics["test/loss"] == pytest.approx(
        outcome.test_metrics["test/loss"]
    )
    predicted = predict(REGRESSION, "--ckpt_path", "last", *QUIET)
    assert predicted.predictions is not None and predicted.predictions.is_file()


def test_a_diverging_fit_raises_the_diverged_error_with_its_outcome(workdir, capsys):
    with pytest.raises(DivergedError) as raised:
        fit(REGRESSION, "--model.learning_rate=10", "--trainer.max_epochs", "50", *QUIET)
    assert str(raised.value).startswith("training diverged at epoch ")
    outcome = raised.value.outcome
    assert outcome is not None and (outcome.status, outcome.run) == ("diverged", "version_0")
    assert (outcome.checkpoint_dir / "diverged.json").is_file()
    assert capsys.readouterr().err == ""  # the caller decides what to say


def test_a_bad_option_raises_a_usage_error_naming_it(workdir, capsys):
    with pytest.raises(UsageError) as raised:
        fit(REGRESSION, "--model.learning_rat", "0.1")
    assert "--model.learning_rat" in str(raised.value) and "learning_rate" in str(raised.value)
    with pytest.raises(UsageError) as raised:
        check_command_line(["fit", "--config", REGRESSION, "--model.learning_rate", "-1"])
    assert "--model.learning_rate" in str(raised.value)
    check_command_line(["fit", "--config", REGRESSION, "--trainer.max_epochs", "3"])  # accepted: nothing raised
    assert not (workdir / "checkpoints").exists() and not (workdir / "logs").exists()
    assert capsys.readouterr().err == ""


def test_checks_in_a_row_each_judge_their_own_command_line():
    """The checks share one parser (a study checks all its variants): nothing of one leaks into the next."""
    classifier, highway = str(CONFIGS / "classifier.yaml"), str(CONFIGS / "highway.yaml")
    check_command_line(["fit", "--config", highway, "--model.num_layers", "3"])
    with pytest.raises(UsageError, match="--model.num_layers"):  # a Highway option, not the classifier's
        check_command_line(["fit", "--config", classifier, "--model.num_layers", "3"])
    check_command_line(["fit", "--config", classifier, "--model.num_hidden_layers", "3"])
    with pytest.raises(UsageError, match="--trainer.max_epoch"):
        check_command_line(["fit", "--config", REGRESSION, "--trainer.max_epoch", "3"])
    check_command_line(["fit", "--config", REGRESSION, "--trainer.max_epochs", "3"])


def test_a_bad_file_raises_the_project_error(workdir):
    (workdir / "bad.data").write_text("1 2 3\n")
    with pytest.raises(AmalError) as raised:
        fit(REGRESSION, "--data.path", "bad.data", *QUIET)
    assert "bad.data" in str(raised.value) and not isinstance(raised.value, UsageError)


class EpochCounter(Callback):
    """Counts the training epochs that end: a callback given as an object to a fit."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epochs += 1


def regression_mapping() -> dict:
    return yaml.safe_load(Path(REGRESSION).read_text())


def test_a_fit_of_a_mapping_calls_its_callbacks_each_epoch_and_leaves_argv_and_environment(workdir, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["python", "notebook.py", "--an-argument-of-the-caller"])
    argv, environment = list(sys.argv), dict(os.environ)
    counter = EpochCounter()
    outcome = fit(regression_mapping(), {"trainer.max_epochs": 3, "test": False}, *QUIET, callbacks=[counter])
    assert counter.epochs == 3 and outcome.epochs == 3 and outcome.status == "finished"
    assert outcome.experiment == "autograd_regression"  # a mapping has no file name: its model's class names it
    assert sys.argv == argv and dict(os.environ) == environment


def test_an_option_mapping_overrides_the_config_and_earlier_options(workdir):
    outcome = fit(
        REGRESSION,
        "--trainer.max_epochs",
        "5",
        {"trainer.max_epochs": 2, "experiment": "mine", "model.learning_rate": 0.05},
        *QUIET,
    )
    assert (outcome.experiment, outcome.epochs) == ("mine", 2)
    saved = yaml.safe_load((outcome.log_dir / "config.yaml").read_text())
    assert saved["model"]["init_args"]["learning_rate"] == 0.05


def test_a_bad_key_in_a_mapping_is_refused_with_the_line_of_the_word_form(workdir):
    with pytest.raises(UsageError) as words:
        check_options(REGRESSION, "--model.learning_rat=0.1")
    with pytest.raises(UsageError) as mapping:
        check_options(REGRESSION, {"model.learning_rat": 0.1})
    assert str(mapping.value) == str(words.value) and "\n" not in str(mapping.value)
    with pytest.raises(UsageError) as fitted:
        fit(regression_mapping(), {"model.learning_rat": 0.1})
    assert str(fitted.value) == str(words.value)
    assert not (workdir / "checkpoints").exists()


def test_the_run_scope_puts_back_what_a_run_changes_unless_it_started_other_processes(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["notebook", "--its-own"])
    monkeypatch.setenv("AMAL_TEST_KEPT", "before")
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    before = dict(os.environ)
    with run_scope(["fit", "--config", REGRESSION]):
        assert sys.argv == ["notebook"]  # LightningCLI given args must not see the caller's
        os.environ["AMAL_TEST_ADDED"] = "1"
        os.environ["AMAL_TEST_KEPT"] = "changed"
    assert dict(os.environ) == before and sys.argv == ["notebook", "--its-own"]
    with run_scope(["fit"]):
        os.environ["LOCAL_RANK"] = "0"  # Lightning's launcher started the run's other processes
        os.environ["AMAL_TEST_ADDED"] = "1"
    assert os.environ["AMAL_TEST_ADDED"] == "1"  # a later fit in this process finds what they share
    del os.environ["LOCAL_RANK"], os.environ["AMAL_TEST_ADDED"]  # not monkeypatch's: it would put them back
