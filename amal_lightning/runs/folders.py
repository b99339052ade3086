"""Run folders: where a run's checkpoints and logs go, and which checkpoint a run resumes from.

Every run has a name shared by its TensorBoard folder ``logs/<experiment>/<run>`` and its
checkpoint folder ``checkpoints/<experiment>/<run>``:

- ``<experiment>`` is ``--experiment`` if given, else the last ``--config`` file's stem;
- ``<run>`` is ``version_N`` (the first N free under both folders), or ``slurm-<job id>``
  inside a SLURM job, so that a requeued job finds its own folder again.

A run folder holds ``last.ckpt`` (the latest state, for resuming), ``best.ckpt`` (the lowest
validation loss) and, on a SLURM cluster, ``hpc_ckpt_N.ckpt`` (saved on the signal that comes
before the time limit). ``--ckpt_path last`` (or ``best``) picks the newest such file of the
experiment. A new run never writes into an earlier run's folders; a fit resumed from a run's
latest state (``last.ckpt`` or ``hpc_ckpt_N.ckpt``) goes on in that run's folders, so its curves
continue and its best checkpoint still competes with the earlier epochs. A test, validation or
prediction of a run's checkpoint is named after that run: ``<run>/<command>-<checkpoint>-<k>``
(``version_0/predict-best-0``), its logs in ``logs/<experiment>/version_0/``, its predictions in
``predictions/<experiment>/version_0/``, the k-th of that checkpoint's kept apart from the others.

:func:`plan_run` decides all of this from the parsed options and the files on disk, and
changes nothing.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Union

from amal_lightning.errors import AmalError
from amal_lightning.runs.checkpoint_files import read_checkpoint

LOG_DIR = Path("logs")
PREDICTION_DIR = Path("predictions")  # amal predict's files, named as the run's logs
EVALUATIONS = ("test", "validate", "predict")  # the commands that evaluate a checkpoint without training
DEFAULT_CHECKPOINT_ROOT = Path("checkpoints")  # `--checkpoint_dir`
LAST = "last"
BEST = "best"
CHECKPOINT_SUFFIX = ".ckpt"
HPC_PREFIX = "hpc_ckpt_"
DIVERGED_FILE = "diverged.json"  # in a run's checkpoint folder when its training diverged (callbacks/divergence)
HPC_PATTERN = re.compile(rf"^{HPC_PREFIX}(\d+)\{CHECKPOINT_SUFFIX}$")
VERSION_PATTERN = re.compile(r"^version_(\d+)$")
NUMBERED = re.compile(r"^(.*?)(\d+)$")  # a run name ending in its number, which a claim moves on
# An experiment's name: a plain folder name, so nothing is written outside the run folders (no "..", "/", ".x").
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
# Set by a multi-device run's first process: those it starts parse the command line again, and take its run folder.
RUN_NAME_VARIABLE = "AMAL_RUN_NAME"

PathLike = Union[str, Path]


@dataclass(frozen=True)
class RunPlan:
    """What :func:`plan_run` decided: the run's name and folders, and the checkpoint to load."""

    experiment: str
    name: str
    checkpoint_dir: Path
    ckpt_path: Optional[Path]
    # the checkpoint's model hyperparameters, as saved (None without a checkpoint)
    hyperparameters: Optional[dict[str, Any]] = None
    # a fresh version_N (or k of an evaluation's name), which claim_run_folders may move on to the next free one
    new_version: bool = False
    # the shape of each tensor of the checkpoint's state_dict (None without a checkpoint)
    weight_shapes: Optional[dict[str, tuple[int, ...]]] = None
    # a fit going on in its own run from its latest state: the step it resumes at, whose later log points it drops
    resumed_step: Optional[int] = None

    @property
    def log_dir(self) -> Path:
        return LOG_DIR / self.experiment / self.name


def next_hpc_checkpoint(folder: Path) -> Path:
    """The next free ``hpc_ckpt_N.ckpt`` in ``folder`` (N counts from 1): the name Lightning looks for when a
    requeued SLURM job starts."""
    numbers = [int(match.group(1)) for path in folder.glob("*") if (match := HPC_PATTERN.match(path.name))]
    return folder / f"{HPC_PREFIX}{max(numbers, default=0) + 1}{CHECKPOINT_SUFFIX}"


def is_latest_state(path: Path) -> bool:
    """Whether ``path`` is a run's latest state (``last.ckpt`` or ``hpc_ckpt_N.ckpt``), from which it resumes."""
    return path.name == LAST + CHECKPOINT_SUFFIX or HPC_PATTERN.match(path.name) is not None


def experiment_name(config_files: Optional[Sequence[Any]], override: Optional[str]) -> str:
    """``--experiment`` if given, else the stem of the last ``--config`` file, else ``default``.

    Either must be a plain folder name (letters, digits, ``.``, ``_``, ``-``, not starting with ``.``).
    """
    config_files = [file for file in config_files or () if file is not None]  # None: a config given inline
    if override is not None:
        name, where = override, "--experiment"
    elif config_files:
        name, where = Path(str(config_files[-1])).stem, f"--config {config_files[-1]}"
    else:
        return "default"
    if not PLAIN_NAME.match(name):
        raise AmalError(
            f"{where}: {name!r} is not a plain folder name for the experiment "
            "(letters, digits, '.', '_' and '-', not starting with '.')"
        )
    return name


def next_free(start: str, *folders: Path) -> str:
    """``<start>N`` with the first N not used by a child of any of ``folders``."""
    numbers = [
        int(child.name[len(start) :])
        for folder in folders
        if folder.is_dir()
        for child in folder.iterdir()
        if child.name.startswith(start) and child.name[len(start) :].isdigit()
    ]
    return f"{start}{max(numbers, default=-1) + 1}"


def evaluation_name(command: str, checkpoint: Path, experiment: str) -> str:
    """``<run>/<command>-<checkpoint stem>-<k>``, k the first number free in the run's logs and predictions."""
    run = checkpoint.resolve().parent.name
    folders = (LOG_DIR / experiment / run, PREDICTION_DIR / experiment / run)
    return f"{run}/{next_free(f'{command}-{checkpoint.stem}-', *folders)}"


def newest_state(folder: Path) -> Optional[Path]:
    """The most recently written ``last.ckpt`` or ``hpc_ckpt_N.ckpt`` in ``folder``, if any."""
    candidates = [path for path in folder.glob(f"*{CHECKPOINT_SUFFIX}") if is_latest_state(path)]
    return max(candidates, key=lambda path: path.stat().st_mtime, default=None)


def newest_checkpoint(experiment_dir: Path, which: str) -> Path:
    """The most recently written ``last`` (or ``best``) checkpoint among the experiment's runs.

    For ``last``, a checkpoint saved on a SLURM signal counts too: it is the latest state of its
    run. Runs whose training diverged are passed over.
    """
    if which == LAST:
        candidates = [path for path in experiment_dir.glob(f"*/*{CHECKPOINT_SUFFIX}") if is_latest_state(path)]
    else:
        candidates = list(experiment_dir.glob(f"*/{which}{CHECKPOINT_SUFFIX}"))
    candidates = [path for path in candidates if not (path.parent / DIVERGED_FILE).exists()]
    if not candidates:
        raise AmalError(
            f"--ckpt_path {which}: no {which}.ckpt under {experiment_dir}/ of a run that did not diverge "
            "(train first, or pass a checkpoint file)"
        )
    return max(candidates, key=lambda path: path.stat().st_mtime)


def plan_run(
    subcommand: Optional[str],
    config_files: Optional[Sequence[Any]],
    experiment: Optional[str],
    checkpoint_root: PathLike,
    ckpt_path: Optional[str],
    slurm_job_id: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> RunPlan:
    """Decides a run's name and folders and the checkpoint it loads, from the options and the files on disk:
    ``subcommand`` (fit, validate, test, predict, or None), the ``--config`` files in order, ``--experiment``,
    ``--checkpoint_dir`` (a folder per experiment), ``--ckpt_path`` (a file, ``last``, ``best``, ``hpc`` or None),
    this SLURM job's id (None outside one) and the environment (a multi-device run's processes share a name)."""
    environ = environ or {}
    experiment = experiment_name(config_files, experiment)
    experiment_dir = Path(checkpoint_root) / experiment
    if ckpt_path == "hpc" and slurm_job_id is None:
        raise AmalError("--ckpt_path hpc: only inside a SLURM job (elsewhere `--ckpt_path last` finds its checkpoints)")
    checkpoint: Optional[Path] = None
    if ckpt_path in (LAST, BEST):
        checkpoint = newest_checkpoint(experiment_dir, ckpt_path)
    elif ckpt_path not in (None, "hpc"):
        checkpoint = Path(ckpt_path)
    saved = None if checkpoint is None else read_checkpoint(checkpoint)

    # Resuming a run from its latest state goes on in its folders; anything else starts a new
    # run, so that no earlier checkpoint is overwritten.
    resumed_run = None
    of_this_experiment = checkpoint is not None and checkpoint.resolve().parent.parent == experiment_dir.resolve()
    if subcommand == "fit" and of_this_experiment and is_latest_state(checkpoint):
        resumed_run = checkpoint.resolve().parent.name
    evaluation = subcommand in EVALUATIONS and of_this_experiment and "LOCAL_RANK" not in environ
    if resumed_run is not None:
        name = resumed_run
    elif "LOCAL_RANK" in environ and RUN_NAME_VARIABLE in environ:
        name = environ[RUN_NAME_VARIABLE]
    elif evaluation:
        name = evaluation_name(subcommand, checkpoint, experiment)
    elif slurm_job_id is not None:
        name = f"slurm-{slurm_job_id}"
    else:
        name = next_free("version_", experiment_dir, LOG_DIR / experiment)
    fresh = evaluation or VERSION_PATTERN.match(name) is not None
    new_version = fresh and name != resumed_run and "LOCAL_RANK" not in environ
    run_dir = experiment_dir / name

    if subcommand == "fit" and slurm_job_id is not None:
        # A requeued job (time limit, preemption, node failure) finds its run folder again and goes
        # on from the newest state saved there, whatever checkpoint it first started from.
        state = newest_state(run_dir)
        if state is not None:
            saved, checkpoint = read_checkpoint(state), state
        elif ckpt_path == "hpc":
            raise AmalError(f"--ckpt_path hpc: no {HPC_PREFIX}N.ckpt in {run_dir}/ yet")
    if saved is None:
        return RunPlan(experiment, name, run_dir, checkpoint, None, new_version)
    shapes = {key: tuple(value.shape) for key, value in saved["state_dict"].items() if hasattr(value, "shape")}
    own_state = subcommand == "fit" and is_latest_state(checkpoint) and checkpoint.resolve().parent == run_dir.resolve()
    step = saved.get("global_step") if own_state else None
    hyperparameters = saved.get("hyper_parameters", {})
    return RunPlan(experiment, name, run_dir, checkpoint, hyperparameters, new_version, shapes, step)


def claim_run_folders(plan: RunPlan, checkpoints: bool, logs: bool) -> RunPlan:
    """Creates the run's folders; a new ``version_N`` is taken atomically, or the next number is tried.

    Two runs started at the same moment (on one machine, or on nodes sharing a filesystem) both
    see ``version_N`` free; the exclusive ``mkdir`` lets exactly one of them have it.
    """
    while True:
        folders = [folder for folder, wanted in ((plan.checkpoint_dir, checkpoints), (plan.log_dir, logs)) if wanted]
        try:
            for folder in folders:
                folder.parent.mkdir(parents=True, exist_ok=True)
                if folder.parent.is_dir() and folder.exists() and not folder.is_dir():
                    raise NotADirectoryError(20, "exists and is not a folder", str(folder))
                folder.mkdir(exist_ok=not plan.new_version)
            return plan
        except FileExistsError as error:
            if not (plan.new_version and folder.parent.is_dir() and folder.is_dir()):
                raise AmalError(f"{error.filename or folder}: cannot create the run folder (not a folder)") from None
            start, number = NUMBERED.match(plan.name).groups()
            name = f"{start}{int(number) + 1}"
            plan = replace(plan, name=name, checkpoint_dir=plan.checkpoint_dir.parent / Path(name).name)
        except OSError as error:
            raise AmalError(f"{error.filename or folder}: cannot create the run folder ({error.strerror})") from None


def release_run_folders(plan: RunPlan) -> None:
    """Removes a new run's folders if nothing was written in them (the run failed at once)."""
    if not plan.new_version:
        return
    for folder in (plan.checkpoint_dir, plan.log_dir):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
