"""``amal study --jobs N``: N worker processes train a study's variants at once, on one machine.

Each worker is ``amal study ... --worker``: it imports torch and Lightning once and runs variants
in-process one after another, as a plain ``amal study`` does, skipping those another worker has
claimed (:mod:`amal_lightning.runs.claims`, the rule the tasks of a job array follow too). So the
records, the resumption after a kill and the progress lines are those of one process; a line is
printed as each variant ends, in the order they end, with its index.

On a CPU each worker gets its share of the cores (``torch.set_num_threads``, ``--threads``); with
GPUs each worker gets one device (``CUDA_VISIBLE_DEVICES``). ``--jobs auto`` is one worker per GPU,
or on a machine without one, one per core. The process that started them gathers the summary and
the figures once they have all ended. Ctrl+C reaches every worker: each ends its variant's step,
leaves it to be resumed, and the command exits with status 130.
"""

import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Optional, Union

from amal_lightning.errors import INTERRUPTED_EXIT_STATUS, AmalError

Jobs = Union[int, str]  # a number of workers, or "auto"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def gpu_count() -> int:
    import torch  # here: only a study that runs workers asks, and it has imported torch to check its variants

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def worker_count(jobs: Jobs, variants: int) -> int:
    """How many workers to start: ``jobs`` (``auto``: one per GPU, else one per core), never more than variants."""
    if jobs == "auto":
        jobs = gpu_count() or available_cores()
    if not isinstance(jobs, int) or jobs < 1:
        raise AmalError(f"--jobs {jobs}: expected a positive number of workers or auto")
    return max(1, min(jobs, variants))


def threads_per_worker(workers: int, threads: Union[int, None]) -> int:
    """The torch threads of each worker: ``threads`` if given, else its share of the cores."""
    return threads if threads is not None else max(1, available_cores() // workers)


def run_workers(worker_argv: Sequence[str], workers: int, threads: int) -> int:
    """Starts ``workers`` processes of ``amal study WORKER_ARGV --worker``, waits for them; returns the exit status.

    Their output goes straight to this process's: each prints whole lines, as each variant ends.
    """
    gpus = gpu_count()
    processes = []
    for index in range(workers):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(index % gpus)
        command = [sys.executable, "-m", "amal_lightning", "study", *worker_argv]
        processes.append(subprocess.Popen(command, env=env))
    statuses = []
    for process in processes:
        while True:
            try:
                statuses.append(process.wait())
                break
            except KeyboardInterrupt:  # Ctrl+C reached the workers too: wait for them to stop their steps
                continue
    if INTERRUPTED_EXIT_STATUS in statuses:
        return INTERRUPTED_EXIT_STATUS
    return max(statuses, default=0)


def start_workers(own: Sequence[str], fit_options: Sequence[str], workers: int, threads: Optional[int]) -> int:
    """``amal study OWN --worker -- FIT_OPTIONS`` in ``workers`` processes (``threads`` torch threads each, by
    default their share of the cores); the exit status."""
    share = threads_per_worker(workers, threads)
    # several fits at once: no progress bars drawn over one another (not part of a variant's identity)
    fit = [*fit_options, "--trainer.enable_progress_bar=false"]
    return run_workers([*own, "--worker", "--threads", str(share), "--", *fit], workers, share)
