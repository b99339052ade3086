"""LightningCLI's parser with its errors in one line, and the one translation of jsonargparse's errors.

jsonargparse prints the whole usage (some sixty lines) and then the error, nested in the union
types it tried: a typo in one option name was hard to find at the bottom. :func:`short_usage_error`
turns its message into one line naming the option, the reason and the closest option name where
one was mistyped; :class:`AmalArgumentParser` raises it as a :class:`UsageError` instead of printing
and exiting, so that ``amal fit``, :func:`amal_lightning.api.fit` and a study's check all give
the same line.
"""

import difflib
import importlib
import inspect
import re
from pathlib import Path
from typing import NoReturn, Optional

from lightning.pytorch.cli import LightningArgumentParser

from amal_lightning.errors import UsageError

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
        command = " ".join(["amal", *parser.prog.replace(" [options]", "").split()[1:]])
        raise UsageError(short_usage_error(message, parser), hint=f"all options: {command} --help")


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
