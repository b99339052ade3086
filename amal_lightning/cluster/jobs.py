"""Whether this process is a SLURM job, and its id: the one test every part of amal uses."""

import os

from lightning.pytorch.plugins.environments import SLURMEnvironment


def in_slurm_job() -> bool:
    """Whether this process runs as a SLURM batch job, as Lightning sees it (the one test used everywhere)."""
    return SLURMEnvironment.detect()


def slurm_job_id() -> str:
    """This job's id as ``scontrol`` knows it (``<array job>_<task>`` for an array task)."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ["SLURM_JOB_ID"]
