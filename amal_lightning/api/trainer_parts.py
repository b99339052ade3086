"""What amal adds to the Trainer of every run: its loggers, callbacks and plugins.

- the TensorBoard logger in the run's folder, always (``--trainer.logger false`` turns logging off),
  beside any logger the user adds (``--trainer.logger+=CSVLogger``), whose ``save_dir`` amal fills
  with a folder of the run's own (:func:`with_logger_folders`); a fit resumed in its own run
  purges from its event files the points logged after the checkpoint it resumes from;
- the run's checkpoints, divergence guard, summary, Ctrl+C handling and progress bar;
- for ``predict``, the writer of the predictions; inside a SLURM job, the requeue on SIGUSR1;
- checkpoints written atomically, and a profiler that costs nothing.
"""

import importlib
import inspect
import os
from collections.abc import Sequence
from typing import Any, Optional

import lightning as L
from lightning.pytorch.callbacks import ModelSummary, ProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.plugins.environments import ClusterEnvironment, SLURMEnvironment

from amal_lightning.api.added_loggers import own_folder_names
from amal_lightning.api.loggers import BufferedTensorBoardLogger, SilentProfiler, wait_to_name_after_earlier_event_files
from amal_lightning.callbacks.checkpoints import BestCheckpoint, LastCheckpoint, with_atomic_checkpoints
from amal_lightning.callbacks.divergence import DivergenceGuard
from amal_lightning.callbacks.interrupt import StopOnInterrupt
from amal_lightning.callbacks.predictions import PREDICTION_DIR, PredictionWriter, check_can_predict
from amal_lightning.callbacks.progress import ParameterCount, RunProgressBar
from amal_lightning.callbacks.references import ReferenceValues
from amal_lightning.callbacks.requeue import CheckpointAndRequeue
from amal_lightning.callbacks.step_timer import TrainStepTimer
from amal_lightning.callbacks.summary import FitSummary
from amal_lightning.cluster.jobs import in_slurm_job
from amal_lightning.runs.folders import LOG_DIR, RunPlan

LOGGER_OPTION = "--trainer.logger"
# Stands for the run's folder in a logger's `save_dir` until the run's name is known.
RUN_FOLDER = "{amal run folder}"
LOGGER_FOLDER = f"{LOGGER_OPTION}.save_dir={RUN_FOLDER}"  # the option amal adds for an added logger


def logger_class(name: str) -> Optional[type]:
    """The logger class a command line names (``CSVLogger`` or its full path), or None if it is not one."""
    module, _, short = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module or "lightning.pytorch.loggers"), short, None)
    except ImportError:
        return None
    return found if isinstance(found, type) and issubclass(found, Logger) else None


def with_logger_folders(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--trainer.logger.save_dir`` given to each added logger that takes one and was not given one.

    A CSV, MLflow or W&B logger then writes under the run's folder (:func:`fill_logger_folders`)
    instead of requiring a folder on the command line, or writing into the current one.
    """
    words, result, index = list(argv), [], 0
    while index < len(words):
        word = words[index]
        name, equals, value = word.partition("=")
        is_logger = name in (LOGGER_OPTION, f"{LOGGER_OPTION}+")
        taken = words[index : index + 2] if is_logger and not equals else [word]  # `--trainer.logger CSVLogger`
        result += taken
        index += len(taken)
        if not is_logger or len(taken) < (1 if equals else 2):
            continue
        cls = logger_class(value if equals else taken[1])
        its_options = []
        for later in words[index:]:
            if later.partition("=")[0] in (LOGGER_OPTION, f"{LOGGER_OPTION}+"):
                break  # the next logger's
            its_options.append(later)
        given = any(option.startswith(f"{LOGGER_OPTION}.save_dir") for option in its_options)
        if cls is not None and "save_dir" in inspect.signature(cls).parameters and not given:
            result.append(f"{LOGGER_FOLDER}/{cls.__name__.lower().removesuffix('logger')}")
    return result


def fill_logger_folders(loggers: Any, plan: RunPlan) -> None:
    """Puts the run's log folder in place of :data:`RUN_FOLDER` in the configured loggers' ``save_dir``."""
    for logger in loggers if isinstance(loggers, list) else [loggers]:
        init_args = getattr(logger, "init_args", None)
        save_dir = getattr(init_args, "save_dir", None) if init_args is not None else None
        if isinstance(save_dir, str) and save_dir.startswith(RUN_FOLDER):
            init_args.save_dir = str(plan.log_dir) + save_dir[len(RUN_FOLDER) :]
            own_folder_names(str(logger.class_path), init_args, plan.experiment, plan.name, plan.resumed_step)
            if str(getattr(logger, "class_path", "")).endswith("MLFlowLogger"):
                # MLflow 3.17 and later refuse their local file store unless asked: it is the one chosen here
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def loggers(subcommand: Optional[str], chosen: Any, plan: RunPlan) -> Any:
    """The run's TensorBoard logger and the loggers the user added (``False``: no logger at all)."""
    if chosen is False:
        return False
    added = [logger for logger in (chosen if isinstance(chosen, list) else [chosen]) if isinstance(logger, Logger)]
    # A fit resumed in its own run drops the points its event files hold after the checkpoint (TensorBoard
    # and its reader purge them at the marker this writes): they belong to an abandoned history.
    purge = {} if plan.resumed_step is None else {"purge_step": plan.resumed_step}
    if purge:
        wait_to_name_after_earlier_event_files(plan.log_dir)
    tensorboard = BufferedTensorBoardLogger(
        str(LOG_DIR), plan.experiment, plan.name, keep_open=subcommand == "fit", **purge
    )  # kept open for the test after the fit, which writes to the same event file
    return [tensorboard, *(logger for logger in added if not isinstance(logger, TensorBoardLogger))]


def callbacks(
    subcommand: Optional[str],
    trainer_config: Any,
    plan: RunPlan,
    model: Optional[L.LightningModule],
    datamodule: Optional[L.LightningDataModule],
    divergence: dict[str, Any],
) -> list:
    """The configured callbacks and amal's own; ``divergence`` holds the guard's ``factor`` and ``threshold``."""
    wants_bar = trainer_config.get("enable_progress_bar") is not False
    # `--trainer.enable_progress_bar false` also turns off a bar that the config chose
    chosen = [
        callback
        for callback in trainer_config.get("callbacks") or []
        if wants_bar or not isinstance(callback, ProgressBar)
    ]
    if wants_bar and not any(isinstance(callback, ProgressBar) for callback in chosen):
        chosen.append(RunProgressBar())
    if subcommand == "predict":
        check_can_predict(model, datamodule)  # one line now, not Lightning's traceback later
        chosen.append(PredictionWriter(PREDICTION_DIR / plan.experiment / plan.name))
    chosen.insert(0, TrainStepTimer())  # first, so the others' batch-end hooks are not counted; times fits only
    # Added for every subcommand (they only save while fitting), so that a checkpoint's callback
    # states find the same callbacks when it is loaded by `amal test`. The best first: at an epoch's
    # end, last.ckpt then holds the best's state of that epoch, with best.ckpt written before it.
    if trainer_config.get("enable_checkpointing", True) is not False:
        chosen += [BestCheckpoint(plan.checkpoint_dir), LastCheckpoint(plan.checkpoint_dir)]
    chosen += [
        DivergenceGuard(plan.checkpoint_dir, **divergence),
        FitSummary(plan.checkpoint_dir if subcommand == "fit" else None),
        StopOnInterrupt(),
        ReferenceValues(skip=plan.resumed_step is not None),  # fits only; a resumed run has them already
    ]
    return chosen


def trainer_arguments(
    subcommand: Optional[str],
    trainer_config: Any,
    plan: RunPlan,
    model: Optional[L.LightningModule],
    datamodule: Optional[L.LightningDataModule],
    divergence: dict[str, Any],
) -> dict[str, Any]:
    """The Trainer's arguments that amal sets (those the config leaves to it)."""
    arguments: dict[str, Any] = {
        "logger": loggers(subcommand, trainer_config.get("logger"), plan),
        "callbacks": callbacks(subcommand, trainer_config, plan, model, datamodule, divergence),
    }
    if trainer_config.get("default_root_dir") is None:
        arguments["default_root_dir"] = str(plan.checkpoint_dir)  # where SLURM's signal checkpoint goes
    if trainer_config.get("enable_model_summary") is None and not any(
        isinstance(callback, ModelSummary) for callback in arguments["callbacks"]
    ):  # one line of the model's size, not Lightning's table of its layers (`--trainer.enable_model_summary true`)
        arguments["enable_model_summary"] = False
        arguments["callbacks"].append(ParameterCount())
    if trainer_config.get("profiler") is None:  # Lightning's default, without its cost per hook call
        arguments["profiler"] = SilentProfiler()
    if subcommand == "predict" and trainer_config.get("devices") == "auto":
        arguments["devices"] = 1  # one process writes the one file (all GPUs would each predict it all)
    plugins = with_atomic_checkpoints(trainer_config.get("plugins"))
    if in_slurm_job() and not any(isinstance(plugin, ClusterEnvironment) for plugin in plugins):
        # Lightning's own handler checkpoints wherever in a step the signal lands; ours waits
        # for the end of the batch so the requeued job continues exactly.
        plugins.append(SLURMEnvironment(auto_requeue=False))
        arguments["callbacks"].append(CheckpointAndRequeue())
    arguments["plugins"] = plugins
    return arguments
