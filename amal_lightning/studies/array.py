"""``amal study ... --submit``: a study as one SLURM job array, one task per variant.

The script is ``amal submit``'s (:func:`amal_lightning.cluster.sbatch.sbatch_script`: the allocation,
the signal before the time limit, requeueing, the set-up lines, the absolute path of ``amal``), asked
for as a job array: ``#SBATCH --array=0-(K-1)``, output files named by array job and task
(``%A_%a``), at most ``--max-parallel`` of them at once (``--array=0-(K-1)%N``), and each task
running its variant::

    srun /path/to/amal study configs/studies/X.yaml --variant-index "$SLURM_ARRAY_TASK_ID" -- \\
        --trainer.accelerator gpu --trainer.strategy ddp --trainer.num_nodes 1 --trainer.devices 1

Requeueing and the checkpoint on SIGUSR1 work per task, as for ``amal submit``: each task's run
is ``slurm-<array job>_<task>``. The array gathers its own study: the task that ends last writes the
summary, the comparisons and the figures, with no command typed. A task ends last when no other
process is at work on the study's variants (their claims, :mod:`amal_lightning.runs.claims`) and no
task of its array is still to start (``squeue``: pending, requeued or held); of two tasks ending at
once, the second gathers after the first has written its files, not beside it. A search's workers do
the same: the last to end writes its summary.
``amal plot --study NAME`` gathers what the tasks have logged at any time.
"""

import shlex
from typing import Optional

from jsonargparse import Namespace

from amal_lightning.cluster.directives import RESERVED_JOB_NAMES
from amal_lightning.cluster.sbatch import (
    amal_command,
    check_one_line,
    job_options,
    sbatch_script,
    setup_lines,
    submit_script,
)
from amal_lightning.cluster.submission import ARRAY, parse_submission
from amal_lightning.errors import AmalError
from amal_lightning.studies.gathering import save_study
from amal_lightning.studies.spec import Study

TASK_INDEX = '"$SLURM_ARRAY_TASK_ID"'


def array_script(
    args: Namespace, study: Study, study_args: list[str], fit_options: list[str], workers: Optional[int] = None
) -> str:
    """The job array's script: ``amal submit``'s, with one task per variant of the study (``args``: its options),
    or for a search, ``workers`` tasks, each a worker taking trials until the search has its ``n_trials``."""
    if args.job_name is None and study.name in RESERVED_JOB_NAMES:
        raise AmalError(f"study {study.name!r}: a job of that name is not seen as a batch job by Lightning")
    lines = setup_lines(args)
    for word in [*study_args, *fit_options]:
        check_one_line("an option of amal study", word)
    study_command = shlex.join(["study", *study_args])
    task = f"{study_command} --variant-index {TASK_INDEX} -- {shlex.join([*job_options(args), *fit_options])}"
    note = (
        f"# Written by `amal study --submit`: task i of the array runs variant i of {len(study.variants)}; "
        "the last task to end writes the study's summary and figures."
    )
    array = f"0-{len(study.variants) - 1}"
    if workers is not None:  # a search: every task a worker of the same search; the last to end gathers
        task = f"{study_command} -- {shlex.join([*job_options(args), *fit_options])}"
        note = (
            f"# Written by `amal study --submit`: {workers} workers of the search {study.name}, one per task; "
            "the last to end writes its summary."
        )
        array = f"0-{workers - 1}"
    return sbatch_script(args, study.name, lines, amal_command(), task, array=array, note=[note])


def submit_array(study: Study, script: str, tasks: Optional[int] = None) -> None:
    """Writes ``slurm/<study>-array-<time>.sbatch`` and hands it to ``sbatch``, as ``amal submit`` does."""
    answer = submit_script(script, f"{study.name}-array")
    where = f"into {study.folder}/, or `amal plot --study {study.name}` at any time"
    said = f"{tasks} workers" if tasks is not None else f"{len(study.variants)} tasks"  # a search's workers, or
    written = "the summary" if tasks is not None else "the summary and figures"  # a task per variant
    print(f"{answer} ({said}; the last to end writes {written} {where})")


def last_array_task(study: Study) -> bool:
    """Whether this process is a task of the study's job array that no other task will follow (none is still
    to start), and so gathers the study; says why not, or that squeue cannot say and it gathers anyway."""
    from amal_lightning.cluster.jobs import in_array_task, waiting_array_tasks  # imports Lightning

    if not in_array_task():
        return False
    try:
        waiting = waiting_array_tasks()
    except AmalError as error:
        print(f"{study.name}: {error}; gathering what has ended (a later task gathers again)", flush=True)
        return True
    if waiting:
        print(f"{study.name}: {len(waiting)} task(s) of the array still to start; the last to end gathers", flush=True)
        return False
    return True


def submit_study(study: Study, cluster_words: list[str], naming: list[str], fit_options: list[str]) -> None:
    """``amal study ... --submit CLUSTER_WORDS``: the job array's script printed (``--dry-run``), or the study
    saved and the array submitted: one task per variant, or for a search one per ``--workers``."""
    search = study.search is not None
    # the cluster options need a config; the study has its own (a grid's first variant's stands in)
    config = study.config if search else study.variants[0].config
    slurm = parse_submission([*cluster_words, "--config", str(config)], prog=ARRAY, array=True, workers=search)
    workers = slurm.workers if search else None
    script = array_script(slurm, study, naming, fit_options, workers=workers)
    if slurm.dry_run:
        print(script, end="")
        return
    save_study(study)
    submit_array(study, script, tasks=workers)
