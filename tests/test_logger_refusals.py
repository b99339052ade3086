"""A logger that is not one, or that its class refuses to build, ends in one line naming it, with no traceback."""

import importlib.util

import pytest

from amal_lightning.api import check_command_line
from amal_lightning.errors import UsageError
from tests.helpers import CONFIGS, amal_status

TANH_MLP = str(CONFIGS / "tanh_mlp.yaml")


@pytest.mark.parametrize(
    ("option", "line"),
    [
        (
            "--trainer.logger+=NoSuchLogger",
            "--trainer.logger: NoSuchLogger is not a Logger class "
            "(expected a Logger class by its name or import path, or true or false)",
        ),
        ("--trainer.logger=torch.nn.Linear", "--trainer.logger: torch.nn.Linear is not a Logger class"),
        (
            "--trainer.callbacks+=NoSuchCallback",
            "--trainer.callbacks: NoSuchCallback is not a Callback class "
            "(expected a Callback class by its name or import path)",
        ),
    ],
)
def test_a_word_that_names_no_class_of_its_kind_says_what_is_accepted(option, line):
    with pytest.raises(UsageError) as refused:
        check_command_line(["fit", "--config", TANH_MLP, option])
    assert str(refused.value).startswith(line) and "\n" not in str(refused.value)


def test_a_logger_its_class_refuses_to_build_is_one_line_with_the_class_s_reason(workdir, capsys):
    pytest.importorskip("mlflow")
    options = ("--trainer.logger+=MLFlowLogger", "--trainer.logger.tracking_uri=nosuchscheme://x")
    assert amal_status("fit", "--config", TANH_MLP, "--trainer.max_epochs=1", *options) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("amal: error: --trainer.logger MLFlowLogger: cannot be built: ")
    assert "nosuchscheme://x" in error and len(error.splitlines()) == 1 and "Traceback" not in error
    assert not list((workdir / "logs").glob("*/*")) and not list((workdir / "checkpoints").glob("*/*"))


def test_a_logger_whose_package_is_missing_is_one_line_saying_what_to_install(workdir, capsys):
    if importlib.util.find_spec("comet_ml") is not None:
        pytest.skip("comet_ml is installed here")
    assert amal_status("fit", "--config", TANH_MLP, "--trainer.max_epochs=1", "--trainer.logger+=CometLogger") == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("amal: error: --trainer.logger CometLogger: cannot be built: Requirement 'comet-ml")
    assert len(error.splitlines()) == 1
