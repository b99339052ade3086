"""``amal submit``: checks a fit's options, writes its sbatch script into ``slurm/`` and submits it."""

from pathlib import Path
from typing import Optional

from jsonargparse import ArgumentParser, Namespace
from jsonargparse.typing import PositiveInt

from amal_lightning.checks import regular_file
from amal_lightning.cluster.options import SlurmName, TimeLimit
from amal_lightning.cluster.sbatch import (
    RESERVED_JOB_NAMES,
    amal_command,
    check_one_line,
    check_words,
    fit_command,
    sbatch_script,
    setup_lines,
    submit_script,
)
from amal_lightning.command_line.parsing import command_parser, parse
from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import experiment_name

HINT = "all options: amal submit --help"


def build_parser(prog: str = "amal submit") -> ArgumentParser:
    parser = command_parser(
        prog,
        "Write an sbatch script that runs `amal fit` on a SLURM cluster, and submit it.",
        "Options after `--` are passed to `amal fit`, e.g. `-- --trainer.max_epochs 50`. The job runs this "
        "`amal` by its absolute path, whatever the --setup lines activate: no environment needs activating.",
    )
    parser.add_argument("--config", required=True, type=Path, help="the experiment's config file")
    parser.add_argument("--nodes", type=PositiveInt, default=1, help="number of nodes")
    parser.add_argument("--gpus-per-node", type=PositiveInt, default=1, help="GPUs, and tasks, per node")
    parser.add_argument("--time", required=True, type=TimeLimit, help="time limit, HH:MM:SS or D-HH:MM:SS")
    parser.add_argument("--partition", type=Optional[SlurmName], help="SLURM partition, else the cluster's default")
    parser.add_argument("--account", type=Optional[SlurmName], help="SLURM account to charge")
    parser.add_argument("--cpus-per-task", type=Optional[PositiveInt], help="CPU cores per task")
    parser.add_argument(
        "--signal-lead", type=PositiveInt, default=90, help="seconds before the time limit to checkpoint"
    )
    parser.add_argument(
        "--setup", action="append", type=str, default=[], help="a shell line run before training (repeatable)"
    )
    parser.add_argument("--setup-file", type=Optional[Path], help="a file of shell lines run before training")
    parser.add_argument("--dry-run", action="store_true", help="print the script, write and submit nothing")
    return parser


def split_fit_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """The words before ``--`` and those after it, which go to ``amal fit``."""
    return (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])


def parse_submit(argv: list[str], prog: str = "amal submit") -> Namespace:
    """``amal submit``'s options (those before ``--``), each value checked to be one line first."""
    check_words(argv)
    return parse(build_parser(prog), argv, HINT)


def check_fit_options(config: Path, fit_options: list[str]) -> None:
    """The job's ``amal fit`` options, parsed by ``amal fit``'s parser: a typo is refused before anything is queued."""
    for option in fit_options:
        check_one_line("an option for amal fit", option)
    from amal_lightning.api import check_command_line  # imports torch and Lightning

    check_command_line(["fit", "--config", str(config), *fit_options])


def submit(argv: list[str]) -> None:
    """Runs ``amal submit ARGV``; raises AmalError on bad input."""
    own, fit_overrides = split_fit_options(argv)
    args = parse_submit(own)
    regular_file(args.config, "--config")
    lines, amal = setup_lines(args), amal_command()
    experiment = experiment_name([args.config], None)  # the job's `amal fit` would refuse any other name
    if experiment in RESERVED_JOB_NAMES:
        raise AmalError(f"--config {args.config}: a job named {experiment!r} is not seen as a batch job by Lightning")
    check_fit_options(args.config, fit_overrides)
    script = sbatch_script(args, experiment, lines, amal, fit_command(args, fit_overrides))
    if args.dry_run:
        print(script, end="")
        return
    print(submit_script(script, experiment))
