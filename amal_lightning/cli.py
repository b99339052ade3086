"""The ``amal`` command: LightningCLI with the project's run folders and one-line errors.

Each run gets a version number N shared by its TensorBoard folder ``logs/<experiment>/version_N``
and its checkpoint folder ``checkpoints/<experiment>/version_N`` (``last.ckpt`` every epoch,
``best.ckpt`` by validation loss). ``<experiment>`` is the config file's name unless
``--experiment`` says otherwise. A new run never writes into an earlier run's folders; a fit
resumed from a checkpoint of run N goes on in run N's folders, so its curves continue and its
best checkpoint still competes with the earlier epochs. ``--ckpt_path last`` (or ``best``) picks
the newest such file of the experiment, whichever run wrote it.
"""

import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from amal_lightning.errors import AmalError, first_line

LOG_DIR = "logs"
# Lightning redraws its bar after every batch by default, which costs about 2 ms: more than a
# training step of the MNIST models on a CPU. Every 50 batches is still several times a second.
PROGRESS_BAR_REFRESH_RATE = 50
VERSION_PATTERN = re.compile(r"version_(\d+)$")


def experiment_name(config_paths: Optional[list], override: Optional[str]) -> str:
    """``--experiment`` if given, else the stem of the last ``--config`` file, else ``default``."""
    if override:
        return override
    if config_paths:
        return Path(str(config_paths[-1])).stem
    return "default"


def next_version(*folders: Path) -> int:
    """The first version number not used under any of ``folders``."""
    used = [
        int(match.group(1))
        for folder in folders
        if folder.is_dir()
        for child in folder.iterdir()
        if (match := VERSION_PATTERN.match(child.name))
    ]
    return max(used, default=-1) + 1


def run_version(checkpoint: Path, experiment_dir: Path) -> Optional[int]:
    """N when ``checkpoint`` lies in ``experiment_dir/version_N``, else None."""
    folder = checkpoint.resolve().parent
    match = VERSION_PATTERN.match(folder.name)
    return int(match.group(1)) if match and folder.parent == experiment_dir.resolve() else None


def newest_checkpoint(experiment_dir: Path, name: str) -> Path:
    """The most recently written ``<name>.ckpt`` among the experiment's runs."""
    candidates = list(experiment_dir.glob(f"version_*/{name}.ckpt"))
    if not candidates:
        raise AmalError(
            f"--ckpt_path {name}: no {name}.ckpt under {experiment_dir}/ (train first, or pass a checkpoint file)"
        )
    return max(candidates, key=lambda path: path.stat().st_mtime)


def check_checkpoint(path: Path) -> None:
    """Fails with one line if ``path`` is not a checkpoint that loads with ``weights_only=True``."""
    if not path.is_file():
        raise AmalError(f"--ckpt_path {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise AmalError(f"{path}: not a readable checkpoint ({first_line(error)})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise AmalError(f"{path}: not a Lightning checkpoint (no state_dict)")


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
        if subcommand is None:
            return
        config = self.config[subcommand]
        self.experiment = experiment_name(config.get("config"), config.get("experiment"))
        self.experiment_dir = Path(config.checkpoint_dir) / self.experiment
        ckpt_path = config.get("ckpt_path")
        if ckpt_path in ("last", "best"):
            ckpt_path = newest_checkpoint(self.experiment_dir, ckpt_path)
            config.ckpt_path = str(ckpt_path)
        resumed_run = None
        if ckpt_path is not None and ckpt_path != "hpc":
            check_checkpoint(Path(ckpt_path))
            if subcommand == "fit" and Path(ckpt_path).name == "last.ckpt":
                resumed_run = run_version(Path(ckpt_path), self.experiment_dir)
        # Resuming run N from its last.ckpt goes on in run N's folders; anything else starts a new run,
        # so that no earlier checkpoint is overwritten.
        if resumed_run is None:
            self.version = next_version(self.experiment_dir, Path(LOG_DIR) / self.experiment)
        else:
            self.version = resumed_run
        self.run_dir = self.experiment_dir / f"version_{self.version}"

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = TensorBoardLogger(LOG_DIR, name=self.experiment, version=self.version)
        callbacks = list(trainer_config.get("callbacks") or [])
        wants_bar = trainer_config.get("enable_progress_bar") is not False
        if wants_bar and not any(isinstance(callback, ProgressBar) for callback in callbacks):
            callbacks.append(TQDMProgressBar(refresh_rate=PROGRESS_BAR_REFRESH_RATE))
        # Added for every subcommand (they only save while fitting), so that a checkpoint's callback
        # states find the same callbacks when it is loaded by `amal test`.
        if trainer_config.get("enable_checkpointing", True) is not False:
            callbacks += [
                # A monitored checkpoint refreshes last.ckpt only on top-k saves since Lightning 2.6,
                # so `last` is a checkpoint of its own with no monitor.
                ModelCheckpoint(dirpath=self.run_dir, filename="last", monitor=None, save_top_k=1),
                ModelCheckpoint(dirpath=self.run_dir, filename="best", monitor="val/loss", mode="min", save_top_k=1),
            ]
        kwargs["callbacks"] = callbacks
        return super().instantiate_trainer(**kwargs)


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
    try:
        AmalCLI(
            model_class=None,
            datamodule_class=None,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            args=args,
        )
    except AmalError as error:
        print(f"amal: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
