"""``search:`` in a study file: trials as variants, shared by workers, resumed, summarized, refused in one line."""

import csv
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from amal_lightning.api import fit
from amal_lightning.command_line.main import main
from amal_lightning.studies.search.pruning import TrialPruning
from amal_lightning.studies.search.spec import search_spec
from amal_lightning.studies.search.storage import next_trial
from amal_lightning.studies.spec import load_study
from tests.helpers import CONFIGS, REPO, start_to_be_killed

MINIBATCH = CONFIGS / "regression_minibatch.yaml"
AMAL_STUDY = [sys.executable, "-m", "amal_lightning", "study"]
SPACE = """    params:
      data.batch_size: {type: categorical, choices: [8, 32, full]}
      model.optimizer.init_args.lr: {type: float, low: 1.0e-4, high: 0.05, log: true}
    metric: best val/loss
"""


def search_file(folder: Path, n_trials: int = 3, space: str = SPACE, extra: str = "", name: str = "hs") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\nconfig: {MINIBATCH}\n"
        "common: {trainer.max_epochs: 2, trainer.enable_progress_bar: false, trainer.enable_model_summary: false}\n"
        f"{extra}search:\n    n_trials: {n_trials}\n{space}"
    )
    return path


def rows(name: str = "hs", table: str = "summary.csv") -> list[dict[str, str]]:
    with open(f"studies/{name}/{table}", newline="") as file:
        return list(csv.DictReader(file))


def journal_trials(name: str = "hs") -> list[dict]:
    """The trials the journal holds (read back through Optuna)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(f"studies/{name}/search.journal"))
    return optuna.load_study(study_name=name, storage=storage).get_trials()


def times(*folders: str) -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for folder in folders for path in Path(folder).rglob("*")}


def test_a_search_runs_n_trials_and_summarizes_them_best_first(workdir, capsys):
    main(["study", str(search_file(workdir, 3))])
    out = capsys.readouterr().out
    table = rows()
    assert [row["state"] for row in table] == ["COMPLETE"] * 3 and sorted(row["trial"] for row in table) == list("012")
    values = [float(row["value"]) for row in table]
    assert values == sorted(values) and values[0] == float(table[0]["best val/loss"])  # best first, the metric
    assert all(row["param data.batch_size"] in ("8", "32", "full") for row in table)
    assert all(1e-4 <= float(row["param model.optimizer.init_args.lr"]) <= 0.05 for row in table)
    assert all(
        f"--model.optimizer.init_args.lr={row['param model.optimizer.init_args.lr']}" in row["overrides"]
        for row in table
    )
    assert [path.name for path in sorted(Path("logs").glob("hs.trial_*/version_0"))] == ["version_0"] * 3
    for figure in ("history.png", "param-data.batch_size.png", "param-model.optimizer.init_args.lr.png"):
        assert Path("studies/hs", figure).stat().st_size > 1000
    best = out.splitlines()[-1]
    assert best.startswith(f"  best: trial {table[0]['trial']}, best val/loss ") and "amal fit --config" in best
    command = shlex.split(best.split(": ", 2)[2])
    assert f"--data.batch_size={table[0]['param data.batch_size']}" in command
    assert len([line for line in out.splitlines() if line.startswith("[")]) == 3


def test_a_stopped_search_keeps_its_trials_and_a_larger_n_trials_extends_it(workdir, capsys):
    main(["study", str(search_file(workdir, 2))])
    before = times("logs", "checkpoints")
    main(["study", str(search_file(workdir, 2))])  # as after a kill between trials: nothing trains again
    assert times("logs", "checkpoints") == before and len(journal_trials()) == 2
    capsys.readouterr()
    main(["study", str(search_file(workdir, 3))])
    out = capsys.readouterr().out
    assert [line.split(" (")[0] for line in out.splitlines() if line.startswith("[")] == ["[3/3] trial 2"]
    assert len(journal_trials()) == 3 and len(rows()) == 3


def test_a_trial_whose_worker_is_gone_is_carried_on_under_its_number(workdir, capsys):
    study = load_study(search_file(workdir, 2))
    trial, claim, resumed = next_trial(study.name, study.folder, study.search, study.source)
    claim.release()  # its worker was killed before it trained anything: RUNNING, claim free
    assert not resumed and journal_trials()[trial.number].state.name == "RUNNING"
    main(["study", str(search_file(workdir, 2))])
    out = capsys.readouterr().out
    assert "[1/2] trial 0 (" in out and "its worker is gone: carried on" in out
    assert [t.state.name for t in journal_trials()] == ["COMPLETE", "COMPLETE"]
    assert (
        float(journal_trials()[0].params["model.optimizer.init_args.lr"])
        == trial.params["model.optimizer.init_args.lr"]
    )


def test_diverged_trials_are_failures_and_the_search_goes_on(workdir, capsys):
    space = SPACE.replace("low: 1.0e-4, high: 0.05", "low: 50.0, high: 500.0")
    main(["study", str(search_file(workdir, 2, space))])
    out = capsys.readouterr().out
    assert [row["state"] for row in rows()] == ["FAIL", "FAIL"]
    assert [row["status"] for row in rows()] == ["diverged", "diverged"]
    assert out.count("FAIL: trial ") == 2 and "best: none yet" in out


def test_a_trial_is_the_mean_of_its_seeds(workdir, capsys):
    main(["study", str(search_file(workdir, 2, extra="seeds: [0, 1]\n"))])
    runs = rows(table="runs.csv")
    assert len(runs) == 4 and {row["seed"] for row in runs} == {"0", "1"}
    for row in rows():
        mine = [float(run["best val/loss"]) for run in runs if run["variant"] == f"trial {row['trial']}"]
        assert row["n"] == "2" and float(row["value"]) == pytest.approx(sum(mine) / 2)


def test_the_median_pruner_hears_every_validation(workdir, capsys):
    main(["study", str(search_file(workdir, 2, SPACE + "    pruner: median\n"))])
    trials = journal_trials()
    assert [sorted(trial.intermediate_values) for trial in trials] == [[0, 1], [0, 1]]  # epochs 0 and 1
    assert all(trial.state.name in ("COMPLETE", "PRUNED") for trial in trials)


class PrunedAfter:
    """A trial pruned once it has heard ``epochs`` validations (Optuna's Trial, as far as the callback uses it)."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.reported = epochs, []

    def report(self, value: float, step: int) -> None:
        self.reported.append(step)

    def should_prune(self) -> bool:
        return len(self.reported) >= self.epochs


def test_a_pruned_fit_ends_as_an_early_stop_and_its_callback_object_says_why(workdir):
    """The pruning callback is an object given to the fit: no environment variable, class path or marker file."""
    environment = dict(os.environ)
    pruning = TrialPruning(PrunedAfter(2), "val/loss")
    quiet = {"trainer.enable_progress_bar": False, "trainer.enable_model_summary": False, "test": False}
    outcome = fit(MINIBATCH, {"trainer.max_epochs": 10, **quiet}, callbacks=[pruning])
    assert outcome.status == "finished" and outcome.epochs == 2
    assert pruning.pruned.startswith("Trial was pruned at epoch 1")
    assert dict(os.environ) == environment
    assert sorted(path.name for path in workdir.iterdir()) == ["checkpoints", "logs"]  # no marker file


def test_submit_dry_run_writes_one_task_per_worker(workdir, capsys):
    study = search_file(workdir, 8)
    main(["study", str(study), "--submit", "--workers", "4", "--time", "01:00:00", "--dry-run"])
    lines = capsys.readouterr().out.splitlines()
    assert "#SBATCH --array=0-3" in lines
    (srun,) = [line for line in lines if line.startswith("srun ")]
    assert shlex.split(srun)[2:4] == ["study", str(study)] and "--variant-index" not in srun
    assert not Path("studies").exists() and not Path("logs").exists()


@pytest.mark.slow
def test_two_workers_started_together_run_exactly_n_trials_once_each(workdir, capsys):
    study = search_file(workdir, 4)
    together = ["--", "--trainer.callbacks+=tests.helpers.TrainTogether"]  # both train, whatever their start-ups
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [*AMAL_STUDY, str(study), "--threads", "1", *together]
    other = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, text=True)
    main(["study", str(study), *together])  # this process is the first worker, the other a process of its own
    outputs = [capsys.readouterr().out, other.communicate(timeout=600)[0]]
    assert other.returncode == 0, outputs
    trained = [[line.split(" (")[0].split("] ")[1] for line in out.splitlines() if line[:1] == "["] for out in outputs]
    assert all(trained), outputs  # each worker trained some
    assert sorted(sum(trained, [])) == ["trial 0", "trial 1", "trial 2", "trial 3"]  # each once, by one or the other
    assert sorted(path.parent.name for path in (workdir / "logs").glob("hs.trial_*/*")) == [
        f"hs.trial_000{index}" for index in range(4)
    ]  # one run folder each: none trained twice


BAD = [
    (SPACE.replace("data.batch_size", "model.hidden_dim"), "hs.yaml, search, params, model.hidden_dim = 8: "),
    (SPACE.replace("low: 1.0e-4, high: 0.05", "low: 0.05, high: 0.05"), "low (0.05) must be below high (0.05)"),
    (SPACE.replace("low: 1.0e-4", "low: 0.0"), "hs.yaml, search, params, model.optimizer.init_args.lr: a log scale"),
    (SPACE.replace("best val/loss", "loss"), "hs.yaml, search, metric: expected a summary column"),
    (SPACE + "    pruner: mean\n", "hs.yaml, search, pruner: expected median or none"),
]


@pytest.mark.parametrize(("space", "message"), BAD)
def test_a_bad_search_is_one_line_before_anything_trains(workdir, capsys, space, message):
    assert_one_line(capsys, search_file(workdir, 3, space), message)


@pytest.mark.parametrize(
    ("n_trials", "extra", "message"),
    [
        (0, "", "hs.yaml, search, n_trials: expected a positive number of trials, got 0"),
        (3, "grid: {model.optimizer.init_args.lr: [0.1]}\n", "hs.yaml, search: give a search or a grid, not both"),
        (3, "variants: {a: {}}\n", "hs.yaml, search: give a search or variants, not both"),
    ],
)
def test_a_search_beside_a_grid_or_without_trials_is_one_line(workdir, capsys, n_trials, extra, message):
    assert_one_line(capsys, search_file(workdir, n_trials, extra=extra), message)


def test_median_pruning_with_several_seeds_is_one_line(workdir, capsys):
    study = search_file(workdir, 3, SPACE + "    pruner: median\n", extra="seeds: [0, 1]\n")
    assert_one_line(capsys, study, "hs.yaml, search, pruner: median prunes one seed per trial")


def test_a_damaged_journal_another_study_s_or_another_space_is_one_line(workdir, capsys):
    Path("studies/hs").mkdir(parents=True)
    Path("studies/hs/search.journal").write_text('{"op_code": 0}\nnot json\n')
    assert_one_line(
        capsys, search_file(workdir, 3), "hs.yaml, search: studies/hs/search.journal, line 2: not an Optuna"
    )
    Path("studies/hs/search.journal").unlink()
    study = load_study(search_file(workdir, 1, name="other"))
    next_trial(study.name, study.folder, study.search, study.source)[1].release()
    Path("studies/other/search.journal").rename("studies/hs/search.journal")
    assert_one_line(
        capsys, search_file(workdir, 3), "hs.yaml, search: studies/hs/search.journal holds the search 'other'"
    )
    Path("studies/hs/search.journal").unlink()
    study = load_study(search_file(workdir, 1))
    next_trial(study.name, study.folder, study.search, study.source)[1].release()
    changed = SPACE.replace("best val/loss", "final val/loss")
    assert_one_line(
        capsys, search_file(workdir, 3, changed), "hs.yaml, search, metric: the search in studies/hs/search.journal"
    )


def assert_one_line(capsys, study: Path, message: str) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(["study", str(study)])
    assert stop.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("amal: error: ") and message in error and error.count("\n") == 1, error
    assert not Path("logs").exists() and not Path("checkpoints").exists()


def test_a_search_spec_keeps_its_space_as_the_journal_compares_it():
    spec = search_spec(
        "f.yaml",
        json.loads(
            '{"params": {"a.b": {"type": "int", "low": 1, "high": 4}}, "n_trials": 2, "metric": "final val/loss"}'
        ),
    )
    assert spec.space() == {
        "params": {"a.b": {"type": "int", "low": 1, "high": 4, "log": False}},
        "metric": "final val/loss",
        "direction": "minimize",
    }


@pytest.mark.slow
def test_a_search_killed_with_sigkill_carries_its_trial_on_from_last_ckpt(workdir, capsys):
    study = search_file(workdir, 2).read_text().replace("trainer.max_epochs: 2", "trainer.max_epochs: 20")
    (workdir / "hs.yaml").write_text(study)
    kill = ["--", "--trainer.callbacks+=tests.helpers.KillGroup", "--trainer.callbacks.epoch=10"]  # mid-trial
    first = start_to_be_killed([*AMAL_STUDY, "hs.yaml", "--threads", "1", *kill], workdir, stdout=subprocess.DEVNULL)
    assert first.wait(timeout=300) == -signal.SIGKILL
    assert (workdir / "checkpoints/hs.trial_0000/version_0/last.ckpt").exists()
    main(["study", "hs.yaml", *kill])  # the same command, in this process
    out = capsys.readouterr().out
    assert "[1/2] trial 0 (" in out and "its worker is gone: carried on" in out
    assert sorted(path.parent.name for path in workdir.glob("logs/hs.trial_*/*")) == ["hs.trial_0000", "hs.trial_0001"]
    record = json.loads((workdir / "studies/hs/variants/trial_0000.json").read_text())
    assert record["status"] == "finished" and record["run"] == "version_0"  # resumed in its run, not a new one
    assert [trial.state.name for trial in journal_trials()] == ["COMPLETE", "COMPLETE"]


@pytest.mark.parametrize("name", ["tme2_step_size_search", "tme3_classifier_search"])
def test_each_shipped_search_is_accepted_before_anything_trains(monkeypatch, tmp_path, name):
    from amal_lightning.studies.search.check import check_search
    from tests.helpers import REPO

    monkeypatch.chdir(REPO)  # their configs are named from the project folder, as a user runs them
    study = load_study(Path("configs/studies") / f"{name}.yaml")
    assert study.search is not None and study.name == name and study.search.n_trials >= 10
    study = dataclasses.replace(study, name=f"{name}-check")  # no journal of a real run is read
    check_search(study)  # each option at its ends (every choice) through amal fit's parser
    assert not (REPO / "studies" / f"{name}-check").exists()
