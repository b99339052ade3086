"""The two checkpoint files of a run folder: ``last.ckpt`` to resume from, ``best.ckpt`` to keep.

Lightning's ``ModelCheckpoint(save_last=True, monitor=...)`` refreshes ``last.ckpt`` only when a
top-k save happens (since 2.6), so ``last`` is a callback of its own that saves through
``trainer.save_checkpoint``, like the SLURM callback does.
"""

import time
from pathlib import Path
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

from amal_lightning.runs import BEST, CHECKPOINT_SUFFIX, LAST


def final_epoch(trainer: L.Trainer) -> bool:
    """Whether the epoch ending now is the last one of the fit (by max_epochs, max_steps or a stop)."""
    if trainer.should_stop or (trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps):
        return True
    return trainer.max_epochs is not None and 0 <= trainer.max_epochs <= trainer.current_epoch + 1


class LastCheckpoint(Checkpoint):
    """Writes the run's latest state to ``<dirpath>/last.ckpt`` at the end of an epoch and of training.

    Full-batch gradient descent on the housing data runs epochs of a few milliseconds, and
    writing a checkpoint after each would take most of the time: an epoch's end skips the save
    if the file was written less than ``min_interval_s`` ago. The last epoch, and the end of
    training for any reason (early stopping, a time limit), always save.

    It subclasses ``Checkpoint`` so that Lightning runs it, like ``ModelCheckpoint``, after the
    module's own epoch-end hook has logged the epoch's metrics.
    """

    def __init__(self, dirpath: Path, min_interval_s: float = 1.0) -> None:
        super().__init__()
        self.path = Path(dirpath) / (LAST + CHECKPOINT_SUFFIX)
        self.min_interval_s = min_interval_s
        self.saved_step: Optional[int] = None
        self.saved_at = float("-inf")

    def _can_save(self, trainer: L.Trainer) -> bool:
        return (
            not trainer.fast_dev_run
            and trainer.state.fn == TrainerFn.FITTING
            and not trainer.sanity_checking
            and self.saved_step != trainer.global_step
        )

    def _save(self, trainer: L.Trainer) -> None:
        trainer.save_checkpoint(self.path)
        self.saved_step = trainer.global_step
        self.saved_at = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._can_save(trainer):
            return
        due = final_epoch(trainer) or time.monotonic() - self.saved_at >= self.min_interval_s
        # Saving is collective (every process meets at a barrier), so all must decide alike.
        if trainer.strategy.broadcast(due):
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a stop that `final_epoch` could not foresee (early stopping, max_time) left the end unsaved
        if self._can_save(trainer):
            self._save(trainer)


class BestCheckpoint(ModelCheckpoint):
    """``<dirpath>/best.ckpt``: the state with the lowest ``monitor``, which keeps its memory of the run.

    Lightning records the folder as an absolute path: when a run is resumed from another path (a
    copied or moved project, another machine), it forgets which file was best and writes
    ``best-v1.ckpt`` beside the old one. Resuming a run here always means going on in its own
    folder, so the recorded paths are carried over to where that folder is now.
    """

    def __init__(self, dirpath: Path, monitor: str = "val/loss") -> None:
        super().__init__(
            dirpath=dirpath, filename=BEST, monitor=monitor, mode="min", save_top_k=1, enable_version_counter=False
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        recorded = state_dict.get("dirpath")
        if recorded and recorded != self.dirpath and Path(recorded).name == Path(self.dirpath).name:

            def here(path: str) -> str:
                return str(Path(self.dirpath) / Path(path).name) if path else path

            state_dict = {
                **state_dict,
                "dirpath": self.dirpath,
                "best_model_path": here(state_dict["best_model_path"]),
                "kth_best_model_path": here(state_dict.get("kth_best_model_path", "")),
                "last_model_path": here(state_dict.get("last_model_path", "")),
                "best_k_models": {here(path): score for path, score in state_dict.get("best_k_models", {}).items()},
            }
        super().load_state_dict(state_dict)
