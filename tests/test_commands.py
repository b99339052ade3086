"""The commands of ``amal``, registered once (:mod:`amal_lightning.command_line.commands`): the help, the
dispatch and the answer to an unknown command all come from that one list."""

import pytest

from amal_lightning.command_line.commands import COMMANDS, find
from amal_lightning.command_line.main import help_text, main


def test_the_help_lists_every_command_once_with_its_examples_aligned():
    lines = help_text().splitlines()
    start = lines.index("commands:") + 1
    listed = [line.split()[0] for line in lines[start : lines.index("", start)]]
    assert listed == [command.name for command in COMMANDS]
    assert len({line.index("(amal ") for line in lines if "(amal " in line}) == 1  # one column


def test_an_unknown_command_is_answered_with_the_list(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["fitt"])
    assert exit_info.value.code == 2
    error, hint = capsys.readouterr().err.splitlines()
    names = ", ".join(command.name for command in COMMANDS)
    assert error == f"amal: error: fitt: not a command of amal (its commands: {names})" and hint == "  (amal --help)"


def test_each_name_finds_its_command():
    assert [find(command.name) for command in COMMANDS] == list(COMMANDS)
    assert find("--help") is None and len({command.name for command in COMMANDS}) == len(COMMANDS)


@pytest.mark.parametrize("name", ["submit", "study", "plot", "runs", "lr-find"])
def test_each_command_answers_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0 and f"usage: amal {name}" in capsys.readouterr().out
