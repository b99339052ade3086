"""Entry point of the ``amal`` console script: the one place that prints errors and chooses exit statuses.

Each subcommand's module is imported only when it runs: ``amal --help``, ``amal --version`` and
``amal plot`` import neither torch nor Lightning, so they answer at once.

Exit statuses: 0 done, 1 bad input (a file, data, a checkpoint), 2 a usage error (an option),
3 training diverged, 130 interrupted (Ctrl+C).
"""

import sys
from typing import Optional

from amal_lightning import __version__
from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, UsageError, user_error

TRAINING_COMMANDS = ("fit", "validate", "test", "predict")
HELP = f"""usage: amal [-h] [--version] COMMAND ...

amal-lightning {__version__}: the first three AMAL labs as a PyTorch Lightning project.

commands:
  fit           train a config, then test its best checkpoint   (amal fit --config configs/classifier.yaml)
  validate      evaluate a checkpoint on the validation split    (amal validate --config X --ckpt_path best)
  test          evaluate a checkpoint on the test split          (amal test --config X --ckpt_path best)
  predict       write a model's predictions to a CSV file        (amal predict --config X --ckpt_path last)
  prepare-data  download what a config's data needs, for offline compute nodes
  submit        write an sbatch script for a fit and submit it to SLURM
  study         run a study (several fits), its summary table and figures
  plot          draw runs' curves, or gather a study's summary and figures
  runs          a table of the fits: status, epochs, best validation, test, what resumes each
  lr-find       Lightning's learning-rate range test: its curve as a PNG and the option to use

`amal COMMAND --help` lists a command's options.
options:
  -h, --help    show this help message and exit
  --version     show the version and exit
"""


def run_command(argv: list[str]) -> int:
    """Runs ``amal ARGV``; returns the exit status. Raises the project's errors."""
    command = argv[0] if argv else None
    if command in (None, "-h", "--help"):
        print(HELP, end="")
        return 0
    if command == "--version":
        print(f"amal {__version__}")
        return 0
    if command in TRAINING_COMMANDS:
        from amal_lightning.api import run
        from amal_lightning.command_line.report import report_lines

        outcome = run(argv)
        if outcome.global_zero:
            for line in report_lines(outcome):
                print(line)
        return INTERRUPTED_EXIT_STATUS if outcome.status == "interrupted" else 0
    if command == "prepare-data":
        from amal_lightning.api import prepare_data

        print(prepare_data(argv[1:]))
        return 0
    if command == "submit":
        from amal_lightning.command_line.submit import submit

        submit(argv[1:])
        return 0
    if command == "study":
        from amal_lightning.command_line.study import study

        return study(argv[1:])
    if command == "lr-find":
        from amal_lightning.command_line.lr_find import lr_find

        lr_find(argv[1:])
        return 0
    if command == "runs":
        from amal_lightning.command_line.runs import runs

        runs(argv[1:])
        return 0
    if command == "plot":
        from amal_lightning.command_line.plot import plot

        plot(argv[1:])
        return 0
    known = ", ".join([*TRAINING_COMMANDS, "prepare-data", "submit", "study", "plot", "runs", "lr-find"])
    raise UsageError(f"{command}: not a command of amal (its commands: {known})", hint="amal --help")


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of the ``amal`` console script."""
    argv = sys.argv[1:] if args is None else list(args)
    try:
        status = run_command(argv)
    except Exception as error:
        reported = user_error(error)
        if reported is None:
            raise
        print(f"amal: error: {reported}", file=sys.stderr)
        if isinstance(reported, UsageError) and reported.hint:
            print(f"  ({reported.hint})", file=sys.stderr)
        sys.exit(reported.exit_status)
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED_EXIT_STATUS)
    if status:
        sys.exit(status)
