"""How checkpoint files are written, and the two of a run folder: ``last.ckpt`` and ``best.ckpt``.

Lightning's ``ModelCheckpoint(save_last=True, monitor=...)`` refreshes ``last.ckpt`` only when a
top-k save happens (since 2.6), so ``last`` is a callback of its own that saves through
``trainer.save_checkpoint``, like the SLURM callback does. Every file goes through
:class:`AtomicCheckpointIO`.
"""

import contextlib
import io
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Optional, Union

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.plugins.io import CheckpointIO, TorchCheckpointIO
from lightning.pytorch.trainer.states import TrainerFn

from amal_lightning.errors import AmalError, first_line
from amal_lightning.runs.folders import BEST, CHECKPOINT_SUFFIX, LAST

# mkstemp makes files only the owner can read; a checkpoint gets the usual permissions instead.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a temporary file in its own folder, then renames it over the old one.

    Lightning writes to a temporary file under the system's temp folder and moves it into place:
    when the checkpoints sit on another filesystem (a cluster's shared storage), that move is a
    copy over the old file, and a kill during the copy leaves a truncated checkpoint. A rename
    within one folder is atomic: a kill at any instant leaves the previous complete file or the
    new one, and the next save of that file removes what the killed writer left. A failed write
    (a full disk) is one line of error, and the previous file stays.

    The files named in ``coalesced`` (``best.ckpt``) are written at most every ``min_interval_s``:
    a converging descent improves its validation loss at every epoch of a few milliseconds, and
    each write with its fsync took longer than the epoch (docs/PERFORMANCE.md). A save due sooner
    is serialized at once (a snapshot of that instant) and kept in memory, replacing any older
    one, until the interval has passed, the run writes any other file (so that a ``last.ckpt``
    never names a best state that is not on disk), the file is read or removed, or the fit ends
    (:meth:`teardown`, which Lightning calls even after an error). A kill loses at most the last
    ``min_interval_s`` of improvements; the file on disk is always a complete earlier best.
    """

    def __init__(self, coalesced: tuple[str, ...] = (), min_interval_s: float = 1.0) -> None:
        super().__init__()
        self.coalesced = coalesced
        self.min_interval_s = min_interval_s
        self.pending: dict[Path, bytes] = {}
        self.written_at: dict[Path, float] = {}

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Union[str, Path], storage_options: Optional[Any] = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        if (
            path.name in self.coalesced
            and time.monotonic() - self.written_at.get(path, -math.inf) < self.min_interval_s
        ):
            snapshot = io.BytesIO()
            torch.save(checkpoint, snapshot)
            self.pending[path] = snapshot.getvalue()
            return
        self.pending.pop(path, None)
        if path.name not in self.coalesced:
            self.write_pending()
        self.write(path, lambda file: torch.save(checkpoint, file))

    def write_pending(self) -> None:
        """Writes the coalesced checkpoints still held in memory."""
        while self.pending:
            path, data = self.pending.popitem()
            self.write(path, lambda file, data=data: file.write(data))

    def load_checkpoint(self, path: Union[str, Path], *args: Any, **kwargs: Any) -> dict[str, Any]:
        if Path(path) in self.pending:
            self.write_pending()
        return super().load_checkpoint(path, *args, **kwargs)

    def remove_checkpoint(self, path: Union[str, Path]) -> None:
        self.pending.pop(Path(path), None)
        super().remove_checkpoint(path)

    def teardown(self) -> None:
        self.write_pending()
        super().teardown()

    def write(self, path: Path, dump: Callable[[BinaryIO], Any]) -> None:
        """``dump`` writes the file's content to a temporary file beside ``path``, renamed over it once synced."""
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a writer that was killed
                stale.unlink(missing_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.chmod(temporary, FILE_MODE)
            with os.fdopen(handle, "wb") as file:
                dump(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            temporary = None
        except OSError as error:
            raise AmalError(
                f"{path}: cannot write the checkpoint ({error.strerror or error}); the previous one is intact"
            ) from None
        except RuntimeError as error:  # torch's zip writer says a failed write (a full disk) this way, not as OSError
            raise AmalError(
                f"{path}: cannot write the checkpoint (the write failed, is the disk full? {first_line(error)}); "
                "the previous one is intact"
            ) from None
        finally:
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)
        self.written_at[path] = time.monotonic()
        with contextlib.suppress(OSError):  # not every filesystem lets a folder be synced
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # so that the rename itself survives a power cut
            finally:
                os.close(folder)


def with_atomic_checkpoints(plugins: Any) -> list:
    """The Trainer's configured plugins, plus :class:`AtomicCheckpointIO` (``best.ckpt`` written at most
    once a second) unless they bring their own CheckpointIO."""
    plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins] if plugins else []
    if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
        plugins.append(AtomicCheckpointIO(coalesced=(BEST + CHECKPOINT_SUFFIX,)))
    return plugins


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
        trainer.save_checkpoint(self.path, weights_only=False)
        self.saved_step = trainer.global_step
        self.saved_at = time.monotonic()
        for logger in trainer.loggers:  # amal's TensorBoard logger writes its points out at its next save
            getattr(logger, "after_resumable_checkpoint", lambda: None)()

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
        self.fixed_state_key = super().state_key

    @property
    def state_key(self) -> str:
        """ModelCheckpoint's key, built once: Lightning formats it into a label at each of the callback's
        hook calls, six a training step, and ModelCheckpoint rebuilds it from its settings every time."""
        return self.fixed_state_key

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        """Nothing: ``best.ckpt`` is judged after each validation. Lightning's own hook checks at every
        step whether a step or time interval is due (none is set here), about 0.04 ms a step."""

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
