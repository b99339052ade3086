"""The parsers of ``amal``'s commands and jsonargparse's errors in one line: the one translation.

jsonargparse prints the whole usage and then its error, nested in the union types it tried. Here
that message becomes one line naming the option, what it takes and what was given, with the
closest option name where one was mistyped. ``amal fit``'s parser (:mod:`amal_lightning.api.parser`),
a study's check of its variants and the parsers of the commands that train nothing
(:func:`command_parser`, :func:`parse`: ``amal submit``, ``study``, ``plot``, the cluster options of
:mod:`amal_lightning.cluster.submission`) all go through :func:`one_line_error`. It reads the
message's text because jsonargparse gives no structure for it beyond its ``ArgumentError`` type,
and a parser's options from its help, the one list of them its public API gives; each form read
is tested (``tests/test_parse_errors.py``). It imports neither torch nor Lightning, so the
commands that train nothing stay quick.
"""

import difflib
import importlib
import inspect
import re
from collections.abc import Sequence
from typing import Any, NoReturn, Optional

import jsonargparse.typing
from jsonargparse import ArgumentError, ArgumentParser, Namespace

from amal_lightning.errors import UsageError
from amal_lightning.words import given_value

# The lines of a jsonargparse error that say what is wrong, by priority (the others list the types it tried).
REASONS = (
    r"Not of type|does not conform|does not exist|invalid choice",
    r"Expected a (?!<class 'NoneType'>)",
    r"not accessible|Unable|Problem|error",
)
# An option's line in a parser's help (``  -o OUTPUT, --output OUTPUT    the PNG``), and each name in it.
INVOCATION = re.compile(r"^  (-[^ ].*?)(?: {2,}|$)", re.M)
OPTION = re.compile(r"(?:^|, )(--?[A-Za-z][\w.+-]*)")
# The names of jsonargparse's types, as a user writes their values.
TYPE_WORDS = {
    **{"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string", "dict": "a mapping"},
    **dict.fromkeys(("list", "tuple", "Iterable", "Sequence"), "a list"),
    **{"PositiveInt": "a positive integer", "NonNegativeInt": "an integer, 0 or more"},
}


def command_name(parser: Any) -> str:
    """``amal fit``, ``amal submit``: the command a parser reads, whatever the program's own name."""
    return " ".join(["amal", *str(parser.prog).replace(" [options]", "").split()[1:]])


def command_parser(prog: str, description: str, epilog: str = "") -> ArgumentParser:
    """A parser of an ``amal`` command whose errors :func:`parse` turns into one line (``exit_on_error=False``)."""
    return ArgumentParser(
        prog=prog, description=description, epilog=epilog, exit_on_error=False, default_env=False, allow_abbrev=False
    )


def parse(parser: ArgumentParser, argv: Sequence[str], hint: Optional[str] = None) -> Namespace:
    """``argv`` parsed; a refusal is raised as a UsageError naming the option, with ``hint`` (by default
    ``all options: <prog> --help``). ``--help`` prints the options and exits, as jsonargparse does."""
    try:
        return parser.parse_args(list(argv))
    except ArgumentError as error:
        refuse(parser, one_line_error(str(error), parser, argv), hint)


def refuse(parser: ArgumentParser, message: str, hint: Optional[str] = None) -> NoReturn:
    """Raises ``message`` as a usage error of the command ``parser`` parses."""
    raise UsageError(message, hint=hint or f"all options: {parser.prog} --help")


def known_options(parser: Any) -> list[str]:
    """Every option name ``parser`` takes (``-o``, ``--output``, ``--no-exclusive``), as its help lists them.

    Read from the help's option column (two spaces in, before the gap to the help text): the one
    list the public API gives of a parser's options, a LightningCLI parser's included."""
    names = []
    for invocation in INVOCATION.findall(parser.format_help()):
        names += OPTION.findall(invocation)
    return names


def option_name(parser: Any, dest: str) -> Optional[str]:
    """The option as the user writes it (``--gpus-per-node``) for a plain option's key (``gpus_per_node``)."""
    names = [name for name in known_options(parser) if name.lstrip("-").replace("-", "_") == dest]
    return max(names, key=len) if names else None


def accepted_values(error: str) -> str:
    """What one option accepts, from jsonargparse's ``Not of type`` or ``Expected a ...`` lines: one for each
    type of a union, such as ``Union[bool, Literal['default', ...]]``, read as ``true or false or one of default, ...``.
    A restricted type of the project's says it in its docstring (``a time limit, HH:MM:SS or D-HH:MM:SS``)."""
    restricted = re.search(r"Not of type (\w+)", error)
    if restricted and not re.search(r"Expected a (?!<class 'NoneType'>)", error):
        name = restricted.group(1)
        described = getattr(jsonargparse.typing, name, None)
        return TYPE_WORDS.get(name) or getattr(described, "__doc__", None) or name
    kinds = []
    for found in re.finditer(r"Expected a (?:<class '([\w.]+)'>|typing\.Literal\[(.*?)\])", error):
        type_path, choices = found.groups()
        if type_path is None:
            kinds.append(f"one of {choices.replace(chr(39), '')}")
        elif type_path != "NoneType":
            name = type_path.rpartition(".")[2]
            kinds.append(TYPE_WORDS.get(name, f"a {name}"))
    return " or ".join(kinds) or "another value"


def unknown_argument(word: str, parser: Any) -> str:
    """An argument the parser does not know: a mistyped option gets the closest known one."""
    option = word.split("=")[0]
    if not option.startswith("-"):
        return f"{option!r}: an argument {command_name(parser)} does not take"
    known = known_options(parser)
    try:
        known += [f"--{name}" for name in parser.get_defaults().keys()]
    except Exception:  # noqa: BLE001 - a parser whose defaults cannot be built still names the word
        pass
    close = difflib.get_close_matches(option, known, n=1)
    return f"{option} is not an option" + (f" (did you mean {close[0]}?)" if close else "")


# What jsonargparse says of a word given where a class of some kind is expected and that names none of that kind.
NOT_A_CLASS = r"Expected a dot import path string|Import path does not correspond to a subclass|Not a valid subclass"
KIND = re.compile(r"<class '[\w.]+\.([A-Z]\w*)'>")  # a class among a union's subtypes (not int, bool...)


def not_a_class(message: str) -> Optional[str]:
    """``NoSuchLogger is not a Logger class (expected a Logger class, by its name or import path, or true or
    false)`` for a word given where the union's subtypes take a class of a kind; None for any other error."""
    given = re.search(r"Given value: ([\w.]+)$", message, re.M)
    subtypes = re.search(r"Subtypes: (.*)", message)
    kind = KIND.search(subtypes.group(1)) if subtypes else None
    if not (given and kind and re.search(NOT_A_CLASS, message)):
        return None
    other = ", or true or false" if "<class 'bool'>" in subtypes.group(1) else ""  # type: ignore[union-attr]
    name = kind.group(1)
    return f"{given.group(1)} is not a {name} class (expected a {name} class by its name or import path{other})"


def one_line_error(message: str, parser: Any, argv: Sequence[str] = ()) -> str:
    """jsonargparse's error ``message`` from ``parser`` as one line; ``argv``, where known, gives the value."""
    rejected = re.search(r"Problem with given class_path '([\w.]+)':\s*Option '(\w+)' is not accepted", message)
    key = re.search(r'Parser key "([\w.]+)"', message)
    if rejected and key:  # `--model.hiden_dim`: an option the class does not take
        class_path, option = rejected.groups()
        module, _, name = class_path.rpartition(".")
        accepted = list(inspect.signature(getattr(importlib.import_module(module), name)).parameters)
        close = difflib.get_close_matches(option, accepted, n=1)
        hint = f" (did you mean --{key.group(1)}.{close[0]}?)" if close else f" (its options: {', '.join(accepted)})"
        return f"--{key.group(1)}.{option} is not an option of {class_path}{hint}"
    no_class = r"module '[\w.]+' has no attribute '\w+'|No module named '[\w.]+'"
    missing = re.search(rf"Problem with given class_path '([\w.]+)':\s*({no_class})", message)
    if missing and key:  # `--model amal_lightning.tme2.Nope`: a class path that names no class
        return f"--{key.group(1)}: no class {missing.group(1)} ({missing.group(2)})"
    not_class = not_a_class(message)
    if not_class is not None and key:  # `--trainer.logger+=NoSuchLogger`: a word that names no class of the kind
        return f"--{key.group(1)}: {not_class}"
    unknown = re.search(r"[Uu]nrecognized arguments: (\S+)", message)
    if unknown:
        return unknown_argument(unknown.group(1), parser)
    required = re.search(r"the following arguments are required: (.*)", message)
    if required:
        dests = [dest.strip() for dest in required.group(1).split(",")]
        options = [option_name(parser, dest) or f"--{dest}" for dest in dests]
        return f"{' and '.join(options)} {'is' if len(options) == 1 else 'are'} required"
    keys = re.findall(r'Parser key "([\w.]+)"', message)
    lines = [re.sub(r'^Parser key "[\w.]+":\s*', "", line.strip(" -")) for line in message.splitlines()]
    lines = [re.sub(r"^argument ", "", line) for line in lines if line]
    if not keys:
        return " ".join(lines[:3])
    typed = re.search(r"Not of type|Expected a ", message)  # a value of the wrong kind, not a missing file
    plain = option_name(parser, keys[0]) if typed and len(keys) == 1 and "." not in keys[0] else None
    if plain is not None:  # a plain option (`--time '2h': not a time limit, ...`), not one of a class's
        given = given_value(plain, argv)
        return f"{plain}{'' if given is None else f' {given!r}'}: not {accepted_values(message)}"
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
