"""TrainStepTimer: the seconds inside training steps, ``time/train_seconds``, once per epoch, across a resume."""

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from amal_lightning.api import fit
from amal_lightning.callbacks import TrainStepTimer
from amal_lightning.callbacks.step_timer import METRIC
from tests.helpers import CONFIGS, TEST_SETTINGS

SETTINGS = [f"{name}={value}" for name, value in TEST_SETTINGS.items()]
REGRESSION = str(CONFIGS / "regression.yaml")


def logged(log_dir, tag: str = METRIC) -> list[tuple[int, float]]:
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [(event.step, event.value) for event in events.Scalars(tag)]


def test_a_fit_logs_its_training_seconds_once_per_epoch(workdir):
    outcome = fit(REGRESSION, "--trainer.max_epochs=4", *SETTINGS)
    seconds = logged(outcome.log_dir)
    assert len(seconds) == 4
    # at the same steps as the epoch's training loss: beside it in TensorBoard, and against wall-clock
    assert [step for step, _ in seconds] == [step for step, _ in logged(outcome.log_dir, "train/loss")]
    values = [value for _, value in seconds]
    assert values[0] > 0 and values == sorted(set(values))  # increasing
    assert values[-1] < outcome.seconds  # the steps are part of the fit's wall-clock


def test_the_count_continues_after_a_resume(workdir):
    first = fit(REGRESSION, "--trainer.max_epochs=2", *SETTINGS)
    saved = torch.load(first.last_checkpoint, weights_only=True)["callbacks"]["TrainStepTimer"]["seconds"]
    assert saved == pytest.approx(logged(first.log_dir)[-1][1], rel=1e-6)  # float32 in the event file
    resumed = fit(REGRESSION, "--trainer.max_epochs=3", "--ckpt_path=last", *SETTINGS)
    assert resumed.log_dir == first.log_dir  # the same run, continued
    values = [value for _, value in logged(resumed.log_dir)]
    assert len(values) == 3 and values[2] > values[1] == pytest.approx(saved, rel=1e-6)


def test_state_dict_round_trip_and_a_step_without_its_start():
    timer = TrainStepTimer()
    timer.seconds = 12.5
    other = TrainStepTimer()
    other.load_state_dict(timer.state_dict())
    assert other.seconds == 12.5
    other.on_train_batch_end(None, None, None, None, 0)  # no start seen (a resume between the hooks): nothing added
    assert other.seconds == 12.5
    other.on_train_batch_start(None, None, None, 0)
    other.on_train_batch_end(None, None, None, None, 0)
    assert 12.5 < other.seconds < 13.5
