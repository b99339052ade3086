"""The parsers of the commands that train nothing (``amal submit``, ``amal study``, ``amal plot``).

They are jsonargparse parsers with typed options, as ``amal fit``'s is, and their errors go
through the same translation (:mod:`amal_lightning.parse_errors`, without torch or Lightning):
:func:`parse` raises a :class:`~amal_lightning.errors.UsageError` of one line naming the option,
such as ``--time '2h': not a time limit, HH:MM:SS or D-HH:MM:SS``, instead of printing the usage
and exiting. ``--help`` prints the options and exits, as jsonargparse does.
"""

from collections.abc import Sequence
from typing import NoReturn, Optional

from jsonargparse import ArgumentError, ArgumentParser, Namespace

from amal_lightning.errors import UsageError
from amal_lightning.parse_errors import one_line_error


def command_parser(prog: str, description: str, epilog: str = "") -> ArgumentParser:
    """A parser whose errors :func:`parse` turns into one line (``exit_on_error=False``)."""
    return ArgumentParser(
        prog=prog, description=description, epilog=epilog, exit_on_error=False, default_env=False, allow_abbrev=False
    )


def parse(parser: ArgumentParser, argv: Sequence[str], hint: Optional[str] = None) -> Namespace:
    """``argv`` parsed; a refusal is raised as a UsageError naming the option, with ``hint`` (by default
    ``all options: <prog> --help``)."""
    try:
        return parser.parse_args(list(argv))
    except ArgumentError as error:
        refuse(parser, one_line_error(str(error), parser, argv), hint)


def refuse(parser: ArgumentParser, message: str, hint: Optional[str] = None) -> NoReturn:
    """Raises ``message`` as a usage error of the command ``parser`` parses."""
    raise UsageError(message, hint=hint or f"all options: {parser.prog} --help")
