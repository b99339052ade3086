"""Run ``amal`` in-process or as a subprocess, as the tests need."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import numpy as np
from lightning.pytorch.callbacks import Callback

from amal_lightning.command_line.main import main
from amal_lightning.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
AMAL = [str(Path(sys.executable).with_name("amal"))]  # the console script, as a user runs it

# The test settings every in-process run gets unless the test sets them itself: on the CPU (as CI
# runs, and the same numbers on a GPU machine), one device, no progress bar, no model summary.
TEST_SETTINGS = {
    "--trainer.accelerator": "cpu",
    "--trainer.devices": "1",
    "--trainer.enable_progress_bar": "false",
    "--trainer.enable_model_summary": "false",
}


def with_test_settings(args: tuple[str, ...] | list[str]) -> list[str]:
    """``args`` followed by the test settings that they do not set themselves."""
    given = {arg.split("=")[0] for arg in args}
    return [*args, *(f"{name}={value}" for name, value in TEST_SETTINGS.items() if name not in given)]


def run_inprocess(subcommand: str, *args: str) -> None:
    """Runs ``amal SUBCOMMAND ARGS`` quietly in this process (no second import of torch)."""
    main([subcommand, *with_test_settings(args)])


def amal_status(*argv: str, settings: bool = True) -> int:
    """Runs ``amal ARGV`` in this process as the console script would; returns its exit status.

    A status other than 0 is ``SystemExit``'s code; any other exception escapes, as a traceback
    would for a user. ``settings`` adds the test settings to a training command.
    """
    if settings and argv and argv[0] in ("fit", "validate", "test", "predict"):
        argv = (argv[0], *with_test_settings(argv[1:]))
    try:
        main(list(argv))
    except SystemExit as stop:
        return 0 if stop.code is None else stop.code
    return 0


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """The current folder is ``folder`` for the block (a second project beside the test's)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_amal(*args: str, cwd: Path, check: bool = True, timeout: Optional[float] = 600) -> subprocess.CompletedProcess:
    """Runs ``amal ARGS`` as a user would, in a subprocess."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([*AMAL, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"amal {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Easy 28×28 'digits': label k lights up rows 2k+4 to 2k+6, over faint noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28))
    for index, label in enumerate(labels):
        images[index, 2 * label + 4 : 2 * label + 7, 4:24] = 255
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_synthetic_mnist(data_dir: Path, train: int = 600, test: int = 200) -> Path:
    """Puts the four MNIST IDX files, with synthetic digits, where torchvision looks for them."""
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = synthetic_digits(count, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


KILL_FILE = "kill-group.pid"  # in the run's current folder: the process group to kill, written by the test


class KillGroup(Callback):
    """SIGKILLs the process group named in ``kill-group.pid`` once ``processes`` processes of it train at
    epoch ``epoch`` or later, as a node failure would: mid-training, whatever the machine's speed.

    Each process that gets there first waits for the others (each is then half-way through a run,
    with a ``last.ckpt``); the last to arrive takes the file (a rename) and kills the group. With no
    file, nothing happens: a resumed run, given the same options, trains on. The test starts the
    group's leader with ``start_new_session=True`` (:func:`start_to_be_killed`).
    """

    def __init__(self, epoch: int = 10, processes: int = 1) -> None:
        self.epoch, self.processes, self.arrived = epoch, processes, False

    def on_train_epoch_end(self, trainer: object, *args: object) -> None:
        if self.arrived or trainer.current_epoch < self.epoch or not os.path.exists(KILL_FILE):
            return
        self.arrived = True
        Path(f"{KILL_FILE}.arrived.{os.getpid()}").touch()
        deadline = time.monotonic() + 120
        while len(list(Path().glob(f"{KILL_FILE}.arrived.*"))) < self.processes and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            os.rename(KILL_FILE, f"{KILL_FILE}.taken")
        except FileNotFoundError:  # another process of the group took it: it kills this one too
            time.sleep(30)
            return
        os.killpg(int(Path(f"{KILL_FILE}.taken").read_text()), signal.SIGKILL)


class TrainTogether(Callback):
    """Holds a fit at its start until ``processes`` processes have started one (a file each in the current
    folder): processes that share a study's work then each train some of it, whatever their start-up times."""

    def __init__(self, processes: int = 2) -> None:
        self.processes = processes

    def on_train_start(self, *args: object) -> None:
        Path(f"started.{os.getpid()}").touch()
        deadline = time.monotonic() + 120
        while len(list(Path().glob("started.*"))) < self.processes and time.monotonic() < deadline:
            time.sleep(0.01)


def start_to_be_killed(command: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    """Starts ``command`` as the leader of a new process group that :class:`KillGroup` kills."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}  # imports tests.helpers
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, **kwargs)
    (cwd / KILL_FILE).write_text(str(process.pid))
    return process
