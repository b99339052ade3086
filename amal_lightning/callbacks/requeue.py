"""A SLURM job's checkpoint and requeue on SIGUSR1, the signal SLURM sends before the time limit.

The job requeues itself at most ``AMAL_MAX_REQUEUES`` times (``amal submit --max-requeues``, which
writes it into the script; without it, no bound), counted by SLURM in ``SLURM_RESTART_COUNT``. Past
it, the signal's checkpoint is still saved but the job is not requeued: the fit ends with an
:class:`~amal_lightning.errors.AmalError`, printed as ``amal: error: ...`` in the job's log.
Only the newest ``hpc_ckpt_N.ckpt`` of the run folder is kept: the older ones are removed once it is saved.
A signal that comes when no fit listens (during the test after a fit, between two fits of a search's
worker, in a fit's last moments after its last chance to save) is said in the log and kept: the next
fit of the process checkpoints and requeues at its first step; if none comes, the job goes on to its
end, its fit saved. SIGUSR1's default action, which SLURM's signal would otherwise meet, ends the
process: a finished job as failed.
"""

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Optional

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from amal_lightning.cluster.directives import MAX_REQUEUES_VARIABLE
from amal_lightning.cluster.jobs import slurm_job_id
from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import HPC_PATTERN, next_hpc_checkpoint


def max_requeues(environ: Mapping[str, str]) -> Optional[int]:
    """``AMAL_MAX_REQUEUES`` of ``environ``: how many times the job may requeue itself (None: no bound)."""
    value = environ.get(MAX_REQUEUES_VARIABLE)
    if value is None:
        return None
    if not value.strip().isdigit():
        raise AmalError(f"{MAX_REQUEUES_VARIABLE}={value!r}: not an integer, 0 or more (amal submit --max-requeues)")
    return int(value)


def restart_count(environ: Mapping[str, str]) -> int:
    """How many times SLURM has restarted this job (``SLURM_RESTART_COUNT``, absent on its first start)."""
    value = environ.get("SLURM_RESTART_COUNT", "0").strip()
    return int(value) if value.isdigit() else 0


def remove_older_hpc_checkpoints(newest: Path) -> None:
    """Removes the ``hpc_ckpt_N.ckpt`` of ``newest``'s folder numbered below it: the run resumes from the newest."""
    number = int(HPC_PATTERN.match(newest.name).group(1))
    for path in newest.parent.glob("*.ckpt"):
        match = HPC_PATTERN.match(path.name)
        if match and int(match.group(1)) < number:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                rank_zero_warn(f"Kept {path}: cannot remove it ({error.strerror})")


class CheckpointAndRequeue(Callback):
    """On SIGUSR1 (SLURM's warning before the time limit), checkpoint and requeue the job.

    The checkpoint ``hpc_ckpt_N.ckpt`` goes to the trainer's ``default_root_dir``, where
    Lightning looks for it when the requeued job starts without ``ckpt_path``. It is taken at the
    end of the batch during which the signal arrived, or, when that batch is the epoch's last (every
    batch of a full-batch fit), at the end of the epoch, after its validation: the points from which
    Lightning resumes exactly, with the same optimizer steps and weights as a fit never interrupted,
    however many times it is preempted. (From a checkpoint taken at the end of an epoch's last batch,
    Lightning 2.6 resumes but counts the epochs one behind, so that the next start, from a checkpoint
    the resumed run takes, redoes a step.) All processes of a multi-device run ask at the same points,
    and agree.
    """

    # A signal no fit of this process has acted on yet: the next fit's, at its first step.
    signalled_between_fits: ClassVar[bool] = False

    def __init__(self) -> None:
        self.signalled = False
        self.max_requeues: Optional[int] = None
        self._previous_handler: Any = None
        self._listening = False

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._listening:
            self.signalled = True
        elif callable(self._previous_handler):  # after a fit that failed, Lightning puts this handler back
            self._previous_handler(signum, frame)
        else:
            self.keep_for_the_next_fit()

    @classmethod
    def keep_for_the_next_fit(cls) -> None:
        cls.signalled_between_fits = True
        print(
            "amal: SIGUSR1 after the fit: nothing left to save here, the job goes on "
            "(a next fit in this process checkpoints and requeues at its first step)",
            file=sys.stderr,
        )

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.max_requeues = max_requeues(os.environ)  # a bad value is refused before training
            self._previous_handler = signal.signal(signal.SIGUSR1, self._on_signal)
            self._listening = True
            self.signalled, CheckpointAndRequeue.signalled_between_fits = self.signalled_between_fits, False

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":  # Lightning has given back the handlers it found; this callback's comes last
            self.stop_listening()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.stop_listening()  # Lightning calls no teardown hook of a callback after an exception

    def stop_listening(self) -> None:
        """The fit is over. A handler the process had before it gets the signal back; in place of the
        default action this one stays, to keep the signal for a next fit. A signal of the fit's last
        moments, after its last chance to checkpoint, is kept the same way."""
        self._listening = False
        if self.signalled:
            self.signalled = False
            self.keep_for_the_next_fit()
        if callable(self._previous_handler):  # not SIG_DFL, SIG_IGN, or None (set outside Python)
            signal.signal(signal.SIGUSR1, self._previous_handler)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if not trainer.is_last_batch and self.all_signalled(trainer):
            self.checkpoint_and_requeue(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.all_signalled(trainer):
            self.checkpoint_and_requeue(trainer)

    def all_signalled(self, trainer: L.Trainer) -> bool:
        """Whether any process got the signal (all processes ask at the same point, and get the same answer)."""
        if trainer.world_size > 1:
            return trainer.strategy.reduce_boolean_decision(self.signalled, all=False)
        return self.signalled

    def checkpoint_and_requeue(self, trainer: L.Trainer) -> None:
        self.signalled = False
        path = next_hpc_checkpoint(Path(trainer.default_root_dir))
        trainer.save_checkpoint(path, weights_only=False)
        job_id, restarts = slurm_job_id(), restart_count(os.environ)
        if trainer.is_global_zero:
            remove_older_hpc_checkpoints(path)
        if self.max_requeues is not None and restarts >= self.max_requeues:  # the same on every process
            raise AmalError(
                f"SLURM job {job_id} reached its --max-requeues {self.max_requeues} (SLURM_RESTART_COUNT={restarts}): "
                f"saved {path} but did not requeue it; submit again with `-- --ckpt_path last` to go on from it"
            )
        if trainer.is_global_zero:
            result = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True)
            if result.returncode == 0:
                rank_zero_info(f"Saved {path} and requeued SLURM job {job_id}")
            else:
                rank_zero_warn(f"Saved {path}, but `scontrol requeue {job_id}` failed: {result.stderr.strip()}")
