"""A SLURM job's checkpoint and requeue on SIGUSR1, the signal SLURM sends before the time limit."""

import signal
import subprocess
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from amal_lightning.cluster.jobs import slurm_job_id
from amal_lightning.runs.folders import next_hpc_checkpoint


class CheckpointAndRequeue(Callback):
    """On SIGUSR1 (SLURM's warning before the time limit), checkpoint and requeue the job.

    The checkpoint ``hpc_ckpt_N.ckpt`` goes to the trainer's ``default_root_dir``, where
    Lightning looks for it when the requeued job starts without ``ckpt_path``. It is taken at the
    end of the batch during which the signal arrived, a point from which Lightning and the
    datamodules resume exactly; all processes of a multi-device run agree on that batch.
    """

    def __init__(self) -> None:
        self.signalled = False
        self._previous_handler: Any = None

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signalled = True

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit":
            self._previous_handler = signal.signal(signal.SIGUSR1, self._on_signal)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage == "fit" and self._previous_handler is not None:
            signal.signal(signal.SIGUSR1, self._previous_handler)
            self._previous_handler = None

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        signalled = self.signalled
        if trainer.world_size > 1:
            signalled = trainer.strategy.reduce_boolean_decision(signalled, all=False)
        if not signalled:
            return
        self.signalled = False
        path = next_hpc_checkpoint(Path(trainer.default_root_dir))
        trainer.save_checkpoint(path, weights_only=False)
        if trainer.is_global_zero:
            job_id = slurm_job_id()
            result = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True)
            if result.returncode == 0:
                rank_zero_info(f"Saved {path} and requeued SLURM job {job_id}")
            else:
                rank_zero_warn(f"Saved {path}, but `scontrol requeue {job_id}` failed: {result.stderr.strip()}")
