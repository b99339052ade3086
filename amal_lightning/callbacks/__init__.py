"""Lightning callbacks of amal's runs: what a run saves, guards, shows and draws beside its training.

- :mod:`~amal_lightning.callbacks.checkpoints`: ``last.ckpt``, ``best.ckpt``, atomic checkpoint writes;
- :mod:`~amal_lightning.callbacks.divergence`: stops a run whose loss or weights are not finite;
- :mod:`~amal_lightning.callbacks.summary`: what a fit did, for its summary and its outcome;
- :mod:`~amal_lightning.callbacks.progress`: the progress bars;
- :mod:`~amal_lightning.callbacks.interrupt`: Ctrl+C ends a fit at the end of its step;
- :mod:`~amal_lightning.callbacks.requeue`: a SLURM job's checkpoint and requeue on SIGUSR1;
- :mod:`~amal_lightning.callbacks.step_timer`: the seconds spent in training steps, ``time/train_seconds``;
- :mod:`~amal_lightning.callbacks.predictions`: ``amal predict``'s CSV and pictures;
- :mod:`~amal_lightning.callbacks.references`: reference values (each model says its own) at step 0;
- :mod:`~amal_lightning.callbacks.tensorboard`: the run's TensorBoard logger, for the callbacks that draw in it.

The labs' own figure callbacks live with their lab (TME3's in :mod:`amal_lightning.tme3`).
"""

from amal_lightning.callbacks.progress import EpochProgressBar, RunProgressBar
from amal_lightning.callbacks.step_timer import TrainStepTimer

__all__ = [
    "EpochProgressBar",
    "RunProgressBar",
    "TrainStepTimer",
]
