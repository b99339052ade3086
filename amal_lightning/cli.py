"""The ``amal`` command: LightningCLI with the project's run folders and one-line errors.

Where a run's checkpoints and logs go, and which checkpoint ``--ckpt_path last|best`` picks, is
decided in :mod:`amal_lightning.runs`; this module only asks it, then hands the answer to the
Trainer (its logger, its checkpoint callbacks, the folder for SLURM's checkpoint).

Besides LightningCLI's ``fit``, ``validate``, ``test`` and ``predict``, ``amal submit`` writes
and submits a SLURM job (see :mod:`amal_lightning.slurm`) and ``amal prepare-data`` downloads
what a config needs, for clusters whose compute nodes are offline.
"""

import os
import sys
import warnings
from typing import Any, Optional

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ProgressBar, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.environments import ClusterEnvironment, SLURMEnvironment
from lightning.pytorch.plugins.io import CheckpointIO

from amal_lightning.checkpoints import AtomicCheckpointIO, BestCheckpoint, LastCheckpoint
from amal_lightning.divergence import DIVERGED_EXIT_STATUS, DivergedError, DivergenceGuard
from amal_lightning.errors import AmalError
from amal_lightning.loggers import BufferedTensorBoardLogger
from amal_lightning.predictions import PREDICTION_DIR, PredictionWriter, check_can_predict, check_one_process
from amal_lightning.runs import LOG_DIR, RUN_NAME_VARIABLE, RunPlan, check_checkpoint_model, claim_run_folders, plan_run
from amal_lightning.slurm import CheckpointAndRequeue, in_slurm_job, slurm_job_id, submit

# Lightning redraws its bar after every batch by default, which costs more than a training step
# of the MNIST models on a CPU (docs/PERFORMANCE.md). Every 50 batches is still several times a second.
PROGRESS_BAR_REFRESH_RATE = 50


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
        """Parses, then resolves the run folder and the checkpoint (``last``, ``best``) to a file.

        This has to happen here, not in ``before_instantiate_classes``: right after parsing,
        LightningCLI reads the hyperparameters of the ``ckpt_path`` file, which must by then be
        the real file that ``last`` or ``best`` names.
        """
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        self.run_plan: RunPlan = plan_run(
            subcommand,
            config.get("config"),
            config.get("experiment"),
            config.checkpoint_dir,
            config.get("ckpt_path"),
            slurm_job_id() if in_slurm_job() else None,
            os.environ,
        )
        model = config.get("model")
        if self.run_plan.hyperparameters and model is not None and model.get("class_path"):
            check_checkpoint_model(self.run_plan.ckpt_path, self.run_plan.hyperparameters, model.class_path)
        if subcommand is not None:
            trainer = config.trainer
            self.run_plan = claim_run_folders(
                self.run_plan,
                checkpoints=subcommand == "fit" and trainer.get("enable_checkpointing") is not False,
                logs=trainer.get("logger") in (None, True),
            )
        if "ckpt_path" in config:
            config.ckpt_path = None if self.run_plan.ckpt_path is None else str(self.run_plan.ckpt_path)
        os.environ[RUN_NAME_VARIABLE] = self.run_plan.name  # inherited by the processes of a multi-device run

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        subcommand = self.config_init.get("subcommand")
        trainer_config = (self.config_init[subcommand] if subcommand else self.config_init).get("trainer") or {}
        plan = self.run_plan
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = BufferedTensorBoardLogger(str(LOG_DIR), name=plan.experiment, version=plan.name)
        if trainer_config.get("default_root_dir") is None:
            # where the checkpoint taken on SLURM's signal is written
            kwargs["default_root_dir"] = str(plan.checkpoint_dir)
        wants_bar = trainer_config.get("enable_progress_bar") is not False
        # `--trainer.enable_progress_bar false` also turns off a bar that the config chose
        callbacks = [
            callback
            for callback in trainer_config.get("callbacks") or []
            if wants_bar or not isinstance(callback, ProgressBar)
        ]
        if wants_bar and not any(isinstance(callback, ProgressBar) for callback in callbacks):
            callbacks.append(TQDMProgressBar(refresh_rate=PROGRESS_BAR_REFRESH_RATE))
        if subcommand == "predict":
            check_can_predict(self.model, self.datamodule)  # one line now, not Lightning's traceback later
            callbacks.append(PredictionWriter(PREDICTION_DIR / plan.experiment / plan.name))
            if trainer_config.get("devices") == "auto":
                kwargs["devices"] = 1  # one process writes the one file (all GPUs would each predict it all)
        # Added for every subcommand (they only save while fitting), so that a checkpoint's callback
        # states find the same callbacks when it is loaded by `amal test`.
        if trainer_config.get("enable_checkpointing", True) is not False:
            callbacks += [LastCheckpoint(plan.checkpoint_dir), BestCheckpoint(plan.checkpoint_dir)]
        callbacks.append(DivergenceGuard(plan.checkpoint_dir))
        plugins = trainer_config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):
            plugins.append(AtomicCheckpointIO())
        if in_slurm_job() and not any(isinstance(plugin, ClusterEnvironment) for plugin in plugins):
            # Lightning's own handler checkpoints wherever in a step the signal lands; ours waits
            # for the end of the batch so the requeued job continues exactly.
            plugins.append(SLURMEnvironment(auto_requeue=False))
            callbacks.append(CheckpointAndRequeue())
        kwargs["plugins"] = plugins
        kwargs["callbacks"] = callbacks
        trainer = super().instantiate_trainer(**kwargs)
        if subcommand == "predict":
            check_one_process(trainer)  # before any other process is started
        return trainer


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
    fetch = getattr(datamodule, "fetch", None)  # a datamodule with files to download has it
    if fetch is not None:
        fetch()  # never falls back to a bundled sample: the compute nodes need the real data
    else:
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
        sys.exit(DIVERGED_EXIT_STATUS if isinstance(error, DivergedError) else 1)


if __name__ == "__main__":
    main()
