"""``amal study ... --submit``: a study as one SLURM job array, one task per variant.

The script is ``amal submit``'s (:func:`amal_lightning.slurm.sbatch_script`: the allocation, the
signal before the time limit, requeueing, the set-up lines, the absolute path of ``amal``), with
three changes: ``#SBATCH --array=0-(K-1)``, output files named by array job and task
(``%A_%a``), and each task running its variant::

    srun /path/to/amal study configs/studies/X.yaml --variant-index "$SLURM_ARRAY_TASK_ID" -- \\
        --trainer.accelerator gpu --trainer.strategy ddp --trainer.num_nodes 1 --trainer.devices 1

Requeueing and the checkpoint on SIGUSR1 work per task, as for ``amal submit``: each task's run
is ``slurm-<array job>_<task>``. ``amal plot --study NAME`` gathers the summary and draws the
figures from what the tasks have logged, at any time; the same ``amal study`` command without
``--submit`` does too once every task is done, but it would train here any variant not finished.
"""

import argparse
import shlex
from pathlib import Path

from amal_lightning.cluster.sbatch import RESERVED_JOB_NAMES, amal_command, check_one_line, sbatch_script, submit_script
from amal_lightning.errors import AmalError, first_line
from amal_lightning.studies.spec import Study

TASK_INDEX = '"$SLURM_ARRAY_TASK_ID"'


def setup_lines(args: argparse.Namespace) -> list[str]:
    lines = list(args.setup)
    if args.setup_file is not None:
        try:
            lines += args.setup_file.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise AmalError(f"--setup-file {args.setup_file}: cannot read it as text ({first_line(error)})") from None
    return lines


def array_script(args: argparse.Namespace, study: Study, study_args: list[str], fit_options: list[str]) -> str:
    """The job array's script: ``amal submit``'s, with one task per variant of the study."""
    if study.name in RESERVED_JOB_NAMES:
        raise AmalError(f"study {study.name!r}: a job of that name is not seen as a batch job by Lightning")
    amal, lines = amal_command(), setup_lines(args)
    for option, value in [("the path of amal", amal), ("the current folder", str(Path.cwd()))] + [
        ("--setup", line) for line in lines
    ]:
        check_one_line(option, value)
    for word in [*study_args, *fit_options]:
        check_one_line("an option of amal study", word)
    script = sbatch_script(args, study.name, lines, fit_options, amal)
    fit = f"srun {amal} {shlex.join(['fit', '--config', str(args.config)])} "
    task = f"srun {amal} {shlex.join(['study', *study_args])} --variant-index {TASK_INDEX} -- "
    directive = f"#SBATCH --job-name={study.name}\n"
    if script.count(fit) != 1 or script.count(directive) != 1:
        raise AmalError("amal submit's script has changed shape: amal_lightning/studies/array.py must follow it")
    last = len(study.variants) - 1
    script = script.replace(fit, task).replace(directive, f"{directive}#SBATCH --array=0-{last}\n")
    script = script.replace(f"{study.name}-%j.", f"{study.name}-%A_%a.")
    note = (
        f"# Written by `amal study --submit`: task i of the array runs variant i of {len(study.variants)}; "
        f"`amal plot --study {study.name}` gathers them.\n"
    )
    return script.replace("set -euo pipefail\n", note + "set -euo pipefail\n", 1)


def submit_array(study: Study, script: str) -> None:
    """Writes ``slurm/<study>-array-<time>.sbatch`` and hands it to ``sbatch``, as ``amal submit`` does."""
    answer = submit_script(script, f"{study.name}-array")
    print(f"{answer} ({len(study.variants)} tasks; then `amal plot --study {study.name}` gathers them)")
