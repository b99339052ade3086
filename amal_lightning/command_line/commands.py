"""The commands of ``amal``, each registered once: its name, its line in ``amal --help``, what runs it.

A new subcommand is one :class:`Command` in :data:`COMMANDS` and its module in this folder; the
help, the dispatch and the list of commands an unknown one is answered with all come from here.
Each handler imports its module only when it runs: ``amal --help``, ``amal plot``, ``amal runs``
and the ``--help`` of the commands that train nothing import neither torch nor Lightning.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Optional

from amal_lightning.errors import INTERRUPTED_EXIT_STATUS


@dataclass(frozen=True)
class Command:
    """One ``amal NAME``: its help line (with an example), and its handler, which takes the words after
    the name and returns the exit status."""

    name: str
    help: str
    run: Callable[[list[str]], int]
    example: str = ""


FIT_EXAMPLE = "amal fit --config configs/classifier.yaml"
VALIDATE_EXAMPLE = "amal validate --config X --ckpt_path best"
TEST_EXAMPLE = "amal test --config X --ckpt_path best"
PREDICT_EXAMPLE = "amal predict --config X --ckpt_path last"


def train(command: str, argv: list[str]) -> int:
    """``amal fit|validate|test|predict``: LightningCLI's command, then what it did (by the first process)."""
    from amal_lightning.api import run
    from amal_lightning.command_line.report import report_lines

    outcome = run([command, *argv])
    if outcome.global_zero:
        for line in report_lines(outcome):
            print(line)
    return INTERRUPTED_EXIT_STATUS if outcome.status == "interrupted" else 0


def prepare_data(argv: list[str]) -> int:
    from amal_lightning.api import prepare_data

    print(prepare_data(argv))
    return 0


def lazy(name: str) -> Callable[[list[str]], int]:
    """The handler of ``amal NAME``: the function ``NAME`` of ``command_line/NAME.py``, imported when it runs;
    its exit status (0 where it returns none)."""

    def run(argv: list[str]) -> int:
        return getattr(importlib.import_module(f"amal_lightning.command_line.{name}"), name)(argv) or 0

    return run


COMMANDS = (
    Command("fit", "train a config, then test its best checkpoint", partial(train, "fit"), FIT_EXAMPLE),
    Command("validate", "evaluate a checkpoint on the validation split", partial(train, "validate"), VALIDATE_EXAMPLE),
    Command("test", "evaluate a checkpoint on the test split", partial(train, "test"), TEST_EXAMPLE),
    Command("predict", "write a model's predictions to a CSV file", partial(train, "predict"), PREDICT_EXAMPLE),
    Command("prepare-data", "download what a config's data needs, for offline compute nodes", prepare_data),
    Command("submit", "write an sbatch script for a fit and submit it to SLURM", lazy("submit")),
    Command("study", "run a study (several fits), its summary table and figures", lazy("study")),
    Command("plot", "draw runs' curves, or gather a study's summary and figures", lazy("plot")),
    Command("runs", "a table of the fits: status, epochs, best validation, test, what resumes each", lazy("runs")),
    Command(
        "lr-find", "Lightning's learning-rate range test: its curve as a PNG and the option to use", lazy("lr_find")
    ),
)


def find(name: str) -> Optional[Command]:
    """The command called ``name``, if amal has one."""
    return next((command for command in COMMANDS if command.name == name), None)


def command_lines() -> list[str]:
    """The ``commands:`` lines of ``amal --help``, examples aligned after the help."""
    width = max(len(command.help) for command in COMMANDS if command.example) + 4
    lines = []
    for command in COMMANDS:
        example = f"{' ' * (width - len(command.help))}({command.example})" if command.example else ""
        lines.append(f"  {command.name:<14}{command.help}{example}")
    return lines
