"""What ``amal`` prints: Lightning's boilerplate left out, and a summary of each fit.

Every run used to print what hardware is (not) available, a tip to install another package,
and warnings that are expected here (a test of a checkpoint from another run folder, a resumed
run going on in its non-empty folder): they read like errors and hid what mattered. A fit now
ends with what it did: why it stopped, its best validation metrics, its test metrics, where
its files are and how to look at its curves.
"""

import difflib
import importlib
import inspect
import logging
import math
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, NoReturn, Optional

import lightning as L
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer
from lightning.pytorch.cli import LightningArgumentParser
from lightning.pytorch.loggers import TensorBoardLogger

from amal_lightning.errors import UsageError
from amal_lightning.runs import RunPlan

# Lines of Lightning's own logging that say nothing about this run.
BOILERPLATE = (
    "GPU available",
    "TPU available",
    "HPU available",
    "💡 Tip",
    "You are using a CUDA device",
    "`Trainer.fit` stopped",  # the fit's summary says why it stopped
)
# Warnings that are expected in amal's run folders, with the reason.
EXPECTED_WARNINGS = (
    r".*The dirpath has changed from.*",  # `amal test` of another run's checkpoint logs to a run of its own
    r".*Checkpoint directory .* exists and is not empty.*",  # a resumed fit goes on in its own folder
    r".*does not have many workers.*",  # in-memory tensors fetched a batch at a time: workers only add copies
    r".*configure_optimizers. returned .None.*",  # the gradient-descent modules update their weights themselves
    r".*smaller than the logging interval.*",  # the modules log epoch means only
    r".*isinstance\(treespec, LeafSpec\).*",  # raised inside Lightning by newer torch releases
)


class _DropBoilerplate(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(BOILERPLATE)


# One instance: a logger adds a filter it already holds only once, so the many fits of one
# `amal study` process do not pile up copies.
_DROP_BOILERPLATE = _DropBoilerplate()


def quiet_lightning() -> None:
    """Leaves Lightning's boilerplate lines and the expected warnings out of ``amal``'s output."""
    for name in ("lightning.pytorch", "lightning.pytorch.utilities.rank_zero", "lightning.fabric"):
        logging.getLogger(name).addFilter(_DROP_BOILERPLATE)
    for pattern in EXPECTED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def _number(value: Any) -> str:
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def format_metrics(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{name} {_number(value)}" for name, value in sorted(metrics.items()))


class FitSummary(Callback):
    """Remembers what a fit did (its best validation epoch, why it stopped), for :meth:`lines`.

    The best epoch is the one with the lowest ``val/loss``, the metric that ``best.ckpt`` keeps.
    """

    def __init__(self, monitor: str = "val/loss") -> None:
        self.monitor = monitor
        self.best_score = math.inf
        self.best_epoch: Optional[int] = None
        self.best_metrics: dict[str, float] = {}
        self.started_at = time.monotonic()
        self.first_epoch = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started_at = time.monotonic()
        self.first_epoch = trainer.current_epoch

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or score is None or not float(score) < self.best_score:
            return
        self.best_score, self.best_epoch = float(score), trainer.current_epoch
        self.best_metrics = {
            name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("val/")
        }

    def stop_reason(self, trainer: L.Trainer) -> str:
        for callback in trainer.callbacks:
            if isinstance(callback, EarlyStopping) and callback.stopped_epoch > 0:
                return f"early stopping on {callback.monitor}"
            if isinstance(callback, Timer) and callback.time_remaining() is not None and callback.time_remaining() <= 0:
                return "time limit reached"
        if trainer.interrupted:
            return "interrupted"
        if trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
            return f"max_steps={trainer.max_steps} reached"
        return f"max_epochs={trainer.max_epochs} reached"

    def lines(self, trainer: L.Trainer, plan: RunPlan, tested: Optional[Path], test_metrics: dict[str, Any]) -> list:
        """The summary printed at the end of ``amal fit``."""
        epochs = trainer.current_epoch - self.first_epoch
        seconds = time.monotonic() - self.started_at
        lines = [f"Fit: {epochs} epochs in {seconds:.0f} s ({self.stop_reason(trainer)}), {trainer.global_step} steps"]
        if self.best_epoch is not None:
            lines.append(f"  best validation (epoch {self.best_epoch}): {format_metrics(self.best_metrics)}")
        if tested is not None:
            lines.append(f"  test of {tested.name}: {format_metrics(test_metrics)}")
        lines.append(f"  checkpoints: {plan.checkpoint_dir}/")
        if isinstance(trainer.logger, TensorBoardLogger):
            lines.append(f"  logs:        {plan.log_dir}/  (curves: tensorboard --logdir {plan.log_dir.parent})")
        elif trainer.log_dir is not None:
            lines.append(f"  logs:        {trainer.log_dir}/")
        return lines


# The lines of a jsonargparse error that say what is wrong, by priority (the others list the types it tried).
REASONS = (
    r"Not of type|does not conform|does not exist|invalid choice",
    r"Expected a (?!<class 'NoneType'>)",
    r"not accessible|Unable|Problem|error",
)


# The names of jsonargparse's simple types, as a user writes their values.
TYPE_WORDS = {
    **{"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string", "dict": "a mapping"},
    **dict.fromkeys(("list", "tuple", "Iterable", "Sequence"), "a list"),
}


class AmalArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, whose errors come first, in one or two lines, with the likely option.

    jsonargparse prints the whole usage (some sixty lines) and then the error, nested in the
    union types it tried: a typo in one option name was hard to find at the bottom.
    """

    # Set while LightningCLI parses the hyperparameters saved in this checkpoint (``--ckpt_path``):
    # an error then is the file's, not the command line's.
    reading_checkpoint: Optional[Path] = None

    def error(self, message: str, ex: Optional[Exception] = None) -> NoReturn:
        if not self.exit_on_error:  # parsing a checkpoint's hyperparameters: the caller handles it
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        if self.reading_checkpoint is not None:
            reason = re.sub(r" \(given \{.*\}\)$", "", short_usage_error(message, parser).removeprefix("--"))
            raise UsageError(f"{self.reading_checkpoint}: a hyperparameter it holds is not accepted: {reason}")
        print(f"amal: error: {short_usage_error(message, parser)}", file=sys.stderr)
        command = " ".join(["amal", *parser.prog.replace(" [options]", "").split()[1:]])
        print(f"  (all options: {command} --help)", file=sys.stderr)
        sys.exit(2)


def short_usage_error(message: str, parser: LightningArgumentParser) -> str:
    """jsonargparse's error message in one line, with the closest option name where one was mistyped."""
    rejected = re.search(r"Problem with given class_path '([\w.]+)':\s*Option '(\w+)' is not accepted", message)
    key = re.search(r'Parser key "([\w.]+)"', message)
    if rejected and key:
        class_path, option = rejected.groups()
        module, _, name = class_path.rpartition(".")
        accepted = list(inspect.signature(getattr(importlib.import_module(module), name)).parameters)
        close = difflib.get_close_matches(option, accepted, n=1)
        hint = f" (did you mean --{key.group(1)}.{close[0]}?)" if close else f" (its options: {', '.join(accepted)})"
        return f"--{key.group(1)}.{option} is not an option of {class_path}{hint}"
    unknown = re.search(r"[Uu]nrecognized arguments: (\S+)", message)
    if unknown:
        option = unknown.group(1).split("=")[0]
        known = [f"--{name}" for name in parser.get_defaults().keys()]
        close = difflib.get_close_matches(option, known, n=1)
        return f"{option} is not an option" + (f" (did you mean {close[0]}?)" if close else "")
    keys = re.findall(r'Parser key "([\w.]+)"', message)
    lines = [re.sub(r'^Parser key "[\w.]+":\s*', "", line.strip(" -")) for line in message.splitlines()]
    lines = [line for line in lines if line]
    if not keys:
        return " ".join(lines[:3])
    reason = next((line for pattern in REASONS for line in lines if re.search(pattern, line)), lines[0])
    given = re.search(r"Given value: (.*?)(?:\. Got value:|$)", message, re.M)
    if given and "NestedArg" in given.group(1):  # jsonargparse's wrapper of a nested option, not the value
        given = None
    if reason.startswith("Expected a "):
        innermost = message[message.rfind('Parser key "') :]
        reason = f"expected {accepted_values(innermost)}"
        given = given or re.search(r"Got value: (.*)", innermost)
    shown = f" (given {given.group(1)})" if given and "NestedArg" not in given.group(1) else ""
    return f"--{'.'.join(keys)}: {reason}{shown}"


def accepted_values(error: str) -> str:
    """What one option accepts, from jsonargparse's ``Expected a ...`` lines: one for each type of a
    union, such as ``Union[bool, Literal['default', ...]]``, read as ``true or false or one of default, ...``."""
    kinds = []
    for found in re.finditer(r"Expected a (?:<class '([\w.]+)'>|typing\.Literal\[(.*?)\])", error):
        type_path, choices = found.groups()
        if type_path is None:
            kinds.append(f"one of {choices.replace(chr(39), '')}")
        elif type_path != "NoneType":
            name = type_path.rpartition(".")[2]
            kinds.append(TYPE_WORDS.get(name, f"a {name}"))
    return " or ".join(kinds) or "another value"
