"""The loggers a user adds beside TensorBoard (``--trainer.logger+=CSVLogger``, MLflow, W&B): TensorBoard's points.

Each receives what TensorBoard receives, under the same names: the epoch curves and the reference values
(Lightning, and the reference callback, hand them to every logger), the test of the best checkpoint after a
fit as ``best/test/*`` (:func:`tested_after_fit`), and the run's final metrics as ``hp/*`` with its
hyperparameters (:func:`close_with_results`). Its files sit in a folder of the run's own
(``logs/<experiment>/version_N/csv/metrics.csv``), without Lightning's ``lightning_logs/version_0`` inside it
(:func:`own_folder_names`).
"""

import contextlib
import functools
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch.loggers import Logger

from amal_lightning.api.loggers import BufferedTensorBoardLogger, named_after_fit
from amal_lightning.errors import first_line

LIGHTNING_FOLDER_NAME = "lightning_logs"  # the default ``name`` of a logger that nests ``name/version_N``


@contextlib.contextmanager
def tested_after_fit(trainer: Any) -> Iterator[None]:
    """While the best checkpoint is tested after a fit, every logger names its ``test/*`` points ``best/test/*``,
    not as one more point of the per-epoch ``test/*`` curves: its ``log_metrics`` renames them first (a method
    of the instance over its class's, removed afterwards), so that the Trainer keeps the very same loggers."""
    renamed = []
    try:
        for logger in trainer.loggers:
            logger.log_metrics = functools.partial(log_as_best, logger.log_metrics)
            renamed.append(logger)
        yield
    finally:
        for logger in renamed:
            del logger.log_metrics


def log_as_best(log_metrics: Callable[..., None], metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
    """``log_metrics`` of ``metrics`` with each ``test/*`` name under ``best/``."""
    log_metrics(named_after_fit(metrics), step)


def close_with_results(loggers: Sequence[Logger], hyperparameters: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Every logger gets the run's hyperparameters and its final metrics as ``hp/<name>`` at step 0, as
    TensorBoard's HParams tab shows them (:meth:`BufferedTensorBoardLogger.close_with_results`), then closes."""
    shown = {name: value for name, value in hyperparameters.items() if not name.startswith("_")}
    for logger in loggers:
        if isinstance(logger, BufferedTensorBoardLogger):
            logger.close_with_results(hyperparameters, metrics)
            continue
        logger.log_hyperparams(shown)
        if metrics:
            logger.log_metrics({f"hp/{name}": value for name, value in metrics.items()}, step=0)
        logger.save()
        logger.finalize("success")


def own_folder_names(class_path: str, init_args: Any, experiment: str, run: str, resumed_step: Optional[int]) -> None:
    """Names an added logger's files after the run, in ``init_args``, where they were left at Lightning's defaults.

    A logger that nests ``name/version_N`` in its ``save_dir`` (CSV) writes in that folder itself (the run
    already has its version); a fit resumed in its own run writes beside, in ``resumed_from_step_N``, instead
    of replacing the earlier ``metrics.csv``. MLflow and W&B name their experiment (project) and run as amal does.
    """
    module, _, name = class_path.rpartition(".")
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters

    def left_default(key: str) -> bool:
        return key in parameters and getattr(init_args, key, None) == parameters[key].default

    if left_default("name") and parameters["name"].default == LIGHTNING_FOLDER_NAME and left_default("version"):
        init_args.name = ""
        folder = Path(init_args.save_dir)
        resumed = resumed_step is not None and folder.is_dir() and any(folder.iterdir())
        init_args.version = f"resumed_from_step_{resumed_step}" if resumed else ""
    if left_default("experiment_name") and parameters["experiment_name"].default == LIGHTNING_FOLDER_NAME:
        init_args.experiment_name = experiment  # MLflow
        if left_default("run_name"):
            init_args.run_name = run
    if left_default("project") and parameters["project"].default is None and left_default("name"):
        init_args.project, init_args.name = experiment, run  # W&B (its own default project: lightning_logs)


def unbuildable_logger(chosen: Any) -> Optional[str]:
    """Why the first of the configured loggers (``--trainer.logger``'s class paths and arguments) that its class
    refuses to build cannot be built, in one line naming it; None if each builds.

    Asked only once jsonargparse has failed to build them, whose message nests the class's own inside a
    traceback of the union types it tried: building each again here finds which, and its own words.
    """
    for logger in chosen if isinstance(chosen, list) else [chosen]:
        class_path, init_args = getattr(logger, "class_path", None), getattr(logger, "init_args", None)
        if not isinstance(class_path, str):
            continue
        module, _, name = class_path.rpartition(".")
        arguments = init_args.as_dict() if hasattr(init_args, "as_dict") else dict(init_args or {})
        try:
            getattr(importlib.import_module(module), name)(**arguments)
        except Exception as error:  # noqa: BLE001 - whatever the class raises is its reason
            return f"--trainer.logger {name}: cannot be built: {first_line(error)}"
    return None
