"""Lightning callbacks of amal's runs: what a run saves, guards, shows and draws beside its training.

- :mod:`~amal_lightning.callbacks.checkpoints`: ``last.ckpt``, ``best.ckpt``, atomic checkpoint writes;
- :mod:`~amal_lightning.callbacks.divergence`: stops a run whose loss or weights are not finite;
- :mod:`~amal_lightning.callbacks.summary`: what a fit did, for its summary and its outcome;
- :mod:`~amal_lightning.callbacks.progress`: the progress bars;
- :mod:`~amal_lightning.callbacks.interrupt`: Ctrl+C ends a fit at the end of its step;
- :mod:`~amal_lightning.callbacks.requeue`: a SLURM job's checkpoint and requeue on SIGUSR1;
- :mod:`~amal_lightning.callbacks.step_timer`: the seconds spent in training steps, ``time/train_seconds``;
- :mod:`~amal_lightning.callbacks.predictions`: ``amal predict``'s CSV and pictures;
- :mod:`~amal_lightning.callbacks.pictures` and :mod:`~amal_lightning.callbacks.pr_curves`: the
  autoencoder's images and the classifiers' precision–recall curves in TensorBoard;
- :mod:`~amal_lightning.callbacks.classifier_figures` and :mod:`~amal_lightning.callbacks.autoencoder_figures`:
  the same runs' test figures as PNG files in their log folder (:mod:`~amal_lightning.callbacks.figure_files`).
"""

from amal_lightning.callbacks.autoencoder_figures import AutoencoderFigures
from amal_lightning.callbacks.classifier_figures import ClassifierFigures
from amal_lightning.callbacks.pictures import AutoencoderPictures
from amal_lightning.callbacks.pr_curves import PRCurves
from amal_lightning.callbacks.progress import EpochProgressBar, RunProgressBar
from amal_lightning.callbacks.step_timer import TrainStepTimer

__all__ = [
    "AutoencoderFigures",
    "AutoencoderPictures",
    "ClassifierFigures",
    "EpochProgressBar",
    "PRCurves",
    "RunProgressBar",
    "TrainStepTimer",
]
