"""``amal submit``: checks a fit's options, writes its sbatch script into ``slurm/`` and submits it."""

import argparse
from pathlib import Path

from amal_lightning.checks import regular_file
from amal_lightning.cluster.options import positive_int, time_limit
from amal_lightning.cluster.sbatch import (
    RESERVED_JOB_NAMES,
    amal_command,
    check_one_line,
    sbatch_script,
    submit_script,
)
from amal_lightning.errors import AmalError, first_line
from amal_lightning.runs.folders import experiment_name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amal submit",
        description="Write an sbatch script that runs `amal fit` on a SLURM cluster, and submit it.",
        epilog=(
            "Options after `--` are passed to `amal fit`, e.g. `-- --trainer.max_epochs 50`. The job runs this "
            "`amal` by its absolute path, whatever the --setup lines activate: no environment needs activating."
        ),
    )
    parser.add_argument("--config", required=True, type=Path, help="the experiment's config file")
    parser.add_argument("--nodes", type=positive_int, default=1, help="number of nodes (default 1)")
    parser.add_argument("--gpus-per-node", type=positive_int, default=1, help="GPUs, and tasks, per node (default 1)")
    parser.add_argument("--time", required=True, type=time_limit, help="time limit, HH:MM:SS or D-HH:MM:SS")
    parser.add_argument("--partition", help="SLURM partition (default: the cluster's default partition)")
    parser.add_argument("--account", help="SLURM account to charge")
    parser.add_argument("--cpus-per-task", type=positive_int, help="CPU cores per task")
    parser.add_argument(
        "--signal-lead", type=positive_int, default=90, help="seconds before the time limit to checkpoint (default 90)"
    )
    parser.add_argument(
        "--setup",
        action="append",
        default=[],
        help="a shell line run before training, e.g. 'module load cuda' (repeatable)",
    )
    parser.add_argument("--setup-file", type=Path, help="a file of shell lines run before training")
    parser.add_argument("--dry-run", action="store_true", help="print the script, write and submit nothing")
    return parser


def submit(argv: list[str]) -> None:
    """Runs ``amal submit ARGV``; raises AmalError on bad input."""
    own, fit_overrides = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    args = build_parser().parse_args(own)
    regular_file(args.config, "--config")
    file_lines = []
    if args.setup_file is not None:
        try:
            file_lines = regular_file(args.setup_file, "--setup-file").read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise AmalError(f"--setup-file {args.setup_file}: cannot read it as text ({first_line(error)})") from None
    setup_lines, amal = [*args.setup, *file_lines], amal_command()
    values = [
        ("--config", str(args.config)),
        ("--partition", args.partition or ""),
        ("--account", args.account or ""),
        ("the path of amal", amal),
        ("the current folder", str(Path.cwd())),
        *(("--setup", line) for line in args.setup),
        *((f"--setup-file {args.setup_file}", line) for line in file_lines),
        *(("an option for amal fit", option) for option in fit_overrides),
    ]
    for option, value in values:
        check_one_line(option, value)
    experiment = experiment_name([args.config], None)  # the job's `amal fit` would refuse any other name
    if experiment in RESERVED_JOB_NAMES:
        raise AmalError(f"--config {args.config}: a job named {experiment!r} is not seen as a batch job by Lightning")
    script = sbatch_script(args, experiment, setup_lines, fit_overrides, amal)
    if args.dry_run:
        print(script, end="")
        return
    print(submit_script(script, experiment))
