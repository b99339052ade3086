"""The parsers of the commands that train nothing (``amal submit``, ``amal study``, ``amal plot``).

They are jsonargparse parsers with typed options, as ``amal fit``'s is, but their errors are
translated here, without torch or Lightning (:mod:`amal_lightning.api.parser` imports Lightning):
:func:`parse` raises a :class:`~amal_lightning.errors.UsageError` of one line naming the option,
such as ``--time '2h': not a time limit, HH:MM:SS or D-HH:MM:SS``, instead of printing the usage
and exiting. ``--help`` prints the options and exits, as jsonargparse does.
"""

import difflib
import re
from collections.abc import Sequence
from typing import NoReturn, Optional

import jsonargparse.typing
from jsonargparse import ArgumentError, ArgumentParser, Namespace

from amal_lightning.errors import UsageError

# What a value of each type is, in words, after "not": the types without a docstring that says it.
TYPE_WORDS = {
    "PositiveInt": "a positive integer",
    "NonNegativeInt": "an integer, 0 or more",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
}


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


def option_name(parser: ArgumentParser, dest: str) -> str:
    """The option as the user writes it (``--gpus-per-node``) for the key jsonargparse names (``gpus_per_node``)."""
    for action in parser._actions:
        if action.dest == dest:
            return max(action.option_strings, key=len) if action.option_strings else str(action.metavar or dest)
    return f"--{dest}"


def given_value(option: str, argv: Sequence[str]) -> Optional[str]:
    """The last value given to ``option`` in ``argv`` (``--x V`` or ``--x=V``), if found."""
    value = None
    for index, word in enumerate(argv):
        if word == option and index + 1 < len(argv):
            value = argv[index + 1]
        elif word.startswith(f"{option}="):
            value = word[len(option) + 1 :]
    return value


def expected_words(message: str) -> str:
    """What the option takes, from jsonargparse's ``Not of type X`` or ``Expected a X`` line."""
    restricted = re.search(r"Not of type (\w+)", message)
    if restricted:
        name = restricted.group(1)
        described = getattr(jsonargparse.typing, name, None)
        return TYPE_WORDS.get(name) or (described.__doc__ if described is not None else None) or name
    literal = re.search(r"Expected a typing\.Literal\[(.*?)\]", message)
    if literal:
        return f"one of {literal.group(1).replace(chr(39), '')}"
    simple = re.search(r"Expected a <class '(?!NoneType)([\w.]+)'>", message)
    if simple:
        name = simple.group(1).rpartition(".")[2]
        return TYPE_WORDS.get(name, f"a {name}")
    return "a value it takes"


def one_line_error(message: str, parser: ArgumentParser, argv: Sequence[str]) -> str:
    """jsonargparse's (or argparse's) error message as one line that names the option."""
    key = re.match(r'Parser key "([\w.]+)"', message)
    if key:
        option = option_name(parser, key.group(1))
        given = given_value(option, argv)
        shown = f" {given!r}" if given is not None else ""
        return f"{option}{shown}: not {expected_words(message)}"
    unknown = re.search(r"[Uu]nrecognized arguments: (\S+)", message)
    if unknown:
        word = unknown.group(1).split("=")[0]
        if not word.startswith("-"):
            return f"{word!r}: an argument {parser.prog} does not take"
        known = [option for action in parser._actions for option in action.option_strings]
        close = difflib.get_close_matches(word, known, n=1)
        return f"{word} is not an option of {parser.prog}" + (f" (did you mean {close[0]}?)" if close else "")
    required = re.search(r"the following arguments are required: (.*)", message)
    if required:
        options = [option_name(parser, dest.strip()) for dest in required.group(1).split(",")]
        return f"{' and '.join(options)} {'is' if len(options) == 1 else 'are'} required"
    return re.sub(r"^argument ", "", message.strip().splitlines()[0])
