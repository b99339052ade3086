"""A search checks its objective and its size: a metric no run logs, or too many trials, end in one line."""

from pathlib import Path

import pytest

from amal_lightning.studies.search.spec import merged_options, reproduce
from tests.helpers import CONFIGS, amal_status

COMMON = "{trainer.max_epochs: 1, trainer.enable_progress_bar: false, trainer.enable_model_summary: false}"


def search_file(folder: Path, metric: str, n_trials: int = 3, extra: str = "") -> Path:
    path = folder / "hs.yaml"
    path.write_text(
        f"name: hs\nconfig: {CONFIGS / 'tanh_mlp.yaml'}\ncommon: {COMMON}\n{extra}"
        f"search:\n  n_trials: {n_trials}\n  metric: {metric}\n"
        "  params: {model.optimizer.init_args.lr: {type: float, low: 1.0e-4, high: 0.05, log: true}}\n"
    )
    return path


def refusal(capsys, path: Path, status: int = 1) -> str:
    assert amal_status("study", path.name) == status  # run in its folder: named as given
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    return error


def test_a_metric_the_first_trial_did_not_log_stops_the_search_with_the_columns_it_did(workdir, capsys):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    path = search_file(workdir, "final val/nonexistent")
    error = refusal(capsys, path)
    assert error.startswith("amal: error: hs.yaml, search, metric: trial 0's run has no 'final val/nonexistent'")
    assert refusal(capsys, path) == error  # run again: refused before another trial trains
    columns = error.split("; its columns: ", 1)[1].split(", ")
    assert {"final train/loss", "best val/loss", "final test/loss", "tested test/loss"} <= set(columns)
    storage = optuna.storages.JournalStorage(JournalFileBackend("studies/hs/search.journal"))
    (trial,) = optuna.load_study(study_name="hs", storage=storage).get_trials()  # no other trial trained blind
    assert trial.state.name == "FAIL"


@pytest.mark.parametrize(
    ("metric", "reason"),
    [
        ("best val/nonexistent", "'best val/nonexistent' is never a summary column (a best is kept of */loss, */mse"),
        ("tested val/loss", "'tested val/loss' is never a summary column (the test after a fit logs test/*)"),
    ],
)
def test_a_metric_no_run_can_have_is_refused_before_anything_trains(workdir, capsys, metric, reason):
    assert refusal(capsys, search_file(workdir, metric)).startswith(f"amal: error: hs.yaml, search, metric: {reason}")
    assert not (workdir / "logs").exists()


@pytest.mark.parametrize(
    ("n_trials", "extra", "line"),
    [
        (10**9, "", "1000000000 trials = 1,000,000,000 variants, more than max_variants (10,000)"),
        (3, "seeds: [0, 1]\nmax_variants: 5\n", "3 trials × 2 seeded runs = 6 variants, more than max_variants (5)"),
    ],
)
def test_a_search_larger_than_max_variants_is_refused_as_a_grid_is(workdir, capsys, n_trials, extra, line):
    error = refusal(capsys, search_file(workdir, "best val/loss", n_trials, extra))
    assert error == f"amal: error: hs.yaml, search: {line}"
    assert not (workdir / "logs").exists() and not (workdir / "studies/hs/search.journal").exists()


def test_the_best_trial_s_command_gives_each_option_once_as_the_parser_takes_it():
    common = ("--trainer.max_epochs=5", "--trainer.enable_progress_bar=false", "--trainer.max_epochs", "2")
    command = reproduce(Path("c.yaml"), common, {"model.lr": 0.1, "trainer.max_epochs": 3}, seed=1)
    assert command == (
        "amal fit --config c.yaml --trainer.enable_progress_bar=false --model.lr=0.1 --trainer.max_epochs=3 "
        "--seed_everything=1"
    )


def test_options_whose_place_matters_are_kept_each_time():
    words = ["--config", "a.yaml", "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.patience=2"]
    words += ["--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.patience", "3", "--config", "b.yaml"]
    assert merged_options([*words, "--x=1", "--x", "-2"]) == [*words, "--x", "-2"]


def test_a_search_draws_the_figures_its_study_file_asks_for(workdir, capsys):
    figures = "figures: [{name: losses, metrics: [train/loss, val/loss], x: [epoch]}]\n"
    assert amal_status("study", search_file(workdir, "final val/loss", 1, figures).name) == 0
    drawn = sorted(path.name for path in (workdir / "studies/hs").glob("*.png"))
    assert drawn == ["history.png", "losses-epoch.png", "param-model.optimizer.init_args.lr.png"]
