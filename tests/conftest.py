"""Fixtures shared by the tests: a temporary current folder, and amal's options shrunk for tests.

As in lightning-hydra-template's tests/conftest.py, a test that trains takes the shrunken settings
(a few batches of each split, on the CPU, no progress bar, no model summary) unless what it
checks needs the real sizes (a step count, a convergence, a whole epoch's mean).
"""

import os
import sys

import pytest

# pytest-xdist runs the suite in one worker per core (`make test`): each worker and the `amal`
# processes it starts compute on one thread, as two threads per worker would wait at OpenMP's
# barriers whenever the other worker holds the second core.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

from tests.helpers import TEST_SETTINGS

# A few batches of each split: enough to train, validate, test, checkpoint and resume.
FEW_BATCHES = (
    "--trainer.limit_train_batches=4",
    "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=2",
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh current folder, so that logs/ and checkpoints/ land in tmp."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["amal"])
    return tmp_path


@pytest.fixture
def shrunk(workdir) -> list[str]:
    """``amal`` options for a short run in ``workdir``: a few batches of each split, CPU, nothing drawn."""
    return [*FEW_BATCHES, *(f"{name}={value}" for name, value in TEST_SETTINGS.items())]
