"""A run stopped after k epochs and resumed with --ckpt_path last ends exactly like an uninterrupted one."""

import os
import signal
import subprocess
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from tests.helpers import AMAL, CONFIGS, inside, run_inprocess
from tests.test_slurm import SLURM_JOB, JobEndedError, fake_commands

SAMPLE = ["--data.source=sample", "--trainer.enable_progress_bar=false"]
# the comparison is of training alone: no test of the best checkpoint after the fit
NO_TEST = ["--test=false"]


def final_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "last.ckpt", weights_only=True)


def last_metrics(metrics_csv: Path) -> dict[str, float]:
    header, *rows = metrics_csv.read_text().splitlines()
    names = header.split(",")
    values: dict[str, float] = {}
    for row in rows:
        values.update(
            {name: float(cell) for name, cell in zip(names, row.split(","), strict=False) if cell and name != "step"}
        )
    return values


def assert_same_training(resumed: dict, uninterrupted: dict) -> None:
    assert resumed["epoch"] == uninterrupted["epoch"] and resumed["global_step"] == uninterrupted["global_step"]
    for name, value in uninterrupted["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value, rtol=1e-6, atol=1e-7)
    for resumed_state, state in zip(
        resumed["optimizer_states"][0]["state"].values(),
        uninterrupted["optimizer_states"][0]["state"].values(),
        strict=True,
    ):
        torch.testing.assert_close(resumed_state["exp_avg"], state["exp_avg"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("config", ["classifier", "autoencoder"])
def test_two_plus_two_epochs_equal_four(shrunk, config):
    config_path = str(CONFIGS / f"{config}.yaml")
    csv = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir=csv", *NO_TEST, *shrunk]
    run_inprocess("fit", "--config", config_path, "--trainer.max_epochs=4", "--experiment=straight", *SAMPLE, *csv)
    run_inprocess("fit", "--config", config_path, "--trainer.max_epochs=2", *SAMPLE, *csv)
    run_inprocess("fit", "--config", config_path, "--trainer.max_epochs=4", "--ckpt_path=last", *SAMPLE, *csv)

    assert_same_training(
        final_state(Path(f"checkpoints/{config}/version_0")), final_state(Path("checkpoints/straight/version_0"))
    )
    straight = last_metrics(Path("csv/lightning_logs/version_0/metrics.csv"))
    resumed = last_metrics(Path("csv/lightning_logs/version_2/metrics.csv"))
    assert straight["epoch"] == resumed["epoch"] == 3
    for name in ("train/loss", "val/loss"):
        assert resumed[name] == pytest.approx(straight[name], rel=1e-6)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(tmp_path):
    config = str(CONFIGS / "classifier.yaml")
    # 20 batches an epoch: long enough to be killed after the first checkpoint, short to redo twice
    few = ["--trainer.limit_train_batches=20", "--trainer.limit_val_batches=2", "--model.hidden_dim=32", *NO_TEST]
    args = ["fit", "--config", config, "--trainer.max_epochs=8", *SAMPLE, *few]
    interrupted = subprocess.Popen(
        [*AMAL, *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    last = tmp_path / "checkpoints/classifier/version_0/last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and interrupted.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(interrupted.pid, signal.SIGKILL)
    interrupted.wait()
    stopped_at = torch.load(last, weights_only=True)["epoch"]
    assert stopped_at < 7, "the run finished before it could be interrupted"

    with inside(tmp_path):  # resumed and run straight through in this process: no second start of torch
        run_inprocess(*args, "--ckpt_path=last")
    straight = tmp_path / "straight"
    straight.mkdir()
    with inside(straight):
        run_inprocess(*args)
    assert_same_training(
        final_state(tmp_path / "checkpoints/classifier/version_0"),
        final_state(straight / "checkpoints/classifier/version_0"),
    )


class SignalInStep(Callback):
    """SLURM's SIGUSR1 to this process while it takes optimizer step ``step`` (inside an epoch); SLURM ending
    the job it has requeued at the next batch."""

    def __init__(self, step: int) -> None:
        self.step, self.sent = step, False

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if self.sent:
            raise JobEndedError
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGUSR1)
            self.sent = True


@pytest.mark.parametrize(
    ("config", "options", "steps"),
    [
        # full-batch: every step is its epoch's last batch, and the signal checkpoint waits for the epoch's end
        ("regression", ["--trainer.max_epochs=8", "--data.test_each_epoch=false"], (2, 5)),
        # 6 batches an epoch: a signal in an epoch's last batch, then one inside an epoch
        ("classifier", ["--trainer.max_epochs=2", "--data.source=sample", "--model.hidden_dim=16"], (5, 8)),
    ],
)
def test_a_fit_preempted_by_sigusr1_again_and_again_ends_as_one_never_interrupted(
    workdir, monkeypatch, config, options, steps
):
    fit = ["fit", "--config", str(CONFIGS / f"{config}.yaml"), *options, *NO_TEST]
    fit += ["--trainer.limit_train_batches=6", "--trainer.limit_val_batches=1"]
    run_inprocess(*fit, "--experiment=straight")
    monkeypatch.setenv("PATH", fake_commands(workdir / "bin", workdir / "scontrol.txt", scontrol="exit 0")["PATH"])
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    run_dir = workdir / "checkpoints" / config / "slurm-4242"
    for number, step in enumerate(steps, start=1):  # each start signalled, checkpointed, requeued, ended
        with pytest.raises(JobEndedError):
            run_inprocess(
                *fit, "--trainer.callbacks+=tests.test_resume.SignalInStep", f"--trainer.callbacks.step={step}"
            )
        assert torch.load(run_dir / f"hpc_ckpt_{number}.ckpt", weights_only=True)["global_step"] == step + 1
    assert (workdir / "scontrol.txt").read_text().count("requeue 4242") == len(steps)
    run_inprocess(*fit)  # the last start runs to the end
    resumed, straight = final_state(run_dir), final_state(workdir / "checkpoints/straight/version_0")
    assert resumed["epoch"] == straight["epoch"] and resumed["global_step"] == straight["global_step"]
    for name, value in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value, rtol=0, atol=0)
