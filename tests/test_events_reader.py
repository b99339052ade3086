"""The event-file reader says nothing of the purge marker that a resumed fit writes: it is expected."""

import logging
import time

import pytest
from torch.utils.tensorboard import SummaryWriter

from amal_lightning.runs.events import read_run


def test_a_resumed_runs_purge_is_read_without_a_warning(tmp_path, caplog):
    first = SummaryWriter(str(tmp_path))
    for step in range(5):
        first.add_scalar("train/loss", 10.0 - step, step)
    first.close()
    time.sleep(1.1)  # the next file's name sorts after the first one's
    resumed = SummaryWriter(str(tmp_path), purge_step=3)
    for step in range(3, 6):
        resumed.add_scalar("train/loss", 1.0 - step / 10, step)
    resumed.close()
    with caplog.at_level(logging.WARNING):
        run = read_run(tmp_path)
    assert run.curves["train/loss"].steps == (0, 1, 2, 3, 4, 5)
    assert run.curves["train/loss"].values[3:] == pytest.approx((0.7, 0.6, 0.5))  # the resumed points
    assert not [record for record in caplog.records if "out of order" in record.getMessage()]
