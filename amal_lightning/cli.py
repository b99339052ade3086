"""The ``amal`` command: LightningCLI with the project's run folders, checks and one-line errors.

Where a run's files go, and which checkpoint ``--ckpt_path last|best`` picks, is decided in
:mod:`amal_lightning.runs`; this module asks it and hands the answer to the Trainer. Besides
``fit``, ``validate``, ``test`` and ``predict``: ``amal submit`` (SLURM, :mod:`amal_lightning.slurm`)
and ``amal prepare-data`` (downloads what a config needs, for offline compute nodes).
"""

import os
import sys
from typing import Any, Optional

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.plugins.environments import ClusterEnvironment, SLURMEnvironment

from amal_lightning.checkpoint_checks import check_checkpoint_model, check_checkpoint_weights
from amal_lightning.checkpoints import BestCheckpoint, LastCheckpoint, with_atomic_checkpoints
from amal_lightning.console import AmalArgumentParser, FitSummary, quiet_lightning
from amal_lightning.data.readiness import fetch_for_offline_use, has_test_data
from amal_lightning.divergence import DivergenceGuard
from amal_lightning.errors import UsageError, first_line, user_error
from amal_lightning.loggers import BufferedTensorBoardLogger, SilentProfiler
from amal_lightning.predictions import PREDICTION_DIR, PredictionWriter, check_can_predict, check_one_process
from amal_lightning.progress import RunProgressBar
from amal_lightning.runs import LOG_DIR, RUN_NAME_VARIABLE, RunPlan, claim_run_folders, plan_run, release_run_folders
from amal_lightning.slurm import CheckpointAndRequeue, in_slurm_job, slurm_job_id, submit
from amal_lightning.validation import check_config_files, check_no_special_files, check_run_options


class AmalCLI(LightningCLI):
    """LightningCLI that names runs after their config and keeps their checkpoints apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            if hasattr(self, "run_plan"):
                release_run_folders(self.run_plan)  # a run that failed before writing anything leaves no trace
            raise

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        experiment_help = "Name of the run folders in logs/ and checkpoints/ (default: the config file's name)."
        parser.add_argument("--experiment", type=Optional[str], default=None, help=experiment_help)
        parser.add_argument("--checkpoint_dir", default="checkpoints", help="Folder of one folder per experiment.")
        test_help = "fit only: test the best checkpoint (the last without validation) in the same run afterwards."
        parser.add_argument("--test", type=bool, default=True, help=test_help)

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parses, then resolves the run folder and ``--ckpt_path last|best`` to a file: here, because
        right after parsing LightningCLI reads the hyperparameters of that file."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        check_run_options(config)
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
        if self.run_plan.hyperparameters and isinstance(parser, AmalArgumentParser):
            parser.reading_checkpoint = self.run_plan.ckpt_path  # LightningCLI parses them next

    def before_instantiate_classes(self) -> None:
        """The checkpoint's hyperparameters are parsed by now: later parser errors are the options' again."""
        if isinstance(self.parser, AmalArgumentParser):
            self.parser.reading_checkpoint = None

    def after_instantiate_classes(self) -> None:
        if self.run_plan.weight_shapes is not None and self.model is not None:
            check_checkpoint_weights(self.run_plan.ckpt_path, self.run_plan.weight_shapes, self.model)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        subcommand = self.config_init.get("subcommand")
        trainer_config = (self.config_init[subcommand] if subcommand else self.config_init).get("trainer") or {}
        plan = self.run_plan
        if trainer_config.get("logger") in (None, True):
            keep_open = subcommand == "fit"  # the fit's test writes to the same event file
            kwargs["logger"] = BufferedTensorBoardLogger(str(LOG_DIR), plan.experiment, plan.name, keep_open=keep_open)
        if trainer_config.get("default_root_dir") is None:
            kwargs["default_root_dir"] = str(plan.checkpoint_dir)  # where SLURM's signal checkpoint goes
        if trainer_config.get("profiler") is None:  # Lightning's default, without its cost per hook call
            kwargs["profiler"] = SilentProfiler()
        wants_bar = trainer_config.get("enable_progress_bar") is not False
        # `--trainer.enable_progress_bar false` also turns off a bar that the config chose
        callbacks = [
            callback
            for callback in trainer_config.get("callbacks") or []
            if wants_bar or not isinstance(callback, ProgressBar)
        ]
        if wants_bar and not any(isinstance(callback, ProgressBar) for callback in callbacks):
            callbacks.append(RunProgressBar())
        if subcommand == "predict":
            check_can_predict(self.model, self.datamodule)  # one line now, not Lightning's traceback later
            callbacks.append(PredictionWriter(PREDICTION_DIR / plan.experiment / plan.name))
            if trainer_config.get("devices") == "auto":
                kwargs["devices"] = 1  # one process writes the one file (all GPUs would each predict it all)
        # Added for every subcommand (they only save while fitting), so that a checkpoint's callback
        # states find the same callbacks when it is loaded by `amal test`.
        if trainer_config.get("enable_checkpointing", True) is not False:
            callbacks += [LastCheckpoint(plan.checkpoint_dir), BestCheckpoint(plan.checkpoint_dir)]
        callbacks += [DivergenceGuard(plan.checkpoint_dir), FitSummary()]
        plugins = with_atomic_checkpoints(trainer_config.get("plugins"))
        if in_slurm_job() and not any(isinstance(plugin, ClusterEnvironment) for plugin in plugins):
            # Lightning's own handler checkpoints wherever in a step the signal lands; ours waits
            # for the end of the batch so the requeued job continues exactly.
            plugins.append(SLURMEnvironment(auto_requeue=False))
            callbacks.append(CheckpointAndRequeue())
        kwargs["plugins"] = plugins
        kwargs["callbacks"] = callbacks
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except ValueError as error:  # the Trainer checks its own options: `--trainer.accelerator foo`
            raise UsageError(f"--trainer: {first_line(error)}") from None
        if subcommand == "predict":
            check_one_process(trainer)  # before any other process is started
        return trainer

    def after_fit(self) -> None:
        """Tests the best checkpoint in the same run (unless ``--test false``), then says what the fit did."""
        trainer, plan = self.trainer, self.run_plan
        tested, test_metrics = None, {}
        if self.config.fit.test and has_test_data(self.datamodule):
            saved = [plan.checkpoint_dir / name for name in ("best.ckpt", "last.ckpt")]
            tested = next((path for path in saved if path.is_file()), None)
            results = trainer.test(self.model, datamodule=self.datamodule, ckpt_path=tested, verbose=False)
            test_metrics = results[0] if results else {}
        summary = next(callback for callback in trainer.callbacks if isinstance(callback, FitSummary))
        if isinstance(trainer.logger, BufferedTensorBoardLogger):
            hyperparameters = {**self.model.hparams_initial, **getattr(self.datamodule, "hparams_initial", {})}
            trainer.logger.close_with_results(hyperparameters, {**summary.best_metrics, **test_metrics})
        if trainer.is_global_zero:
            print("\n".join(summary.lines(trainer, plan, tested, test_metrics)))


def prepare_data(argv: list[str]) -> None:
    """``amal prepare-data --config X``: download what the config's data needs, then check it reads."""
    cli = AmalCLI(
        model_class=None,
        datamodule_class=None,
        parser_class=AmalArgumentParser,  # usage errors in one line, as for the other subcommands
        run=False,
        args=argv,
        save_config_callback=None,
        trainer_defaults={"logger": False},
    )
    fetch_for_offline_use(cli.datamodule)
    print(f"{type(cli.datamodule).__name__}: data ready")


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of the ``amal`` console script."""
    # LightningCLI still calls jsonargparse functions deprecated in 4.49: a matter for Lightning, not for users.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    quiet_lightning()
    argv = sys.argv[1:] if args is None else args
    try:
        check_no_special_files(argv)  # jsonargparse would open a FIFO given as --config, and wait forever
        check_config_files(argv)
        if argv[:1] == ["submit"]:
            submit(argv[1:])
        elif argv[:1] == ["prepare-data"]:
            prepare_data(argv[1:])
        elif argv[:1] in (["study"], ["plot"]):
            from amal_lightning.studies.command import COMMANDS  # imports this module: not at the top

            COMMANDS[argv[0]](argv[1:])
        else:
            AmalCLI(
                model_class=None,
                datamodule_class=None,
                parser_class=AmalArgumentParser,
                seed_everything_default=0,
                save_config_kwargs={"overwrite": True},
                # The datamodules give each process its share of the batches themselves.
                trainer_defaults={"use_distributed_sampler": False},
                parser_kwargs={"epilog": "Also: amal submit, amal prepare-data, amal study, amal plot (see --help)."},
                args=args,
            )
    except Exception as error:
        reported = user_error(error)
        if reported is None:
            raise
        print(f"amal: error: {reported}", file=sys.stderr)
        sys.exit(reported.exit_status)


if __name__ == "__main__":
    main()
