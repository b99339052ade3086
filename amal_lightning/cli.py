"""The ``amal`` command: LightningCLI with the project's run folders and one-line errors.

Each run has a folder name shared by its TensorBoard folder ``logs/<experiment>/<run>`` and its
checkpoint folder ``checkpoints/<experiment>/<run>`` (``last.ckpt`` every epoch, ``best.ckpt`` by
validation loss). ``<experiment>`` is the config file's name unless ``--experiment`` says
otherwise; ``<run>`` is ``version_N``, or ``slurm-<job id>`` inside a SLURM job so that a
requeued job finds its own folder again. A new run never writes into an earlier run's folders;
a fit resumed from a run's ``last.ckpt`` (or SLURM checkpoint) goes on in that run's folders, so
its curves continue and its best checkpoint still competes with the earlier epochs.
``--ckpt_path last`` (or ``best``) picks the newest such file of the experiment.

Besides LightningCLI's ``fit``, ``validate``, ``test`` and ``predict``, ``amal submit`` writes
and submits a SLURM job (see :mod:`amal_lightning.slurm`) and ``amal prepare-data`` downloads
what a config needs, for clusters whose compute nodes are offline.
"""

import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.plugins.environments import SLURMEnvironment

from amal_lightning.errors import AmalError, first_line
from amal_lightning.slurm import CheckpointAndRequeue, slurm_job_id, submit

LOG_DIR = "logs"
# Lightning redraws its bar after every batch by default, which costs about 2 ms: more than a
# training step of the MNIST models on a CPU. Every 50 batches is still several times a second.
PROGRESS_BAR_REFRESH_RATE = 50
VERSION_PATTERN = re.compile(r"version_(\d+)$")
# Set by the first process of a multi-device run, so the processes it starts use the same run folder.
RUN_NAME_VARIABLE = "AMAL_RUN_NAME"
RESUMABLE = re.compile(r"^(last|hpc_ckpt_\d+)\.ckpt$")
# last.ckpt is rewritten at the end of an epoch only if this long has passed since it was last
# written (and always at the end of training): full-batch gradient descent on the housing data
# runs epochs of a few milliseconds, and writing a checkpoint after each took half the time.
LAST_CHECKPOINT_MIN_INTERVAL_S = 1.0


def experiment_name(config_paths: Optional[list], override: Optional[str]) -> str:
    """``--experiment`` if given, else the stem of the last ``--config`` file, else ``default``."""
    if override:
        return override
    if config_paths:
        return Path(str(config_paths[-1])).stem
    return "default"


def next_version(*folders: Path) -> str:
    """``version_N`` with the first N not used under any of ``folders``."""
    used = [
        int(match.group(1))
        for folder in folders
        if folder.is_dir()
        for child in folder.iterdir()
        if (match := VERSION_PATTERN.match(child.name))
    ]
    return f"version_{max(used, default=-1) + 1}"


def newest(folder: Path, *patterns: str) -> Optional[Path]:
    """The most recently written file under ``folder`` that matches one of ``patterns``."""
    candidates = [path for pattern in patterns for path in folder.glob(pattern)]
    return max(candidates, key=lambda path: path.stat().st_mtime, default=None)


def newest_checkpoint(experiment_dir: Path, name: str) -> Path:
    """The most recently written ``<name>.ckpt`` among the experiment's runs.

    For ``last``, a checkpoint saved on a SLURM signal (``hpc_ckpt_N.ckpt``) counts too: it is
    the latest state of its run.
    """
    found = newest(experiment_dir, f"*/{name}.ckpt", *(["*/hpc_ckpt_*.ckpt"] if name == "last" else []))
    if found is None:
        raise AmalError(
            f"--ckpt_path {name}: no {name}.ckpt under {experiment_dir}/ (train first, or pass a checkpoint file)"
        )
    return found


def check_checkpoint(path: Path) -> None:
    """Fails with one line if ``path`` is not a checkpoint that loads with ``weights_only=True``."""
    if not path.is_file():
        raise AmalError(f"--ckpt_path {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise AmalError(f"{path}: not a readable checkpoint ({first_line(error)})") from None
    missing = (
        [key for key in ("state_dict", "pytorch-lightning_version") if key not in checkpoint]
        if (isinstance(checkpoint, dict))
        else ["dictionary"]
    )
    if missing:
        raise AmalError(f"{path}: not a Lightning checkpoint (no {' or '.join(missing)})")


def final_epoch(trainer: Trainer) -> bool:
    """Whether the epoch ending now is the last one of the fit (by max_epochs, max_steps or a stop)."""
    if trainer.should_stop or (trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps):
        return True
    return trainer.max_epochs is not None and 0 <= trainer.max_epochs <= trainer.current_epoch + 1


class RunCheckpoint(ModelCheckpoint):
    """A run's ``last`` or ``best`` checkpoint file, which keeps its name and its memory of the run.

    Lightning records the folder as an absolute path: when a run is resumed from another path (a
    copied or moved project, another machine), it forgets which file was best and writes
    ``best-v1.ckpt`` beside the old one. Resuming a run here always means going on in its own
    folder, so the recorded paths are carried over to where that folder is now.

    With ``min_interval_s``, an epoch's end skips the save if the file was written less than that
    long ago; the end of training always saves.
    """

    def __init__(
        self, dirpath: Path, filename: str, monitor: Optional[str] = None, min_interval_s: float = 0.0
    ) -> None:
        super().__init__(
            dirpath=dirpath, filename=filename, monitor=monitor, mode="min", save_top_k=1, enable_version_counter=False
        )
        self.min_interval_s = min_interval_s
        self._saved_at = -math.inf

    def _saving_if_due(self, save: Callable[[], None], trainer: Trainer) -> None:
        due = final_epoch(trainer) or time.monotonic() - self._saved_at >= self.min_interval_s
        if self.min_interval_s > 0:
            # Saving is collective (every process meets at a barrier), so all must decide alike.
            due = trainer.strategy.broadcast(due)
        if not due:
            return
        saved_before = self._last_global_step_saved
        save()
        if self._last_global_step_saved != saved_before:
            self._saved_at = time.monotonic()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._saving_if_due(lambda: super(RunCheckpoint, self).on_train_epoch_end(trainer, pl_module), trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._saving_if_due(lambda: super(RunCheckpoint, self).on_validation_end(trainer, pl_module), trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        # a stop that `final_epoch` could not foresee (early stopping, max_time) left the end unsaved
        if self.monitor is None and not self._should_skip_saving_checkpoint(trainer):
            self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))

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


class BufferedTensorBoardLogger(TensorBoardLogger):
    """A TensorBoard logger that writes its event file to disk at most every ``min_interval_s``.

    Lightning calls ``save()`` after each logging call, and TensorBoard's waits until its writer
    thread has emptied its queue: twice an epoch, about a third of a millisecond each time, in
    housing runs whose epochs last a few milliseconds. The writer thread itself still writes what
    is pending every ``min_interval_s`` (its ``flush_secs``), without holding training up, and the
    end of the run (``finalize``) writes everything.
    """

    def __init__(self, *args: Any, min_interval_s: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("flush_secs", max(1, round(min_interval_s)))
        super().__init__(*args, **kwargs)
        self.min_interval_s = min_interval_s
        self._saved_at = -math.inf

    def save(self) -> None:
        if time.monotonic() - self._saved_at >= self.min_interval_s:
            self._saved_at = time.monotonic()
            super().save()


class AmalCLI(LightningCLI):
    """LightningCLI that names runs after their config and keeps their checkpoints apart."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--experiment",
            type=Optional[str],
            default=None,
            help="Run name for logs/ and checkpoints/ (default: the config file's name).",
        )
        parser.add_argument(
            "--checkpoint_dir",
            type=str,
            default="checkpoints",
            help="Folder that holds one sub-folder of checkpoints per experiment.",
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        self.experiment = experiment_name(config.get("config"), config.get("experiment"))
        self.experiment_dir = Path(config.checkpoint_dir) / self.experiment
        in_slurm_job = SLURMEnvironment.detect()
        ckpt_path = config.get("ckpt_path")
        if ckpt_path == "hpc" and not in_slurm_job:
            raise AmalError(
                "--ckpt_path hpc: only inside a SLURM job (elsewhere `--ckpt_path last` finds its checkpoints)"
            )
        if ckpt_path in ("last", "best"):
            ckpt_path = newest_checkpoint(self.experiment_dir, ckpt_path)
            config.ckpt_path = str(ckpt_path)
        resumed_run = None
        if ckpt_path not in (None, "hpc"):
            check_checkpoint(Path(ckpt_path))
            folder = Path(ckpt_path).resolve().parent
            if subcommand == "fit" and RESUMABLE.match(Path(ckpt_path).name):
                resumed_run = folder.name if folder.parent == self.experiment_dir.resolve() else None
        # Resuming a run from its latest state goes on in its folders; anything else starts a new
        # run, so that no earlier checkpoint is overwritten.
        if resumed_run is not None:
            self.run_name = resumed_run
        elif "LOCAL_RANK" in os.environ and RUN_NAME_VARIABLE in os.environ:
            self.run_name = os.environ[RUN_NAME_VARIABLE]
        elif in_slurm_job:
            self.run_name = f"slurm-{slurm_job_id()}"
        else:
            self.run_name = next_version(self.experiment_dir, Path(LOG_DIR) / self.experiment)
        os.environ[RUN_NAME_VARIABLE] = self.run_name
        self.run_dir = self.experiment_dir / self.run_name
        if subcommand == "fit" and in_slurm_job:
            # A requeued job (time limit, preemption, node failure) finds its run folder again and
            # goes on from the newest state saved there, whatever checkpoint it first started from.
            state = newest(self.run_dir, "last.ckpt", "hpc_ckpt_*.ckpt")
            if state is not None:
                check_checkpoint(state)
                config.ckpt_path = str(state)
            elif ckpt_path == "hpc":
                raise AmalError(f"--ckpt_path hpc: no hpc_ckpt_N.ckpt in {self.run_dir}/ yet")

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = BufferedTensorBoardLogger(LOG_DIR, name=self.experiment, version=self.run_name)
        if trainer_config.get("default_root_dir") is None:
            # where the checkpoint taken on SLURM's signal is written
            kwargs["default_root_dir"] = str(self.run_dir)
        wants_bar = trainer_config.get("enable_progress_bar") is not False
        # `--trainer.enable_progress_bar false` also turns off a bar that the config chose
        callbacks = [
            callback
            for callback in trainer_config.get("callbacks") or []
            if wants_bar or not isinstance(callback, ProgressBar)
        ]
        if wants_bar and not any(isinstance(callback, ProgressBar) for callback in callbacks):
            callbacks.append(TQDMProgressBar(refresh_rate=PROGRESS_BAR_REFRESH_RATE))
        # Added for every subcommand (they only save while fitting), so that a checkpoint's callback
        # states find the same callbacks when it is loaded by `amal test`.
        if trainer_config.get("enable_checkpointing", True) is not False:
            callbacks += [
                # A monitored checkpoint refreshes last.ckpt only on top-k saves since Lightning 2.6,
                # so `last` is a checkpoint of its own with no monitor.
                RunCheckpoint(self.run_dir, "last", min_interval_s=LAST_CHECKPOINT_MIN_INTERVAL_S),
                RunCheckpoint(self.run_dir, "best", monitor="val/loss"),
            ]
        if SLURMEnvironment.detect() and not trainer_config.get("plugins"):
            # Lightning's own handler checkpoints wherever in a step the signal lands; ours waits
            # for the end of the batch so the requeued job continues exactly.
            kwargs["plugins"] = [SLURMEnvironment(auto_requeue=False)]
            callbacks.append(CheckpointAndRequeue())
        kwargs["callbacks"] = callbacks
        return super().instantiate_trainer(**kwargs)


def prepare_data(argv: list[str]) -> None:
    """``amal prepare-data --config X``: download what the config's data needs, then check it reads."""
    cli = AmalCLI(
        model_class=None,
        datamodule_class=None,
        run=False,
        args=argv,
        save_config_callback=None,
        trainer_defaults={"logger": False},
    )
    datamodule = cli.datamodule
    if getattr(datamodule.hparams, "source", None) == "auto":
        # falling back to the bundled sample here would leave the compute nodes without the data
        datamodule.hparams.source = "full"
    datamodule.prepare_data()
    datamodule.setup("fit")
    print(f"{type(datamodule).__name__}: data ready")


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of the ``amal`` console script."""
    # LightningCLI still calls jsonargparse functions deprecated in 4.49: a matter for Lightning, not for users.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    # The data sets are in-memory tensors fetched a batch at a time: worker processes would only add copies.
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    # The gradient-descent modules update their weights themselves and return no optimizer on purpose.
    warnings.filterwarnings("ignore", message=r".*configure_optimizers. returned .None.*")
    # The modules log epoch means only, so the per-step logging interval does not matter.
    warnings.filterwarnings("ignore", message=r".*smaller than the logging interval.*")
    # Raised inside Lightning by newer torch releases; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    argv = sys.argv[1:] if args is None else args
    try:
        if argv[:1] == ["submit"]:
            submit(argv[1:])
        elif argv[:1] == ["prepare-data"]:
            prepare_data(argv[1:])
        else:
            AmalCLI(
                model_class=None,
                datamodule_class=None,
                seed_everything_default=0,
                save_config_kwargs={"overwrite": True},
                # The datamodules give each process its share of the batches themselves.
                trainer_defaults={"use_distributed_sampler": False},
                parser_kwargs={"epilog": "Also: `amal submit --help` (SLURM) and `amal prepare-data --config X`."},
                args=args,
            )
    except AmalError as error:
        print(f"amal: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
