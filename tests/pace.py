"""A callback that gives a test's fit a known least duration, whatever the machine's speed.

The SLURM tests signal a fit while it trains: on a fast machine a small fit may end before the
signal lands. Sleeping after each training batch sets a floor on how long the fit trains, without
touching what it computes (the weights, steps and checkpoints are those of the same fit unpaced).
"""

import time
from typing import Any

import lightning as L


class Pace(L.Callback):
    """Sleeps ``seconds`` after every training batch."""

    def __init__(self, seconds: float = 0.01) -> None:
        self.seconds = seconds

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        time.sleep(self.seconds)
