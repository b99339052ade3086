"""What the benchmarks share: where the repository is, how their child processes start, what
machine they ran on, the MNIST models and losses both sides train with, and TensorBoard's times.

Each benchmark module imports from here and from no other benchmark module.
"""

import os
import platform
import subprocess
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[1]
# `amal` as a child process: through the interpreter running the benchmark, not whatever is on PATH.
AMAL = [sys.executable, "-m", "amal_lightning"]


def child_env() -> dict[str, str]:
    """The environment of a benchmark's child process: this repository importable from any folder."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def run_process(command: list[str], workdir: Path) -> tuple[str, float]:
    """Runs ``command`` in ``workdir`` (where ``amal`` writes its logs and checkpoints) and returns its
    output, stdout and stderr together, and its peak RSS in MB; raises RuntimeError with the output's end.

    The output goes to a file, not a pipe, so that a talkative child cannot block; ``wait4`` gives the
    resource usage of this child alone, not of every child the benchmark has run.
    """
    output = workdir / "child-output.txt"
    with output.open("w") as sink:
        child = subprocess.Popen(command, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT, env=child_env())
        _, status, usage = os.wait4(child.pid, 0)
    text = output.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{text[-3000:]}")
    return text, usage.ru_maxrss / 1024


def machine() -> str:
    """The CPU, its cores, torch's version and threads, and the GPU if any: the line under each table."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = names[0] if names else cpu
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name()}"
    return text


def train_loss_wall_times(log_dir: Path) -> list[float]:
    """When each epoch's ``train/loss`` was written to TensorBoard by an ``amal`` run: its epochs' ends."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return [event.wall_time for event in events.Scalars("train/loss")]


def build_model(name: str, hidden_dim: int = 256, compile: bool = False) -> torch.nn.Module:
    """The same modules the project's LightningModules hold, so that both sides train the same network."""
    from amal_lightning.tme3 import Autoencoder, Classifier

    if name == "classifier":
        return Classifier(hidden_dim=hidden_dim, compile=compile)
    return Autoencoder(compile=compile)


def training_loss(name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss ``amal fit`` minimizes: cross-entropy (classifier) or pixel BCE (autoencoder)."""
    if name == "classifier":
        return F.cross_entropy(model(x), y)
    return F.binary_cross_entropy_with_logits(model.reconstruction_logits(x), x)


def loss_and_metric(
    name: str, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation loss and the accuracy (classifier) or pixel MSE (autoencoder), as ``amal`` logs them."""
    if name == "classifier":
        logits = model(x)
        return F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()
    logits = model.reconstruction_logits(x)
    return F.binary_cross_entropy_with_logits(logits, x), F.mse_loss(torch.sigmoid(logits), x)
