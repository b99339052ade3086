"""``amal study --jobs N``: workers train variants at once, with the results of one process, and resume after a kill."""

import csv
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from amal_lightning.command_line.main import main
from amal_lightning.errors import AmalError
from amal_lightning.studies.workers import worker_count
from tests.helpers import CONFIGS, REPO, amal_status, inside, start_to_be_killed

TIMING = ("seconds", "run")  # and every time/* column


def write_study(folder: Path, epochs: int) -> Path:
    study = folder / "lr.yaml"
    study.write_text(
        f"name: lr\nconfig: {CONFIGS / 'regression.yaml'}\n"
        f"common: {{trainer.max_epochs: {epochs}, trainer.enable_progress_bar: false}}\n"
        "grid: {model.learning_rate: [0.01, 0.02, 0.05, 0.1]}\n"
    )
    return study


AMAL_STUDY = [sys.executable, "-m", "amal_lightning", "study"]


def summary_without_timing(folder: Path) -> list[dict[str, str]]:
    with open(folder / "studies/lr/summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return [
        {k: v for k, v in row.items() if k not in TIMING and not k.split(" ")[-1].startswith("time/")} for row in rows
    ]


def test_the_number_of_workers():
    assert worker_count(3, 10) == 3 and worker_count(8, 2) == 2  # never more workers than variants
    assert worker_count("auto", 100) >= 1
    with pytest.raises(AmalError):
        worker_count(0, 4)


@pytest.mark.slow
def test_two_workers_give_the_results_of_one(tmp_path, capfd):
    """Both commands run in this process: one worker trains here, two workers are processes of their own."""
    outputs = {}
    threads = torch.get_num_threads()
    for jobs in ("1", "2"):
        folder = tmp_path / jobs
        folder.mkdir()
        with inside(folder):
            try:
                assert amal_status("study", str(write_study(folder, 30)), "--jobs", jobs, "--threads", "1") == 0
            finally:
                torch.set_num_threads(threads)  # one worker trains on this process's threads
        outputs[jobs] = capfd.readouterr().out  # the lines of two workers come from their processes
    for output in outputs.values():
        assert sorted(line.split(" ...")[0] for line in output.splitlines() if line.startswith("[")) == [
            f"[{index}/4] model.learning_rate={rate}" for index, rate in enumerate(("0.01", "0.02", "0.05", "0.1"), 1)
        ], output
    one, two = tmp_path / "1", tmp_path / "2"
    assert summary_without_timing(one) == summary_without_timing(two)
    assert [row["status"] for row in summary_without_timing(two)] == ["finished"] * 4
    assert sorted(path.parent.name for path in (two / "logs").glob("*/version_0")) == [
        f"lr.model.learning_rate_{rate}" for rate in ("0.01", "0.02", "0.05", "0.1")
    ]


@pytest.mark.slow
def test_workers_killed_with_sigkill_resume_and_train_each_variant_once(tmp_path, monkeypatch, capfd):
    study = write_study(tmp_path, 40)
    # the command and its workers killed at once, as a node failure would, each worker half-way through a variant
    kill = ["--", "--trainer.callbacks+=tests.helpers.KillGroup", "--trainer.callbacks.epoch=20"]
    kill += ["--trainer.callbacks.processes=2"]
    process = start_to_be_killed(
        [*AMAL_STUDY, str(study), "--jobs", "2", "--threads", "1", *kill], tmp_path, stdout=subprocess.DEVNULL
    )
    assert process.wait(timeout=300) == -signal.SIGKILL
    assert len(list(tmp_path.glob("checkpoints/*/version_0/last.ckpt"))) >= 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers read the same options
    assert amal_status("study", str(study), "--jobs", "2", "--threads", "1", *kill) == 0
    output = capfd.readouterr().out
    for experiment in (tmp_path / "logs").iterdir():
        assert [run.name for run in experiment.iterdir()] == ["version_0"], output  # resumed, not trained again
    assert [row["status"] for row in summary_without_timing(tmp_path)] == ["finished"] * 4
    assert [row["epochs"] for row in summary_without_timing(tmp_path)] == ["40"] * 4


def search_study(folder: Path) -> Path:
    study = folder / "hs.yaml"
    study.write_text(
        f"name: hs\nconfig: {CONFIGS / 'regression_minibatch.yaml'}\n"
        "search:\n  n_trials: 4\n  metric: best val/loss\n"
        "  params: {model.optimizer.init_args.lr: {type: float, low: 1.0e-4, high: 0.05, log: true}}\n"
    )
    return study


def refusal(capsys, *argv: str) -> tuple[int, str]:
    """The exit status and the one error line of ``amal study ARGV`` (with its hint, if any)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["study", *argv])
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    return exit_info.value.code, captured.err.splitlines()[0]


@pytest.mark.parametrize(
    ("kind", "argv", "status", "line"),
    [
        # a search's job array: --workers tasks, a typed option of its cluster options
        ("search", ["--submit", "--workers", "0", "--time", "01:00:00"], 2, "--workers '0': not a positive integer"),
        ("search", ["--variant-index", "0"], 1, "--variant-index: a search has no fixed variants"),
        # a grid's tasks are its variants: no --workers, and --submit runs them all
        ("grid", ["--submit", "--workers", "2", "--time", "01:00:00"], 2, "--workers is not an option"),
        ("grid", ["--variant-index", "0", "--submit", "--time", "01:00:00"], 1, "--submit runs every variant"),
    ],
)
def test_grids_and_searches_refuse_what_is_not_theirs(tmp_path, monkeypatch, capsys, kind, argv, status, line):
    monkeypatch.chdir(tmp_path)
    study = search_study(tmp_path) if kind == "search" else write_study(tmp_path, 1)
    code, error = refusal(capsys, str(study), *argv)
    assert code == status and error.startswith(f"amal: error: {line}"), error
    assert not (tmp_path / "studies").exists() and not (tmp_path / "slurm").exists()


def test_a_search_array_is_one_task_per_worker_and_a_grid_one_per_variant(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cluster = ["--submit", "--time", "01:00:00", "--dry-run"]
    main(["study", str(search_study(tmp_path)), *cluster, "--workers=3", "--", "--trainer.max_epochs", "2"])
    search = capsys.readouterr().out
    main(["study", str(write_study(tmp_path, 1)), *cluster, "--max-parallel", "2"])
    grid = capsys.readouterr().out
    assert "#SBATCH --array=0-2" in search.splitlines() and "#SBATCH --array=0-3%2" in grid.splitlines()
    (search_task,) = [line for line in search.splitlines() if line.startswith("srun ")]
    (grid_task,) = [line for line in grid.splitlines() if line.startswith("srun ")]
    assert "--variant-index" not in search_task and search_task.endswith("--trainer.max_epochs 2")
    assert '--variant-index "$SLURM_ARRAY_TASK_ID"' in grid_task
    assert not (tmp_path / "studies").exists()  # a dry run saves nothing


def test_the_last_task_of_a_study_array_gathers_it_with_no_command_typed(workdir, monkeypatch, capsys):
    """Each task runs its variant; the one that ends with no other task still to start (squeue) gathers."""
    from tests.test_slurm import SLURM_JOB, fake_commands

    study = workdir / "pair.yaml"
    study.write_text(
        f"name: pair\nconfig: {CONFIGS / 'regression.yaml'}\n"
        "common: {trainer.max_epochs: 2, trainer.enable_progress_bar: false, data.test_each_epoch: false}\n"
        "grid: {model.learning_rate: [0.01, 0.02]}\n"
    )
    for name, value in {**SLURM_JOB, "SLURM_ARRAY_JOB_ID": "77", "SLURM_JOB_ID": "78"}.items():
        monkeypatch.setenv(name, value)
    record = workdir / "squeue.txt"
    for task, waiting in ((0, "77_1"), (1, "")):
        bin_dir = workdir / f"bin{task}"  # squeue answers with the tasks still to start
        monkeypatch.setenv("PATH", fake_commands(bin_dir, record, squeue=f"echo {waiting}")["PATH"])
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        main(["study", str(study), "--variant-index", str(task), "--", "--trainer.accelerator=cpu"])
        out = capsys.readouterr().out
        if task == 0:
            assert "pair: 1 task(s) of the array still to start; the last to end gathers" in out
            assert not (workdir / "studies/pair/summary.csv").exists()
    assert "pair: 2 finished" in out and "summary: studies/pair/summary.csv" in out
    with open(workdir / "studies/pair/summary.csv", newline="") as file:
        assert [row["status"] for row in csv.DictReader(file)] == ["finished", "finished"]
    assert record.read_text().count("--jobs 77") == 2


def test_an_array_task_that_cannot_ask_squeue_gathers_anyway_and_a_task_outside_slurm_never(monkeypatch, capsys):
    from amal_lightning.studies.array import last_array_task
    from tests.test_slurm import SLURM_JOB

    study = SimpleNamespace(name="pair")  # all it reads of the study
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    assert last_array_task(study) is False  # not in a job: `amal plot --study` or a plain `amal study` gathers
    for name, value in {**SLURM_JOB, "SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PATH", "/nonexistent")  # no squeue
    assert last_array_task(study) is True
    assert "cannot ask it which tasks of job array 77 wait" in capsys.readouterr().out
