"""A run's command line checked by ``amal fit``'s own parser, which then stops: no run folder, no model, no data.

A study checks every variant with it before anything trains, ``amal submit`` a job's options before
anything is queued. The parser is LightningCLI's with amal's options (:class:`AmalOptions`), without
the run folders that :class:`~amal_lightning.api.lightning_cli.AmalCLI` plans right after parsing.
"""

from collections.abc import Sequence
from typing import Any

from lightning.pytorch.cli import LightningArgumentParser

from amal_lightning.api.arguments import check_arguments, check_run_options
from amal_lightning.api.lightning_cli import AmalOptions
from amal_lightning.api.options import Config, Option, command_line
from amal_lightning.api.parser import CLI_ARGUMENTS
from amal_lightning.api.scope import run_scope
from amal_lightning.api.trainer_parts import with_logger_folders
from amal_lightning.errors import UsageError, as_user_errors

# Options that print and end the process: no place in a run started from Python, nor in a study.
PRINTING_OPTIONS = ("-h", "--help", "--print_config")


class _ParsedError(Exception):
    """Raised once the command line is parsed, to stop LightningCLI before it builds anything."""

    def __init__(self, cli: "ParseOnlyCLI") -> None:
        super().__init__()
        self.cli = cli


class ParseOnlyCLI(AmalOptions):
    """amal's parser, which parses, checks the run options and stops (:class:`_ParsedError`)."""

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        check_run_options(self.config[subcommand] if subcommand else self.config)
        raise _ParsedError(self)


# Building LightningCLI's parser takes twice as long as a parse with it, and it depends on no argument:
# the first check builds it, the next ones (a study's variants) parse with the same one.
_checker: list[ParseOnlyCLI] = []


def check_command_line(argv: Sequence[str]) -> None:
    """Parses ``amal ARGV`` as the command would, and stops there: no run folder, no model, no data.

    Raises :class:`~amal_lightning.errors.UsageError` with the parser's one-line reason (the same
    line ``amal`` prints) if it refuses them.
    """
    argv = with_logger_folders([str(word) for word in argv])
    printing = next((word for word in argv if word.split("=")[0] in PRINTING_OPTIONS), None)
    if printing is not None:
        raise UsageError(f"{printing}: an option that prints and exits has no place here")
    check_arguments(argv)
    try:
        with as_user_errors(), run_scope():
            if _checker:
                _checker[0].parse_arguments(_checker[0].parser, argv)
            else:
                ParseOnlyCLI(
                    **CLI_ARGUMENTS,
                    seed_everything_default=0,
                    args=argv,
                )
    except _ParsedError as parsed:
        _checker[:] = [parsed.cli]


def check_options(config: Config, *options: Option, command: str = "fit") -> None:
    """:func:`check_command_line` of ``amal COMMAND`` with a config and options as :func:`amal_lightning.api.fit`
    takes them (a file or a mapping; words or mappings of dotted option names)."""
    check_command_line(command_line(command, config, options))
