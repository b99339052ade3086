"""A study's results as a person reads them: the compact table ``amal study`` prints, and ``amal runs STUDY``."""

import csv

import pandas as pd

from amal_lightning.command_line.main import main
from amal_lightning.studies.gathering import save_study
from amal_lightning.studies.search.storage import open_search
from amal_lightning.studies.spec import load_study
from amal_lightning.studies.table import compact_frame
from tests.helpers import CONFIGS

QUIET = ["--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false", "--test", "true"]


def test_a_study_ends_with_a_compact_table_that_amal_runs_prints_again(workdir, capsys):
    grid = ["--grid", "model.learning_rate=0.01,0.1"]
    main(["study", "--name", "eps", "--config", str(CONFIGS / "regression.yaml"), *grid, "--", *QUIET])
    out = capsys.readouterr().out
    table = out[out.index("\n\n") + 2 :].splitlines()
    # the figure's metrics, not the summary's 16 columns
    assert table[0].split() == ["variant", "status", "final", "train/loss", "tested", "test/loss"]
    row = next(line for line in table[1:3] if line.split()[0] == "model.learning_rate=0.1")
    with open("studies/eps/summary.csv", newline="") as file:
        saved = {row["variant"]: row for row in csv.DictReader(file)}["model.learning_rate=0.1"]
    for column in ("final train/loss", "tested test/loss"):  # four significant digits; the CSV keeps them all
        assert len(saved[column].replace(".", "")) > 6 and f"{float(saved[column]):.4g}" in row.split()
    assert "amal runs eps --summary" in out
    main(["runs", "eps", "--summary"])
    assert capsys.readouterr().out.splitlines() == table[:3]


def test_seeded_means_show_their_spread_in_few_digits():
    summary = pd.DataFrame(
        {"variant": ["a", "b"], "status": ["2 finished"] * 2, "n": [2, 2]}
        | {"final train/loss mean": [112.21815872192383, 499.07], "final train/loss std": [0.0010951437, 0.0]}
        | {"seconds mean": [1.3, 1.1], "final val/loss mean": [77.8197975, 471.25]}
    )
    shown = compact_frame(summary, ["train/loss"])
    assert list(shown.columns) == ["variant", "status", "n", "final train/loss"]
    assert list(shown["final train/loss"]) == ["112.2 ± 0.0011", "499.1"]


def test_amal_runs_lists_a_searchs_trials_with_their_parameters_state_and_objective(workdir, capsys):
    """The trials as the search's journal holds them (written here through Optuna, as a search's workers do)."""
    import optuna

    (workdir / "hs.yaml").write_text(
        f"name: hs\nconfig: {CONFIGS / 'regression_minibatch.yaml'}\n"
        "search:\n  n_trials: 3\n  params:\n    model.optimizer.init_args.lr: {type: float, low: 0.001, high: 0.01}\n"
        "  metric: best val/loss\n"
    )
    study = load_study(workdir / "hs.yaml")
    save_study(study)
    search = open_search(study.name, study.folder, study.search, study.source)
    space = {"model.optimizer.init_args.lr": optuna.distributions.FloatDistribution(0.001, 0.01)}
    for params, value, state in (({"model.optimizer.init_args.lr": 0.002}, 21.123456, "COMPLETE"),
                                 ({"model.optimizer.init_args.lr": 0.009}, None, "PRUNED")):  # fmt: skip
        state = optuna.trial.TrialState[state]
        search.add_trial(optuna.trial.create_trial(params=params, distributions=space, value=value, state=state))
    main(["runs", "hs", "--csv"])
    assert capsys.readouterr().out.splitlines() == [
        "trial,state,best val/loss,lr",
        "0,COMPLETE,21.12,0.002",
        "1,PRUNED,,0.009",
    ]
