"""SLURM for real: jobs submitted by ``amal`` to a one-node cluster, preempted, requeued and gathered.

Marked ``slurm``: ``make test-slurm`` starts the cluster (scripts/slurm_one_node.sh, as root), runs
these tests and stops it; ``make test`` leaves them out. Without a cluster answering they are skipped,
unless ``AMAL_SLURM_REQUIRED=1`` (as ``make test-slurm`` sets it) makes that a failure.

SLURM holds a requeued job until its begin time (about two minutes later); each test releases it at
once (``scontrol update JobId=N StartTime=now``), as an impatient user would.
"""

import csv
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import AMAL, CONFIGS, REPO


def cluster_answers() -> bool:
    if shutil.which("sinfo") is None:
        return False
    result = subprocess.run(["sinfo", "--noheader", "--format", "%t"], capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.strip() != ""  # a node, in whatever state


REQUIRED = os.environ.get("AMAL_SLURM_REQUIRED") == "1"
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(not REQUIRED and not cluster_answers(), reason="no SLURM cluster (make test-slurm starts one)"),
]
CPU_JOB = ["--gpus-per-node", "0", "--time", "00:10:00"]
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--test=false"]
FULL_BATCH = [*QUIET, "--data.test_each_epoch=false"]  # housing, the whole training split each step
MNIST = [*QUIET, "--data.source=sample", "--model.hidden_dim=32"]


def paced(seconds: float) -> list[str]:
    """Options that make a fit sleep ``seconds`` after each training batch (tests/pace.py): a floor on
    its duration, so that a signal sent while it trains lands before its end on a fast machine too."""
    return ["--trainer.callbacks+=tests.pace.Pace", f"--trainer.callbacks.seconds={seconds}"]


def amal(*args: str, cwd: Path) -> str:
    result = subprocess.run([*AMAL, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def submitting(cwd: Path, config: str, *fit: str, cluster: tuple[str, ...] = ()) -> subprocess.Popen:
    """``amal submit`` of a CPU job, started (it checks the fit's options for a few seconds)."""
    command = [*AMAL, "submit", "--config", str(CONFIGS / f"{config}.yaml"), *CPU_JOB, *cluster, "--", *fit]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}  # the job inherits it: tests.pace importable
    return subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def job_id_of(submission: subprocess.Popen) -> str:
    out, error = submission.communicate(timeout=300)
    assert submission.returncode == 0, error[-3000:]
    return re.search(r"Submitted batch job (\d+)", out).group(1)


def submit(cwd: Path, config: str, *fit: str, cluster: tuple[str, ...] = ()) -> str:
    """``amal submit`` of a CPU job; its job id."""
    return job_id_of(submitting(cwd, config, *fit, cluster=cluster))


def job(job_id: str) -> dict[str, str]:
    """``scontrol show job``'s fields of the job (its first array task for an array), or {} once forgotten."""
    result = subprocess.run(["scontrol", "show", "job", "--oneliner", job_id], capture_output=True, text=True)
    if result.returncode != 0:
        return {}
    first = result.stdout.splitlines()[0]
    return dict(field.split("=", 1) for field in first.split() if "=" in field)


def wait(condition, what: str, timeout: float = 240, step: float = 0.5, detail=lambda: ""):
    """``condition()``'s first true value, polled every ``step`` s; a failure after ``timeout`` s that
    says ``what`` it waited for, followed by ``detail()`` (a job's log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}\n{detail()}")


def ended(job_id: str) -> str:
    """Waits for the job to end; its final state (COMPLETED, FAILED, ...)."""
    finals = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY")
    return wait(lambda: (state := job(job_id).get("JobState")) in finals and state, f"job {job_id} to end", 400)


def release_when_requeued(job_id: str, restarts: int, log=lambda: "") -> None:
    """Waits for the job's ``restarts``-th requeue, then lets it start again now instead of at its begin time."""
    wait(lambda: job(job_id).get("Restarts") == str(restarts) and job(job_id).get("JobState") == "PENDING",
         f"job {job_id} requeued {restarts} time(s) (its state: {job(job_id)})", detail=log)  # fmt: skip
    wait(lambda: subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"]).returncode == 0,
         "scontrol update StartTime=now")  # fmt: skip


def log_of(cwd: Path, name: str, job_id: str) -> str:
    return "".join(path.read_text() for path in (cwd / "slurm").glob(f"{name}-{job_id}.*"))


def training(cwd: Path, name: str, job_id: str, starts: int) -> bool:
    """Whether the job's ``starts``-th start trains (its log says it has restored its state, if a restart)."""
    log = log_of(cwd, name, job_id)
    if starts == 1:
        return bool(list((cwd / "checkpoints" / name / f"slurm-{job_id}").glob("last.ckpt")))
    return log.count("Restored all states from the checkpoint") >= starts - 1


def signal_twice_and_finish(cwd: Path, name: str, job_id: str, lead: float) -> None:
    """``scancel --signal=USR1`` in two starts of the job, each ``lead`` s into its training; releases it."""
    for restarts in (1, 2):
        wait(lambda restarts=restarts: training(cwd, name, job_id, restarts), f"start {restarts} training")
        time.sleep(lead)
        assert job(job_id)["JobState"] == "RUNNING", "the job ended before it could be signalled"
        subprocess.run(["scancel", "--signal=USR1", job_id], check=True)
        # requeued at once: it did not wait for its time limit
        release_when_requeued(job_id, restarts, log=lambda: log_of(cwd, name, job_id)[-3000:])


def final_state(cwd: Path, experiment: str, job_id: str) -> dict:
    return torch.load(cwd / "checkpoints" / experiment / f"slurm-{job_id}" / "last.ckpt", weights_only=True)


def assert_same_fit(resumed: dict, straight: dict) -> None:
    assert (resumed["epoch"], resumed["global_step"]) == (straight["epoch"], straight["global_step"])
    for name, value in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value, rtol=0, atol=0)


def test_a_cpu_fit_runs_to_its_end(tmp_path):
    job_id = submit(tmp_path, "regression", "--trainer.max_epochs=50", *FULL_BATCH)
    assert ended(job_id) == "COMPLETED", log_of(tmp_path, "regression", job_id)[-3000:]
    assert final_state(tmp_path, "regression", job_id)["global_step"] == 50
    assert "Fit: 50 epochs" in log_of(tmp_path, "regression", job_id)


@pytest.mark.parametrize(
    ("config", "fit", "lead"),
    [
        # paced so that, however fast the machine, the second start still trains for seconds after it
        # has restored its state and waited ``lead``: at least 6 s of sleep in each fit
        ("regression", ["--trainer.max_epochs=2000", *FULL_BATCH, *paced(0.003)], 1.0),  # full batch: 2,000 steps
        ("classifier", ["--trainer.max_epochs=20", *MNIST, *paced(0.012)], 1.0),  # 29 batches an epoch
    ],
)
def test_a_fit_preempted_twice_by_sigusr1_ends_as_the_same_fit_never_interrupted(tmp_path, config, fit, lead):
    straight = submitting(tmp_path, config, *fit, "--experiment=straight")  # beside it, on the other core
    preempted, straight = job_id_of(submitting(tmp_path, config, *fit)), job_id_of(straight)
    signal_twice_and_finish(tmp_path, config, preempted, lead)
    assert ended(preempted) == "COMPLETED", log_of(tmp_path, config, preempted)[-3000:]
    assert ended(straight) == "COMPLETED"
    log = log_of(tmp_path, config, preempted)
    assert log.count("Restored all states from the checkpoint") == 2 and "hpc_ckpt_2.ckpt" in log
    assert job(preempted)["Restarts"] == "2"
    assert_same_fit(final_state(tmp_path, config, preempted), final_state(tmp_path, "straight", straight))


def test_a_job_requeued_without_a_signal_resumes_from_its_last_checkpoint_and_max_requeues_ends_it(tmp_path):
    """``scontrol requeue``, as after a node failure or an administrator's requeue: no SIGUSR1, so the
    requeued job goes on from last.ckpt. Then SIGUSR1 past ``--max-requeues 1``: a checkpoint, no requeue."""
    fit = ["--trainer.max_epochs=5000", *FULL_BATCH]
    job_id = submit(tmp_path, "regression", *fit, cluster=("--max-requeues", "1"))
    run = tmp_path / "checkpoints/regression" / f"slurm-{job_id}"
    wait(lambda: training(tmp_path, "regression", job_id, 1), "a first epoch's last.ckpt")
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    release_when_requeued(job_id, 1)
    wait(lambda: training(tmp_path, "regression", job_id, 2), "the requeued job to train")
    log = log_of(tmp_path, "regression", job_id)
    assert re.search(r"Restoring states from the checkpoint path at .*slurm-\d+/last\.ckpt", log)
    assert not list(run.glob("hpc_ckpt_*.ckpt"))
    subprocess.run(["scancel", "--signal=USR1", job_id], check=True)
    assert ended(job_id) == "FAILED"
    log = log_of(tmp_path, "regression", job_id)
    assert f"amal: error: SLURM job {job_id} reached its --max-requeues 1 (SLURM_RESTART_COUNT=1)" in log
    assert job(job_id)["Restarts"] == "1"
    assert [path.name for path in run.glob("hpc_*")] == ["hpc_ckpt_1.ckpt"]


def running_tasks(array_job: str) -> list[str]:
    result = subprocess.run(
        ["squeue", "--noheader", "--array", "--jobs", array_job, "--states", "RUNNING", "--format", "%i"],
        capture_output=True,
        text=True,
    )
    return result.stdout.split()


def test_a_study_array_gathers_itself_one_task_at_a_time(tmp_path):
    study = tmp_path / "arr.yaml"
    study.write_text(
        f"name: arr\nconfig: {CONFIGS / 'regression.yaml'}\n"
        "common: {trainer.max_epochs: 5, trainer.enable_progress_bar: false, data.test_each_epoch: false}\n"
        "grid: {model.learning_rate: [0.01, 0.05]}\n"
    )
    out = amal("study", str(study), "--submit", *CPU_JOB, "--max-parallel", "1", cwd=tmp_path)
    assert "the last to end writes the summary and figures into studies/arr/" in out
    array_job = re.search(r"Submitted batch job (\d+)", out).group(1)
    most_at_once = 0
    while (state := job(array_job)) and state.get("JobState") in ("PENDING", "RUNNING", "CONFIGURING"):
        most_at_once = max(most_at_once, len(running_tasks(array_job)))
        time.sleep(0.3)
    wait(lambda: (tmp_path / "studies/arr/summary.csv").exists(), "the summary", timeout=60)
    assert most_at_once == 1
    with open(tmp_path / "studies/arr/summary.csv", newline="") as file:
        assert [row["status"] for row in csv.DictReader(file)] == ["finished"] * 2
    assert list((tmp_path / "studies/arr").glob("*.png")), "no figure drawn"
    logs = "".join(path.read_text() for path in (tmp_path / "slurm").glob("arr-*.out"))
    assert logs.count("arr: 2 finished") == 1  # the last task gathered, and it alone


def test_a_search_with_two_workers_ends_with_its_trials(tmp_path):
    study = tmp_path / "hs.yaml"
    study.write_text(
        f"name: hs\nconfig: {CONFIGS / 'regression.yaml'}\n"
        "common: {trainer.max_epochs: 5, trainer.enable_progress_bar: false, data.test_each_epoch: false}\n"
        "search:\n  n_trials: 4\n  metric: best val/loss\n"
        "  params: {model.learning_rate: {type: float, low: 1.0e-3, high: 0.1, log: true}}\n"
    )
    out = amal("study", str(study), "--submit", *CPU_JOB, "--workers", "2", cwd=tmp_path)
    array_job = re.search(r"Submitted batch job (\d+)", out).group(1)
    wait(lambda: job(array_job).get("JobState") not in ("PENDING", "RUNNING", "CONFIGURING", None), "the array")
    summary = wait(lambda: (tmp_path / "studies/hs/summary.csv").exists(), "the search's summary", timeout=60)
    assert summary
    with open(tmp_path / "studies/hs/summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4
