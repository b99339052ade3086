"""Whether this process is a SLURM job, and its id: the one test every part of amal uses; whether it is
a task of a job array, and which tasks of its array are still to start."""

import os
import subprocess
import warnings

from lightning.pytorch.plugins.environments import SLURMEnvironment

from amal_lightning.errors import AmalError

# The states of a task that has not started yet, or will start again (squeue --states).
WAITING_STATES = "PENDING,CONFIGURING,REQUEUED,REQUEUE_HOLD,REQUEUE_FED,SUSPENDED"


def in_slurm_job() -> bool:
    """Whether this process runs as a SLURM batch job, as Lightning sees it (the one test used everywhere)."""
    with warnings.catch_warnings():  # asked on a login node, Lightning's answer comes with a hint to use srun
        warnings.filterwarnings("ignore", message=".*The .srun. command is available on your system but is not used")
        return SLURMEnvironment.detect()


def slurm_job_id() -> str:
    """This job's id as ``scontrol`` knows it (``<array job>_<task>`` for an array task)."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]


def in_array_task() -> bool:
    """Whether this process is a task of a SLURM job array (``amal study --submit``'s)."""
    return in_slurm_job() and "SLURM_ARRAY_JOB_ID" in os.environ


def waiting_array_tasks() -> list[str]:
    """The tasks of this process's job array that are still to start (pending, requeued, held), as
    ``squeue`` sees them: while any is, this task does not end the array. Raises AmalError if squeue fails."""
    array_job = os.environ["SLURM_ARRAY_JOB_ID"]
    command = ["squeue", "--noheader", "--array", "--jobs", array_job, "--states", WAITING_STATES, "--format", "%i"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AmalError(f"squeue: cannot ask it which tasks of job array {array_job} wait ({error})") from None
    if result.returncode != 0:
        reason = (result.stderr.strip() or f"exit code {result.returncode}").splitlines()[0]
        raise AmalError(f"squeue: cannot ask it which tasks of job array {array_job} wait ({reason})")
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]
