"""Each form of jsonargparse's text that :mod:`amal_lightning.parse_errors` reads, made by a real parser.

jsonargparse gives its errors as text only, and a parser's options only through its help: if an
upgrade changes one of these forms, the test of that form fails here, not a user's error line.
"""

from typing import Literal, Optional, Union

import pytest
from jsonargparse import ActionYesNo
from jsonargparse.typing import PositiveInt

from amal_lightning.cluster.options import TimeLimit
from amal_lightning.errors import UsageError
from amal_lightning.parse_errors import command_parser, known_options, option_name, parse


class Net:
    """A class a parser builds from its class path (``tests.test_parse_errors.Net``)."""

    def __init__(self, hidden_dim: int = 3, depth: int = 2) -> None:
        self.hidden_dim, self.depth = hidden_dim, depth


def made_up_parser():
    parser = command_parser("amal try", "A parser of each kind of option amal's commands have.")
    parser.add_argument("file", nargs="?", type=Optional[str], help="a file, mentioning --not-an-option")
    parser.add_argument("--time", type=TimeLimit, required=True, help="time limit")
    parser.add_argument("--gpus-per-node", type=Optional[PositiveInt], help="GPUs " * 30 + "--wrapped-word")
    parser.add_argument("--jobs", type=Optional[Union[PositiveInt, Literal["auto"]]], help="workers")
    parser.add_argument("--model", type=Optional[Net], help="a model")
    parser.add_argument("--seeds", type=Optional[list[int]], help="seeds")
    parser.add_argument("-o", "--output", type=Optional[str], help="the PNG")
    parser.add_argument("--exclusive", action=ActionYesNo(no_prefix="no-"), default=False, help="whole nodes")
    return parser


def refusal(*argv: str) -> str:
    with pytest.raises(UsageError) as error:
        parse(made_up_parser(), argv)
    assert error.value.hint == "all options: amal try --help"
    return str(error.value)


TIME = ("--time", "01:00:00")


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        # 'Parser key "time": Not of type TimeLimit': a restricted type says what it takes in its docstring
        (["--time", "1"], "--time '1': not a time limit, HH:MM:SS or D-HH:MM:SS"),
        # a union of a restricted type and None: the key of a dashed option, and the value given
        ([*TIME, "--gpus-per-node", "x"], "--gpus-per-node 'x': not a positive integer"),
        # 'Expected a typing.Literal[...]' among a union's types
        ([*TIME, "--jobs=x"], "--jobs 'x': not one of auto"),
        # 'Expected a <class 'int'>. Got value: a' inside a list
        ([*TIME, "--seeds", "[a]"], "--seeds '[a]': not an integer"),
        # 'unrecognized arguments': a mistyped option, and a word that is no option
        ([*TIME, "--ouptut", "x"], "--ouptut is not an option (did you mean --output?)"),
        ([*TIME, "--no-exclusiv"], "--no-exclusiv is not an option (did you mean --no-exclusive?)"),
        (["a.yaml", "b.yaml", *TIME], "'b.yaml': an argument amal try does not take"),
        # 'the following arguments are required: time'
        ([], "--time is required"),
        # "Problem with given class_path '...': Option 'hiden_dim' is not accepted"
        (
            [*TIME, "--model", f"{__name__}.Net", "--model.hiden_dim", "3"],
            f"--model.hiden_dim is not an option of {__name__}.Net (did you mean --model.hidden_dim?)",
        ),
        # "Problem with given class_path '...': module '...' has no attribute '...'" (or: No module named)
        (
            [*TIME, "--model", f"{__name__}.Nett"],
            f"--model: no class {__name__}.Nett (module '{__name__}' has no attribute 'Nett')",
        ),
        (
            [*TIME, "--model", "no_such_package.Net"],
            "--model: no class no_such_package.Net (No module named 'no_such_package')",
        ),
        # a nested key: 'Parser key "depth": Expected a <class 'int'>. Got value: x'
        ([*TIME, "--model", f"{__name__}.Net", "--model.depth", "x"], "--model.depth: expected an integer (given x)"),
    ],
)
def test_each_message_form_becomes_one_line(argv, line):
    assert refusal(*argv) == line


def test_the_options_are_read_from_the_help_column_only():
    """The help text's own words (``--not-an-option``, a wrapped ``--wrapped-word``) are no options; jsonargparse's
    ``--model.help`` and ``--seeds+`` are."""
    names = ["-h", "--help", "--time", "--gpus-per-node", "--jobs", "--model", "--model.help", "--seeds"]
    names += ["--seeds+", "-o", "--output", "--exclusive", "--no-exclusive"]
    assert sorted(known_options(made_up_parser())) == sorted(names)


def test_an_option_is_named_as_written_from_its_key():
    parser = made_up_parser()
    assert option_name(parser, "gpus_per_node") == "--gpus-per-node"
    assert option_name(parser, "output") == "--output" and option_name(parser, "exclusive") == "--exclusive"
    assert option_name(parser, "file") is None
