"""Entry point of the ``amal`` console script: the one place that prints errors and chooses exit statuses.

The commands are registered once, in :mod:`~amal_lightning.command_line.commands`; each
subcommand's module is imported only when it runs: ``amal --help``, ``amal --version`` and
``amal plot`` import neither torch nor Lightning, so they answer at once.

Exit statuses: 0 done, 1 bad input (a file, data, a checkpoint), 2 a usage error (an option),
3 training diverged, 130 interrupted (Ctrl+C).
"""

import sys
from typing import Optional

from amal_lightning import __version__
from amal_lightning.command_line.commands import COMMANDS, command_lines, find
from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, AmalError, UsageError, as_user_errors


def help_text() -> str:
    """``amal --help``: the commands of :data:`~amal_lightning.command_line.commands.COMMANDS`."""
    return "\n".join(
        [
            "usage: amal [-h] [--version] COMMAND ...",
            "",
            f"amal-lightning {__version__}: the first three AMAL labs as a PyTorch Lightning project.",
            "",
            "commands:",
            *command_lines(),
            "",
            "`amal COMMAND --help` lists a command's options.",
            "options:",
            "  -h, --help    show this help message and exit",
            "  --version     show the version and exit",
            "",
        ]
    )


def run_command(argv: list[str]) -> int:
    """Runs ``amal ARGV``; returns the exit status. Raises the project's errors."""
    if not argv or argv[0] in ("-h", "--help"):
        print(help_text(), end="")
        return 0
    if argv[0] == "--version":
        print(f"amal {__version__}")
        return 0
    command = find(argv[0])
    if command is None:
        known = ", ".join(each.name for each in COMMANDS)
        raise UsageError(f"{argv[0]}: not a command of amal (its commands: {known})", hint="amal --help")
    return command.run(argv[1:])


def main(args: Optional[list[str]] = None) -> None:
    """Entry point of the ``amal`` console script."""
    argv = sys.argv[1:] if args is None else list(args)
    try:
        with as_user_errors():
            status = run_command(argv)
    except AmalError as reported:
        print(f"amal: error: {reported}", file=sys.stderr)
        if isinstance(reported, UsageError) and reported.hint:
            print(f"  ({reported.hint})", file=sys.stderr)
        sys.exit(reported.exit_status)
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED_EXIT_STATUS)
    if status:
        sys.exit(status)
