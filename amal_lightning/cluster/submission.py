"""The cluster options of a submission, parsed once for ``amal submit``, ``amal study --submit`` and a search's.

Each option a cluster takes is one line of :data:`CLUSTER_OPTIONS`: its name, its type (whose
docstring says what it takes, :mod:`~amal_lightning.cluster.options`), its help, and how a cluster
profile writes it. The parser and the keys a profile may hold both come from that table, so an
option added there is on every command that submits, in every profile, and in ``--help``.

Options may come from a cluster profile (``--profile FILE.yaml``, :mod:`amal_lightning.cluster.profile`):
its words are put before the command line's, so the command line wins.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from jsonargparse import ActionYesNo, ArgumentParser, Namespace
from jsonargparse.typing import NonNegativeInt, PositiveInt

from amal_lightning.cluster.directives import sbatch_entries, settle_allocation
from amal_lightning.cluster.options import (
    SLURM_NAME,
    Constraint,
    Gres,
    MailType,
    MailUser,
    Memory,
    SlurmName,
    TimeLimit,
)
from amal_lightning.cluster.profile import FLAG, IGNORED, LIST, VALUE, profile_words
from amal_lightning.cluster.sbatch import check_words
from amal_lightning.errors import AmalError, UsageError
from amal_lightning.parse_errors import command_parser, parse, refuse
from amal_lightning.words import given_value, gives

HINT = "all options: amal submit --help"
MEMORY = ("--mem", "--mem-per-gpu")
ARRAY = "amal study --submit"  # the program name of a job array's options


@dataclass(frozen=True)
class ClusterOption:
    """One option of a cluster: ``--NAME``, typed, and how a profile writes it (FLAG, LIST or VALUE)."""

    name: str
    type: Any
    help: str
    default: Any = None
    kind: str = VALUE
    array_only: bool = False  # a job array's (amal study --submit), refused by amal submit


CLUSTER_OPTIONS = (
    ClusterOption("nodes", PositiveInt, "number of nodes", default=1),
    ClusterOption(
        "gpus-per-node",
        Optional[NonNegativeInt],
        "GPUs, and tasks, per node (default: --gres's count, or 1); 0: CPUs only",
    ),
    ClusterOption(
        "ntasks-per-node", Optional[PositiveInt], "tasks per node of a CPU job (default 1; with GPUs, one per GPU)"
    ),
    ClusterOption("gres", Optional[Gres], "generic resources, e.g. gpu:a100:2 (its GPU count is --gpus-per-node's)"),
    ClusterOption("time", TimeLimit, "time limit, HH:MM:SS or D-HH:MM:SS"),
    ClusterOption("partition", Optional[SlurmName], "SLURM partition, else the cluster's default"),
    ClusterOption("account", Optional[SlurmName], "SLURM account to charge"),
    ClusterOption("qos", Optional[SlurmName], "SLURM quality of service"),
    ClusterOption("cpus-per-task", Optional[PositiveInt], "CPU cores per task"),
    ClusterOption("mem", Optional[Memory], "memory per node, e.g. 64G (not with --mem-per-gpu)"),
    ClusterOption("mem-per-gpu", Optional[Memory], "memory per GPU, e.g. 16G (not with --mem)"),
    ClusterOption("constraint", Optional[Constraint], "node features, e.g. a100 or 'v100&ib'"),
    ClusterOption("exclusive", bool, "whole nodes, shared with no job", default=False, kind=FLAG),
    ClusterOption("mail-type", Optional[MailType], "mail on these events, e.g. END,FAIL"),
    ClusterOption("mail-user", Optional[MailUser], "where SLURM sends the mail"),
    ClusterOption("job-name", Optional[SlurmName], "the job's name in squeue (default: the experiment's)"),
    ClusterOption("sbatch", str, "any other directive, KEY=VALUE (repeatable)", default=[], kind=LIST),
    ClusterOption("signal-lead", PositiveInt, "seconds before the time limit to checkpoint (SIGUSR1)", default=90),
    ClusterOption("max-requeues", NonNegativeInt, "requeues on SIGUSR1 before the job gives up", default=10),
    ClusterOption(
        "max-parallel", Optional[PositiveInt], "array tasks running at once (#SBATCH --array=0-K%%N)", array_only=True
    ),
    ClusterOption("setup", str, "a shell line run before training (repeatable)", default=[], kind=LIST),
    ClusterOption("setup-file", Optional[Path], "a file of shell lines run before training"),
)


def build_parser(
    prog: str = "amal submit", array: bool = False, profile: bool = False, workers: bool = False
) -> ArgumentParser:
    """The parser of a submission's options; ``array`` adds ``--max-parallel``, ``workers`` a search's
    ``--workers``; ``profile`` requires nothing (a profile's words alone)."""
    parser = command_parser(
        prog,
        "Write an sbatch script that runs `amal fit` on a SLURM cluster, and submit it.",
        "Options after `--` are passed to `amal fit`, e.g. `-- --trainer.max_epochs 50`. The job runs this "
        "`amal` by its absolute path, whatever the --setup lines activate: no environment needs activating.",
    )
    add = parser.add_argument
    add("--profile", type=Optional[str], help="a cluster profile: a YAML file of these options (the command line wins)")
    add("--config", required=not profile, type=Path, help="the experiment's config file")
    for option in CLUSTER_OPTIONS:
        if option.array_only and not array:
            continue
        flag, required = f"--{option.name}", option.name == "time" and not profile
        if option.kind == FLAG:
            add(flag, action=ActionYesNo(no_prefix="no-"), default=option.default, help=option.help)
        elif option.kind == LIST:
            add(flag, action="append", type=option.type, default=list(option.default), help=option.help)
        else:
            add(flag, required=required, type=option.type, default=option.default, help=option.help)
    if workers:
        add("--workers", type=PositiveInt, default=1, help="array tasks, each a worker taking the search's trials")
    add("--dry-run", action="store_true", help="print the script, write and submit nothing")
    return parser


def profile_options(array: bool) -> dict[str, str]:
    """The keys a profile may hold (``gpus-per-node``), and how each becomes words; a job array's own
    (``max-parallel``) are left out of ``amal submit``'s, as a profile serves both."""
    return {option.name: IGNORED if option.array_only and not array else option.kind for option in CLUSTER_OPTIONS}


def read_profile(path: str, argv: list[str], prog: str, array: bool) -> list[str]:
    """The profile's words, each checked as the command line's are, with errors naming the file."""
    leave_out = {option[2:] for option in MEMORY} if gives(argv, MEMORY) else set()  # the command line's wins
    words = profile_words(path, profile_options(array), leave_out)
    try:
        check_words(words)
        sbatch_entries(parse(build_parser(prog, array, profile=True), words))  # its own --sbatch keys and values
    except UsageError as error:
        raise UsageError(f"--profile {path}: {error}", hint=error.hint or HINT) from None
    except AmalError as error:
        raise AmalError(f"--profile {path}: {error}") from None
    return words


def check_names(argv: list[str]) -> None:
    """A partition or account that cannot stand on an ``#SBATCH`` line is bad input (exit status 1), as it was
    before the parser typed these options, not a usage error; checked as given, before the parser sees it."""
    for option in ("--partition", "--account"):
        value = given_value(option, argv)
        if value is not None and not re.match(SLURM_NAME, value):
            raise AmalError(f"{option} {value!r}: not {SlurmName.__doc__}")


def parse_submission(
    argv: list[str], prog: str = "amal submit", array: bool = False, workers: bool = False
) -> Namespace:
    """A submission's options (those before ``--``), each value checked to be one line first, and settled:
    the profile's first, the options against each other, ``--gpus-per-node`` from ``--gres`` if not given."""
    check_words(argv)
    check_names(argv)
    if not array and gives(argv, ("--max-parallel",)):
        raise UsageError(f"--max-parallel: only for a job array ({ARRAY})", hint=HINT)
    path = given_value("--profile", argv)
    profile = [] if path is None else read_profile(path, argv, prog, array)
    parser = build_parser(prog, array, workers=workers)
    args = parse(parser, [*profile, *argv], HINT)
    try:
        settle_allocation(args)
    except UsageError as error:
        refuse(parser, str(error), HINT)
    return args
