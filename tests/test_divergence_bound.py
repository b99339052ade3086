"""A training loss that grows past a bound is divergence too, even while it stays finite."""

import json

import pytest
import torch

from amal_lightning.api import fit
from amal_lightning.callbacks.divergence import BASELINE_STEPS, DivergenceGuard
from amal_lightning.command_line.main import main
from amal_lightning.errors import DIVERGED_EXIT_STATUS, DivergedError
from tests.helpers import CONFIGS

QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")


def test_the_bound_is_a_factor_of_the_first_steps_mean_or_a_threshold(tmp_path):
    guard = DivergenceGuard(tmp_path, factor=100.0)
    assert guard.bound() == float("inf")  # nothing to compare with before the first step
    guard.baseline_sum, guard.baseline_count = 2.0 + 4.0, 2
    assert guard.bound() == 300.0
    assert DivergenceGuard(tmp_path, factor=100.0, threshold=50.0).bound() == 50.0
    guard.load_state_dict(DivergenceGuard(tmp_path).state_dict())  # a resumed run's baseline comes back
    assert (guard.baseline_sum, guard.baseline_count) == (0.0, 0)
    assert BASELINE_STEPS == 10


def test_the_classifier_at_a_huge_learning_rate_ends_as_diverged(workdir, capsys):
    options = ["--data.source", "sample", "--trainer.max_epochs", "1", "--model.optimizer.init_args.lr", "1e6"]
    with pytest.raises(SystemExit) as stop:
        main(["fit", "--config", str(CONFIGS / "classifier.yaml"), *options, *QUIET])
    assert stop.value.code == DIVERGED_EXIT_STATUS
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("amal: error: training diverged at epoch 0 (train/loss = ") and "past the bound" in error
    record = json.loads((workdir / "checkpoints/classifier/version_0/diverged.json").read_text())
    assert record["metric"] == "train/loss" and float(record["value"]) > record["bound"]


def test_a_threshold_stops_a_run_whose_loss_is_above_it(workdir):
    with pytest.raises(DivergedError) as raised:
        fit(str(CONFIGS / "regression.yaml"), "--divergence_threshold", "100", "--trainer.max_epochs", "5", *QUIET)
    assert raised.value.bound == 100 and raised.value.value > 100  # the housing MSE starts near 600


def test_the_baseline_is_saved_with_the_checkpoints(workdir):
    fit(str(CONFIGS / "regression.yaml"), "--trainer.max_epochs", "3", *QUIET)
    checkpoint = torch.load(workdir / "checkpoints/regression/version_0/last.ckpt", weights_only=True)
    (state,) = [value for key, value in checkpoint["callbacks"].items() if key.startswith("DivergenceGuard")]
    assert state["baseline_count"] == 3 and state["baseline_sum"] > 0
