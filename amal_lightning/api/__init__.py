"""Run ``amal fit``, ``validate``, ``test`` and ``predict`` from Python, and get back what happened.

::

    from amal_lightning.api import fit

    outcome = fit("configs/classifier.yaml", "--trainer.max_epochs", "3")
    outcome.status                      # "finished" (or "interrupted" after Ctrl+C)
    outcome.test_metrics["test/acc"]    # the test of best.ckpt after the fit
    outcome.best_checkpoint             # checkpoints/classifier/version_0/best.ckpt

The options are ``amal fit``'s, as command-line words. A run that cannot start or goes wrong
raises one of :mod:`amal_lightning.errors`' types, with the message ``amal`` would print:
:class:`~amal_lightning.errors.UsageError` for an option, :class:`~amal_lightning.errors.DivergedError`
when training diverges, :class:`~amal_lightning.errors.OutOfDeviceMemoryError`, and
:class:`~amal_lightning.errors.AmalError` for a bad file or data. Where the run had started, the
error's ``outcome`` says what it had done (its folders, its epochs). Nothing here prints an error
or ends the process: that is the command line's part (:mod:`amal_lightning.command_line`).
"""

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional, Union

from amal_lightning.api.arguments import check_config_files, check_no_special_files, check_run_options
from amal_lightning.api.lightning_cli import AmalCLI
from amal_lightning.api.parser import AmalArgumentParser
from amal_lightning.api.quiet import quiet_lightning
from amal_lightning.api.trainer_parts import LOGGER_FOLDER, with_logger_folders
from amal_lightning.data.readiness import fetch_for_offline_use
from amal_lightning.errors import UsageError, user_error
from amal_lightning.runs.outcome import Outcome

__all__ = ["Outcome", "check_command_line", "fit", "predict", "prepare_data", "run", "test", "validate"]

COMMANDS = ("fit", "validate", "test", "predict")
PathLike = Union[str, Path]
# Options that print and end the process: no place in a run started from Python, nor in a study.
PRINTING_OPTIONS = ("-h", "--help", "--print_config")


@contextlib.contextmanager
def alone_on_the_command_line(argv: Optional[Sequence[str]] = None) -> Iterator[None]:
    """``sys.argv`` as LightningCLI should see it while it parses, and trains, the ``argv`` it is given.

    Run from the ``amal`` command itself (``sys.argv[1:]`` is this command line), ``sys.argv``
    becomes ``argv`` as amal completed it: a multi-device run's other processes are started by
    running ``sys.argv`` again, and must run the same command. Run from Python (a notebook, a
    study, pytest), ``sys.argv`` holds the caller's own arguments, which LightningCLI given ``args``
    would warn about: it is left without arguments.
    """
    saved = sys.argv
    given = None if argv is None else [list(argv), [word for word in argv if not word.startswith(LOGGER_FOLDER)]]
    console = given is not None and list(saved[1:]) in given
    sys.argv = [saved[0], *argv] if console else saved[:1]
    try:
        yield
    finally:
        sys.argv = saved


def command_line(command: str, config: Optional[PathLike], options: Sequence[Any]) -> list[str]:
    words = [command] if config is None else [command, "--config", str(config)]
    return [*words, *(str(option) for option in options)]


def _prepared(argv: Sequence[str]) -> None:
    # LightningCLI still calls jsonargparse functions deprecated in 4.49: a matter for Lightning, not for users.
    os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")
    quiet_lightning()
    check_no_special_files(argv)  # jsonargparse would open a FIFO given as --config, and wait forever
    check_config_files(argv)


def run(argv: Sequence[str], parser_kwargs: Optional[dict[str, Any]] = None) -> Outcome:
    """Runs ``amal ARGV`` (``["fit", "--config", ...]``) here and returns its outcome.

    Raises the project's errors (see the module's docstring), never prints one, never exits.
    """
    argv = with_logger_folders([str(word) for word in argv])
    if not argv or argv[0] not in COMMANDS:
        raise UsageError(f"expected one of {', '.join(COMMANDS)} first, got {argv[0] if argv else 'nothing'}")
    _prepared(argv)
    try:
        with alone_on_the_command_line(argv):
            cli = AmalCLI(
                model_class=None,
                datamodule_class=None,
                parser_class=AmalArgumentParser,
                seed_everything_default=0,
                save_config_kwargs={"overwrite": True},
                # The datamodules give each process its share of the batches themselves.
                trainer_defaults={"use_distributed_sampler": False},
                parser_kwargs=parser_kwargs or {},
                args=argv if sys.argv[1:] != argv else None,  # None: sys.argv, which multi-device runs start again
            )
    except Exception as error:
        reported = user_error(error)
        if reported is None:
            raise
        raise reported from None
    if cli.outcome is None:  # `--help` or `--print_config` printed and the parser ended
        raise UsageError(f"amal {argv[0]}: an option that prints and exits ({', '.join(PRINTING_OPTIONS)})")
    return cli.outcome


def fit(config: Optional[PathLike] = None, *options: Any) -> Outcome:
    """``amal fit --config CONFIG OPTIONS...``: trains, tests the best checkpoint, returns the outcome."""
    return run(command_line("fit", config, options))


def validate(config: Optional[PathLike] = None, *options: Any) -> Outcome:
    """``amal validate --config CONFIG OPTIONS...`` (e.g. ``"--ckpt_path", "best"``)."""
    return run(command_line("validate", config, options))


def test(config: Optional[PathLike] = None, *options: Any) -> Outcome:
    """``amal test --config CONFIG OPTIONS...`` (e.g. ``"--ckpt_path", "best"``)."""
    return run(command_line("test", config, options))


test.__test__ = False  # not a test function, for pytest


def predict(config: Optional[PathLike] = None, *options: Any) -> Outcome:
    """``amal predict --config CONFIG OPTIONS...``: writes predictions.csv, its path in ``outcome.predictions``."""
    return run(command_line("predict", config, options))


def prepare_data(argv: Sequence[str]) -> str:
    """``amal prepare-data --config X``: downloads what the config's data needs, checks it reads; says which data."""
    _prepared(argv)
    try:
        with alone_on_the_command_line():
            cli = AmalCLI(
                model_class=None,
                datamodule_class=None,
                parser_class=AmalArgumentParser,
                run=False,
                args=list(argv),
                save_config_callback=None,
                trainer_defaults={"logger": False},
            )
        fetch_for_offline_use(cli.datamodule)
    except Exception as error:
        reported = user_error(error)
        if reported is None:
            raise
        raise reported from None
    return f"{type(cli.datamodule).__name__}: data ready"


class _ParsedError(Exception):
    """Raised once the command line is parsed, to stop LightningCLI before it builds anything."""

    def __init__(self, cli: "_ParseOnly") -> None:
        super().__init__()
        self.cli = cli


class _ParseOnly(AmalCLI):
    def parse_arguments(self, parser: Any, args: Any) -> None:
        # LightningCLI's parsing, not AmalCLI's: that would plan and claim a run folder.
        super(AmalCLI, self).parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        check_run_options(self.config[subcommand] if subcommand else self.config)
        raise _ParsedError(self)


# Building LightningCLI's parser takes twice as long as a parse with it, and it depends on no argument:
# the first check builds it, the next ones (a study's variants) parse with the same one.
_checker: list[_ParseOnly] = []


def check_command_line(argv: Sequence[str]) -> None:
    """Parses ``amal ARGV`` as the command would, and stops there: no run folder, no model, no data.

    Raises :class:`~amal_lightning.errors.UsageError` with the parser's one-line reason (the same
    line ``amal`` prints) if it refuses them. A study checks every variant with it before anything
    trains; ``amal submit`` checks the job's options before anything is queued.
    """
    argv = with_logger_folders([str(word) for word in argv])
    printing = next((word for word in argv if word.split("=")[0] in PRINTING_OPTIONS), None)
    if printing is not None:
        raise UsageError(f"{printing}: an option that prints and exits has no place here")
    _prepared(argv)
    try:
        with alone_on_the_command_line():
            if _checker:
                _checker[0].parse_arguments(_checker[0].parser, argv)
            else:
                _ParseOnly(
                    model_class=None,
                    datamodule_class=None,
                    parser_class=AmalArgumentParser,
                    seed_everything_default=0,
                    args=argv,
                )
    except _ParsedError as parsed:
        _checker[:] = [parsed.cli]
        return
    except Exception as error:
        reported = user_error(error)
        if reported is None:
            raise
        raise reported from None
