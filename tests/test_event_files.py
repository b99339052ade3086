"""TensorBoard files that hold the curve the run followed: a resumed run purges the points it abandoned,
and the test after a fit is not taken for a per-epoch point."""

import os
import signal
import subprocess
import time

import lightning as L
import pytest
from lightning.pytorch.callbacks import Callback
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

from amal_lightning.api import fit
from amal_lightning.callbacks.checkpoints import LastCheckpoint
from tests.helpers import AMAL, CONFIGS, REPO

REGRESSION = str(CONFIGS / "regression.yaml")
QUIET = ("--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false")


class FailAtEpoch(Callback):
    """Ends the fit with an error at the end of epoch ``epoch`` or later, as a crash would, once a whole epoch's
    points were logged after the latest ``last.ckpt`` (written at most once a second: on a slow machine the
    epoch before ``epoch`` may have saved it)."""

    def __init__(self, epoch: int = 30) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = next(callback for callback in trainer.checkpoint_callbacks if isinstance(callback, LastCheckpoint))
        if trainer.current_epoch >= self.epoch and trainer.global_step - (last.saved_step or 0) >= 2:
            self.crash(trainer)

    def crash(self, trainer: L.Trainer) -> None:
        trainer.logger.experiment.flush()
        raise RuntimeError("a crash after the last checkpoint")


class KilledAtEpoch(FailAtEpoch):
    """As :class:`FailAtEpoch`, but the process is killed with SIGKILL: nothing is closed. The points logged
    since the checkpoint are written out first, as the logger does once a second, so that the resumed run
    has points to purge whatever the machine's speed."""

    def crash(self, trainer: L.Trainer) -> None:
        trainer.logger.write_pending()
        trainer.logger.experiment.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def scalars(log_dir, tag: str) -> list:
    events = EventAccumulator(str(log_dir), size_guidance={SCALARS: 0})
    events.Reload()
    return events.Scalars(tag) if tag in events.Tags()[SCALARS] else []


def assert_one_point_per_step_from(points: list, resumed_at: float, after_step: int) -> None:
    steps = [point.step for point in points]
    assert steps == sorted(set(steps)), f"steps held twice: {steps}"
    later = [point for point in points if point.step > after_step]
    assert later and all(point.wall_time >= resumed_at for point in later)  # the resumed run's points


def test_a_resumed_fit_purges_the_points_logged_after_its_checkpoint(workdir):
    with pytest.raises(RuntimeError):
        fit(REGRESSION, "--trainer.max_epochs", "60", "--trainer.callbacks+=tests.test_event_files.FailAtEpoch", *QUIET)
    log_dir = workdir / "logs/regression/version_0"
    last = workdir / "checkpoints/regression/version_0/last.ckpt"
    abandoned = [point.step for point in scalars(log_dir, "train/loss")]
    resumed_at = time.time()
    outcome = fit(REGRESSION, "--trainer.max_epochs", "60", "--ckpt_path", str(last), *QUIET)
    assert (outcome.run, outcome.status) == ("version_0", "finished")
    points = scalars(log_dir, "train/loss")
    assert len(points) == 60 and max(abandoned) > min(p.step for p in points if p.wall_time >= resumed_at)
    assert_one_point_per_step_from(points, resumed_at, min(p.step for p in points if p.wall_time >= resumed_at) - 1)


def test_the_test_after_a_fit_is_logged_apart_from_the_per_epoch_test_points(workdir):
    fit(REGRESSION, "--trainer.max_epochs", "5", "--data.test_each_epoch", "true", *QUIET)
    log_dir = workdir / "logs/regression/version_0"
    assert len(scalars(log_dir, "test/loss")) == 5
    assert len(scalars(log_dir, "best/test/loss")) == 1 and len(scalars(log_dir, "hp/test/loss")) == 1


@pytest.mark.slow
def test_after_kill_9_and_a_resume_each_step_holds_one_point_of_the_resumed_run(workdir):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}  # imports tests.test_event_files
    config, options = str(CONFIGS / "tanh_mlp.yaml"), [*QUIET, "--trainer.max_epochs", "60"]
    killed = [*AMAL, "fit", "--config", config, *options, "--trainer.callbacks+=tests.test_event_files.KilledAtEpoch"]
    assert subprocess.run(killed, cwd=workdir, env=env, capture_output=True).returncode == -signal.SIGKILL
    log_dir = workdir / "logs/tanh_mlp/version_0"
    abandoned = [point.step for point in scalars(log_dir, "train/loss")]
    resumed_at = time.time()
    outcome = fit(config, *options, "--ckpt_path", "last")  # in this process: the kill was the other's
    assert (outcome.run, outcome.status) == ("version_0", "finished")
    points = scalars(log_dir, "train/loss")
    assert len(points) == 60
    first_resumed = min(point.step for point in points if point.wall_time >= resumed_at)
    assert max(abandoned) > first_resumed  # points of the killed run after its checkpoint, logged again
    assert_one_point_per_step_from(points, resumed_at, first_resumed - 1)
