"""LightningCLI with the project's run folders, checks, callbacks and outcome.

Where a run's files go, and which checkpoint ``--ckpt_path last|best`` picks, is decided in
:mod:`amal_lightning.runs.folders`; this class asks it and hands the answer to the Trainer, adds
amal's callbacks (checkpoints, divergence guard, Ctrl+C, progress, SLURM requeue), tests the best
checkpoint after a fit, and records what the command did as an
:class:`~amal_lightning.runs.outcome.Outcome` (``self.outcome``). It prints nothing of its own:
:mod:`amal_lightning.api` runs it, the command line says what happened.
"""

import os
import sys
import time
from typing import Any, Optional

from jsonargparse.typing import PositiveFloat
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info

from amal_lightning.api.added_loggers import close_with_results, tested_after_fit
from amal_lightning.api.arguments import check_run_options
from amal_lightning.api.loggers import BufferedTensorBoardLogger
from amal_lightning.api.parser import AmalArgumentParser
from amal_lightning.api.quiet import TEST_AFTER_FIT_LINES, without_lines
from amal_lightning.api.resume_options import given_model_options, overridden_lines
from amal_lightning.api.trainer_parts import fill_logger_folders, trainer_arguments
from amal_lightning.callbacks.divergence import DivergenceGuard
from amal_lightning.callbacks.interrupt import StopOnInterrupt
from amal_lightning.callbacks.predictions import (
    CSV_NAME,
    PredictionWriter,
    check_one_process,
)
from amal_lightning.callbacks.summary import FitSummary, metrics_of
from amal_lightning.cluster.jobs import in_slurm_job, slurm_job_id
from amal_lightning.data.readiness import has_test_data
from amal_lightning.errors import AmalError, DivergedError, UsageError, first_line
from amal_lightning.runs.checkpoint_files import check_checkpoint_model, check_checkpoint_weights
from amal_lightning.runs.folders import (
    RUN_NAME_VARIABLE,
    RunPlan,
    claim_run_folders,
    plan_run,
    release_run_folders,
)
from amal_lightning.runs.outcome import DIVERGED, FAILED, FINISHED, INTERRUPTED, Outcome


class AmalOptions(LightningCLI):
    """LightningCLI with amal's own options (``--experiment``, ``--test``, ...): the parser of every amal run,
    and of :func:`amal_lightning.api.check_command_line`, which parses and stops.

    Given the ``subcommand`` it runs, it builds that subcommand's parser alone: LightningCLI builds one
    for each of fit, validate, test and predict, about 0.03 s of CPU each, most of a small fit's start-up.
    """

    def __init__(self, *args: Any, subcommand: Optional[str] = None, **kwargs: Any) -> None:
        self.only_subcommand = subcommand
        super().__init__(*args, **kwargs)

    def subcommands(self) -> dict[str, set[str]]:  # type: ignore[override]  # a staticmethod in LightningCLI
        every = LightningCLI.subcommands()
        return {self.only_subcommand: every[self.only_subcommand]} if self.only_subcommand in every else every

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        experiment_help = (
            "Name of the run folders in logs/ and checkpoints/ (default: the config file's name; "
            "for a config given as a mapping from Python, the model's class name in snake case)."
        )
        parser.add_argument("--experiment", type=Optional[str], default=None, help=experiment_help)
        parser.add_argument("--checkpoint_dir", default="checkpoints", help="Folder of one folder per experiment.")
        test_help = "fit only: test the best checkpoint (the last without validation) in the same run afterwards."
        parser.add_argument("--test", type=bool, default=True, help=test_help)
        factor_help = "fit: a training loss this many times the first 10 steps' mean is divergence (exit 3)."
        parser.add_argument("--divergence_factor", type=PositiveFloat, default=1e4, help=factor_help)
        threshold_help = "fit: a training loss above this is divergence too (default: only the factor)."
        parser.add_argument("--divergence_threshold", type=Optional[PositiveFloat], default=None, help=threshold_help)


class AmalCLI(AmalOptions):
    """LightningCLI that names runs after their config, keeps their checkpoints apart and records an outcome."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.started_at = time.monotonic()
        self.outcome: Optional[Outcome] = None
        try:
            super().__init__(*args, **kwargs)
        except BaseException as error:
            if hasattr(self, "run_plan"):
                release_run_folders(self.run_plan)  # a run that failed before writing anything leaves no trace
                if isinstance(error, AmalError) and error.outcome is None:  # what the run had done, for the caller
                    status = DIVERGED if isinstance(error, DivergedError) else FAILED
                    error.outcome = self.record_outcome(self.config.get("subcommand") or "", status, str(error))
            raise

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parses, then resolves the run folder and ``--ckpt_path last|best`` to a file: here, because
        right after parsing LightningCLI reads the hyperparameters of that file."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        check_run_options(config)
        words = sys.argv[1:] if args is None else args if isinstance(args, (list, tuple)) else []
        self.model_options_given = given_model_options(words, config)  # before a checkpoint's replace them
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
                logs=trainer.get("logger") is not False,  # TensorBoard is kept beside any logger added
            )
        if "ckpt_path" in config:
            config.ckpt_path = None if self.run_plan.ckpt_path is None else str(self.run_plan.ckpt_path)
        os.environ[RUN_NAME_VARIABLE] = self.run_plan.name  # inherited by the processes of a multi-device run
        if self.run_plan.hyperparameters and isinstance(parser, AmalArgumentParser):
            parser.reading_checkpoint = self.run_plan.ckpt_path  # LightningCLI parses them next

    def before_instantiate_classes(self) -> None:
        """The checkpoint's hyperparameters are parsed by now: later parser errors are the options' again.
        The loggers the user added get their folder in the run's."""
        if isinstance(self.parser, AmalArgumentParser):
            self.parser.reading_checkpoint = None
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        if self.run_plan.hyperparameters:  # the options the checkpoint's model replaced, one line each
            for line in overridden_lines(self.model_options_given, config, self.run_plan.ckpt_path):
                rank_zero_info(line)
        if config.get("trainer") is not None and config.trainer.get("logger") not in (None, True, False):
            fill_logger_folders(config.trainer.logger, self.run_plan)

    def after_instantiate_classes(self) -> None:
        if self.run_plan.weight_shapes is not None and self.model is not None:
            check_checkpoint_weights(self.run_plan.ckpt_path, self.run_plan.weight_shapes, self.model)

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        subcommand = self.config_init.get("subcommand")
        config = self.config_init[subcommand] if subcommand else self.config_init
        trainer_config = config.get("trainer") or {}
        bound = {"factor": config.get("divergence_factor", 1e4), "threshold": config.get("divergence_threshold")}
        arguments = trainer_arguments(subcommand, trainer_config, self.run_plan, self.model, self.datamodule, bound)
        kwargs.update(arguments)
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except ValueError as error:  # the Trainer checks its own options: `--trainer.accelerator foo`
            raise UsageError(f"--trainer: {first_line(error)}") from None
        if subcommand == "predict":
            check_one_process(trainer)  # before any other process is started
        return trainer

    def _callback(self, kind: type) -> Any:
        return next((callback for callback in self.trainer.callbacks if isinstance(callback, kind)), None)

    def record_outcome(self, command: str, status: str, reason: str, **results: Any) -> Outcome:
        """Sets and returns ``self.outcome``: what ``command`` did so far (also for an error that stopped it)."""
        plan, trainer = self.run_plan, getattr(self, "trainer", None)
        logged = isinstance(getattr(trainer, "logger", None), BufferedTensorBoardLogger)
        fields: dict[str, Any] = dict(
            command=command,
            experiment=plan.experiment,
            run=plan.name,
            checkpoint_dir=plan.checkpoint_dir,
            log_dir=plan.log_dir if logged else None,
            seconds=time.monotonic() - self.started_at,
            **results,
        )
        if trainer is None:  # nothing trained: the outcome's defaults (no epochs, no metrics)
            self.outcome = Outcome(status=status, reason=reason, **fields)
        else:  # its epochs, steps, metrics and best validation, as FitSummary counts them for run.json
            fields["global_zero"] = trainer.is_global_zero
            self.outcome = self._callback(FitSummary).progress(trainer, status, reason, **fields)
        return self.outcome

    def after_fit(self) -> None:
        """Tests the best checkpoint in the same run (unless ``--test false`` or interrupted); records the outcome."""
        trainer, plan = self.trainer, self.run_plan
        summary = self._callback(FitSummary)
        reason = summary.stop_reason(trainer)
        interrupted = self._callback(StopOnInterrupt).interrupted
        final_metrics = metrics_of(trainer, "train/", "val/")
        tested, test_metrics = None, {}
        if self.config.fit.test and not interrupted and has_test_data(self.datamodule):
            saved = [plan.checkpoint_dir / name for name in ("best.ckpt", "last.ckpt")]
            tested = next((path for path in saved if path.is_file()), None)
            # best/test/*, not points of the per-epoch test/* curves (--data.test_each_epoch), in every logger
            with tested_after_fit(trainer), without_lines(TEST_AFTER_FIT_LINES):  # the summary names the checkpoint
                results = trainer.test(self.model, datamodule=self.datamodule, ckpt_path=tested, verbose=False)
            test_metrics = {name: float(value) for name, value in (results[0] if results else {}).items()}
        if trainer.loggers:
            hyperparameters = {**self.model.hparams_initial, **getattr(self.datamodule, "hparams_initial", {})}
            guard = self._callback(DivergenceGuard)  # its bound is part of how the run was made
            hyperparameters.update(divergence_factor=guard.factor, divergence_threshold=guard.threshold)
            close_with_results(trainer.loggers, hyperparameters, {**summary.best_metrics, **test_metrics})
        status = INTERRUPTED if interrupted else FINISHED
        outcome = self.record_outcome(
            "fit", status, reason, final_metrics=final_metrics, tested_checkpoint=tested, test_metrics=test_metrics
        )
        if trainer.is_global_zero:
            summary.save(outcome)  # run.json: the outcome the fit returns

    def after_validate(self) -> None:
        metrics = metrics_of(self.trainer, "val/")
        self.record_outcome(
            "validate", FINISHED, "validated", tested_checkpoint=self.run_plan.ckpt_path, test_metrics=metrics
        )

    def after_test(self) -> None:
        metrics = metrics_of(self.trainer, "test/")
        self.record_outcome("test", FINISHED, "tested", tested_checkpoint=self.run_plan.ckpt_path, test_metrics=metrics)

    def after_predict(self) -> None:
        writer = self._callback(PredictionWriter)
        written = writer is not None and writer.summary is not None
        self.record_outcome(
            "predict",
            FINISHED,
            writer.summary if written else "nothing to predict",
            predictions=writer.folder / CSV_NAME if written else None,
        )
