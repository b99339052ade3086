"""The ``#SBATCH`` lines of a job's script, from ``amal submit``'s options, and the checks between them.

Every option of ``amal submit`` that SLURM reads becomes one ``#SBATCH --name=value`` line; any other
directive comes through ``--sbatch KEY=VALUE`` (or ``--sbatch KEY`` for a flag such as ``overcommit``):

- KEY is spelled as SLURM spells its long options: lowercase letters, digits and dashes, in full.
  A key amal writes itself (``time``, ``gres``, ``output``, ...) is refused with the option to use,
  and so is an abbreviation of one (sbatch would read ``--ti`` as ``--time``).
- VALUE is one word of printable ASCII without spaces, quotes, backslashes or ``#``: sbatch reads the
  rest of an ``#SBATCH`` line as more options, undoes quotes and escapes, and takes ``#`` as the start
  of a comment. A leading ``-`` is kept (``--sbatch nice=-5``): written as ``--nice=-5``, it is the
  value of its own option and cannot start another.

The conflicts sbatch would meet only later are refused here, in one line: ``--mem`` with
``--mem-per-gpu`` (or either with ``--sbatch mem-per-cpu``), and a GPU count in ``--gres`` that
disagrees with ``--gpus-per-node``.
"""

import re
from typing import Optional

from jsonargparse import Namespace

from amal_lightning.errors import UsageError

# The job learns how many times it may requeue itself from this line of its script (callbacks/requeue.py).
MAX_REQUEUES_VARIABLE = "AMAL_MAX_REQUEUES"
# Lightning does not treat jobs with these names as batch jobs (they are interactive shells).
RESERVED_JOB_NAMES = {"bash", "interactive"}
SBATCH_KEY = re.compile(r"\A[a-z][a-z0-9]*(-[a-z0-9]+)*\Z")
SBATCH_VALUE = re.compile(r"\A[!$-&(-\[\]-~]+\Z")  # printable ASCII but space " # ' \
TASKS = "use --nodes and --gpus-per-node (one task per GPU), or --gpus-per-node 0 and --ntasks-per-node"
LOGS = "its logs are slurm/<name>-<job id>.out and .err"
# The directives amal writes, and what to do instead of `--sbatch KEY=...`.
WRITTEN_BY_AMAL = {
    **{key: f"use --{key}" for key in ("job-name", "nodes", "gpus-per-node", "time", "partition", "account")},
    **{key: f"use --{key}" for key in ("cpus-per-task", "mem", "mem-per-gpu", "qos", "constraint", "gres")},
    **{key: f"use --{key}" for key in ("mail-type", "mail-user", "exclusive")},
    "ntasks-per-node": "use --ntasks-per-node for a CPU job; with GPUs, one task per GPU",
    **dict.fromkeys(("ntasks", "gpus", "gpus-per-task", "ntasks-per-gpu"), TASKS),
    "signal": "use --signal-lead (amal listens for SIGUSR1)",
    "array": "use amal study --submit (and --max-parallel)",
    **dict.fromkeys(("requeue", "no-requeue"), "it requeues on SIGUSR1, at most --max-requeues times"),
    **dict.fromkeys(("output", "error", "open-mode"), LOGS),
}


def sbatch_entry(entry: str) -> tuple[str, Optional[str]]:
    """One ``--sbatch`` value, ``KEY=VALUE`` or ``KEY``, checked: its key and its value (None for a flag)."""
    key, equals, value = entry.partition("=")
    where = f"--sbatch {entry!r}"
    if not SBATCH_KEY.match(key):
        raise UsageError(f"{where}: {key!r} is not an sbatch option's name (lowercase letters, digits and dashes)")
    written = key if key in WRITTEN_BY_AMAL else next((name for name in WRITTEN_BY_AMAL if name.startswith(key)), None)
    if written is not None:  # sbatch takes an abbreviation of an option for the option
        abbreviated = "" if written == key else f"--{key} abbreviates --{written}: "
        raise UsageError(f"{where}: {abbreviated}amal writes --{written} itself ({WRITTEN_BY_AMAL[written]})")
    if equals and not SBATCH_VALUE.match(value):
        raise UsageError(
            f"{where}: the value must be one word of printable ASCII, without spaces, quotes, backslashes or #"
        )
    return key, value if equals else None


def sbatch_entries(args: Namespace) -> dict[str, Optional[str]]:
    """``--sbatch``'s directives by key, in order; a key given again (on the command line after a profile) wins."""
    entries: dict[str, Optional[str]] = {}
    for entry in args.sbatch:
        key, value = sbatch_entry(entry)
        entries.pop(key, None)
        entries[key] = value
    return entries


def gres_gpus(gres: str) -> tuple[Optional[int], Optional[int]]:
    """The index of ``--gres``'s ``gpu`` entry in its list, and its count (either None where there is none)."""
    found: tuple[Optional[int], Optional[int]] = (None, None)
    for index, entry in enumerate(gres.split(",")):
        name, *rest = entry.split(":")
        if name != "gpu":
            continue
        if found[0] is not None:
            raise UsageError(f"--gres {gres}: more than one gpu entry (give one, gpu:TYPE:COUNT)")
        if len(rest) == 2 and not rest[1].isdigit():
            raise UsageError(f"--gres {gres}: {entry!r} is not gpu:TYPE:COUNT (its count is not a number)")
        count = int(rest[-1]) if rest and rest[-1].isdigit() else None
        if count == 0:
            raise UsageError(f"--gres {gres}: {entry!r} asks for no GPU")
        found = (index, count)
    return found


def settle_allocation(args: Namespace) -> None:
    """Checks the options against each other; sets ``--gpus-per-node`` from ``--gres`` when it is not given.

    A ``gpu`` entry of ``--gres`` without a count gets ``--gpus-per-node``'s (SLURM would read it as 1).
    """
    if args.mem is not None and args.mem_per_gpu is not None:
        raise UsageError(f"--mem {args.mem} and --mem-per-gpu {args.mem_per_gpu}: SLURM takes one of them, not both")
    entries = sbatch_entries(args)
    if "mem-per-cpu" in entries and (args.mem is not None or args.mem_per_gpu is not None):
        given = "--mem" if args.mem is not None else "--mem-per-gpu"
        raise UsageError(f"--sbatch mem-per-cpu and {given}: SLURM takes one of --mem, --mem-per-cpu, --mem-per-gpu")
    if args.mail_type is not None:
        args.mail_type = args.mail_type.upper()  # SLURM's spelling, whatever case was given
    if args.job_name in RESERVED_JOB_NAMES:
        raise UsageError(f"--job-name {args.job_name}: a job of that name is not seen as a batch job by Lightning")
    index, count = (None, None) if args.gres is None else gres_gpus(args.gres)
    if count is not None and args.gpus_per_node is not None and count != args.gpus_per_node:
        raise UsageError(
            f"--gres {args.gres} asks for {count} GPU{'s' if count > 1 else ''} per node, "
            f"--gpus-per-node {args.gpus_per_node}: give the same number (amal starts one task per GPU)"
        )
    if args.gpus_per_node is None:
        args.gpus_per_node = count or 1
    settle_tasks(args, gres_gpu=index is not None)
    if index is not None and count is None:
        entries_of_gres = args.gres.split(",")
        entries_of_gres[index] += f":{args.gpus_per_node}"
        args.gres = ",".join(entries_of_gres)


def settle_tasks(args: Namespace, gres_gpu: bool) -> None:
    """Sets ``--ntasks-per-node``: one task per GPU, or for a CPU job (``--gpus-per-node 0``) as given, else 1."""
    gpus, tasks = args.gpus_per_node, args.ntasks_per_node
    if gpus == 0:
        if gres_gpu:
            raise UsageError(f"--gres {args.gres} asks for GPUs, --gpus-per-node 0 for none: give one of them")
        if args.mem_per_gpu is not None:
            raise UsageError(
                f"--mem-per-gpu {args.mem_per_gpu} with --gpus-per-node 0: a CPU job has no GPU (use --mem)"
            )
        args.ntasks_per_node = tasks or 1
        return
    if tasks is not None and tasks != gpus:
        raise UsageError(
            f"--ntasks-per-node {tasks} with --gpus-per-node {gpus}: amal starts one task per GPU "
            "(--ntasks-per-node is for a CPU job, --gpus-per-node 0)"
        )
    args.ntasks_per_node = gpus


def directives(args: Namespace, job_name: str, log_name: str, array: Optional[str] = None) -> list[str]:
    """The script's ``#SBATCH`` options, each ``--name=value`` or ``--flag``, from settled options."""
    gres_gpus_given = args.gres is not None and gres_gpus(args.gres)[0] is not None
    if array is not None and getattr(args, "max_parallel", None) is not None:
        array = f"{array}%{args.max_parallel}"

    def written(name: str, value: object) -> list[str]:
        return [] if value is None or value is False else [f"--{name}" if value is True else f"--{name}={value}"]

    return [
        f"--job-name={args.job_name or job_name}",
        *written("array", array),
        f"--nodes={args.nodes}",
        f"--ntasks-per-node={args.ntasks_per_node}",
        *([] if gres_gpus_given or not args.gpus_per_node else [f"--gpus-per-node={args.gpus_per_node}"]),
        *written("gres", args.gres),
        f"--time={args.time}",
        *written("partition", args.partition or None),
        *written("account", args.account or None),
        *written("qos", args.qos),
        *written("cpus-per-task", args.cpus_per_task),
        *written("mem", args.mem),
        *written("mem-per-gpu", args.mem_per_gpu),
        *written("constraint", args.constraint),
        *written("exclusive", args.exclusive),
        *written("mail-type", args.mail_type),
        *written("mail-user", args.mail_user),
        f"--signal=SIGUSR1@{args.signal_lead}",
        "--requeue",
        "--open-mode=append",
        f"--output={log_name}.out",
        f"--error={log_name}.err",
        *(line for key, value in sbatch_entries(args).items() for line in written(key, value or True)),
    ]
