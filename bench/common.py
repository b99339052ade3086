"""What the benchmarks share: where the repository is, how their child processes start, what
machine they ran on, the MNIST data, models and losses every route trains with, TensorBoard's
times, and the ratios their tables report.

Each benchmark module imports from here and from no other benchmark module.
"""

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
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
    """The CPU, its cores, torch's version and default threads, and the GPU if any: the line under each table."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        cpu = names[0] if names else cpu
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads by default)"
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name()}"
    return text


def load_average() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, as the tables quote them."""
    return "/".join(f"{load:.2f}" for load in os.getloadavg())


def synthetic_mnist(data_dir: Path, train: int, test: int) -> None:
    """MNIST's four IDX files in ``data_dir/MNIST/raw``, random pixels and labels of the real sizes.

    An epoch's time does not depend on what the pixels show, and no route needs a download.
    """
    from amal_lightning.data.idx import write_idx

    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count, dtype=np.uint8))


def build_model(name: str, hidden_dim: int = 256, compile: bool | str = False) -> torch.nn.Module:
    """The same modules the project's LightningModules hold, so that every route trains the same network.

    ``compile`` is the models' own option (``false``, ``default``, ``reduce-overhead``, ``cuda_graphs``).
    """
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


VAL_FRACTION = 1 / 12  # of the training images, held out for validation as MNISTDataModule does


def split(num_train: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The hand-written routes' training and validation rows: a fixed draw of the same sizes as amal's."""
    order = torch.randperm(num_train, generator=torch.Generator().manual_seed(0))
    num_val = round(VAL_FRACTION * num_train)
    return order[num_val:], order[:num_val]


def timed_epochs(
    name: str, epochs: int, model: torch.nn.Module, train_batches: Callable, val_batches: Callable
) -> dict[str, list[float]]:
    """Trains the model ``name`` and validates it ``epochs`` times; each epoch's seconds but the first's.

    Both hand-written routes share this loop, so they differ only in how their batches arrive;
    ``train_batches()`` and ``val_batches()`` give one epoch's ``(x, y)`` pairs on the device.
    """
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    stamps = [(time.perf_counter(), time.process_time())]
    for _ in range(epochs):
        model.train()
        for x, y in train_batches():
            loss = training_loss(name, model, x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():  # the validation amal does too: loss, and accuracy or MSE
            totals, count = torch.zeros(2, device=device), 0
            for x, y in val_batches():
                totals += torch.stack(loss_and_metric(name, model, x, y)) * len(x)
                count += len(x)
            (totals / count).tolist()
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append((time.perf_counter(), time.process_time()))
    return {**epoch_gaps(stamps[1:]), "first": stamps[1][0] - stamps[0][0]}


def epoch_gaps(stamps: list[tuple[float, float]]) -> dict[str, list[float]]:
    """From the (wall-clock, CPU) stamps of consecutive epochs' ends, each epoch's seconds of both."""
    pairs = list(zip(stamps, stamps[1:], strict=False))
    return {"times": [b[0] - a[0] for a, b in pairs], "cpu": [b[1] - a[1] for a, b in pairs]}


class EpochClock(L.Callback):
    """Stamps the end of each training epoch (its validation done): wall-clock and this process's CPU time.

    The ``amal`` and ``lightning`` routes both carry it (amal through ``--trainer.callbacks+=``), so
    both are timed at the same point of Lightning's loop. CPU time shows less of the other
    processes of a shared machine than the wall-clock does; both are reported.
    """

    last: "EpochClock | None" = None  # the child process's clock, read once its fit is over

    def __init__(self) -> None:
        self.stamps: list[tuple[float, float]] = []
        self.started = time.perf_counter()  # the first epoch's time (with a compilation) counts from here
        EpochClock.last = self

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()  # before the sanity check, whose forward pass may compile

    def epochs(self) -> dict[str, list[float]]:
        """The timed epochs, and ``first``: the seconds of the first epoch, start of training to its end."""
        return {**epoch_gaps(self.stamps), "first": self.stamps[0][0] - self.started}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()  # nothing else may wait for the epoch's last kernels
        self.stamps.append((time.perf_counter(), time.process_time()))


def median_seconds(runs: list[dict], key: str = "times", average: Callable = statistics.median) -> float:
    """The median epoch over all the runs of one route: wall-clock (``times``) or CPU (``cpu``) seconds.

    ``average=statistics.fmean`` gives the mean instead: the total time over the epochs, which
    counts the epochs that write a checkpoint or a file as well (bench/housing.py)."""
    return average([t for run in runs for t in run[key]])


def round_ratios(
    runs: list[dict], baseline_runs: list[dict], key: str = "times", average: Callable = statistics.median
) -> list[float]:
    """Each run's median epoch over that of the baseline's run of the same round (alternating runs
    side by side): the spread that the machine's noise leaves in a ratio."""
    return [average(run[key]) / average(base[key]) for run, base in zip(runs, baseline_runs, strict=False)]


def ratio_line(
    results: dict[str, list[dict]], route: str, baseline: str, average: Callable = statistics.median
) -> str | None:
    """``route / baseline``, wall-clock then CPU: the ratio of their median epochs, then round by round."""
    if not results.get(route) or not results.get(baseline):
        return None
    parts = []
    for key, label in (("times", "wall-clock"), ("cpu", "CPU")):
        rounds = round_ratios(results[route], results[baseline], key, average)
        overall = median_seconds(results[route], key, average) / median_seconds(results[baseline], key, average)
        listed = ", ".join(f"{ratio:.3f}" for ratio in rounds)
        parts.append(f"{label} {overall:.3f} (rounds {listed}; median {statistics.median(rounds):.3f})")
    return f"- {route} / {baseline}: " + "; ".join(parts)


def first_epoch(runs: list[dict]) -> str:
    """The median over the runs of the first epoch's seconds (start-up, data and any compilation)."""
    firsts = [run["first"] for run in runs if run.get("first") is not None]
    return f"{statistics.median(firsts):.2f}" if firsts else "n/a"


def route_table(results: dict[str, list[dict]], routes: tuple[str, ...], baseline: str) -> list[str]:
    """The table's lines: per route its median epoch, against ``baseline``'s, and the peak memories."""

    def peak(route: str, key: str) -> str:
        values = [run[key] for run in results[route] if run.get(key) is not None]
        return f"{max(values):.0f}" if values else "n/a"

    lines = [
        f"| route | s/epoch (median) | × {baseline} | × {baseline}, round by round | CPU s/epoch | first epoch (s)"
        " | peak RSS (MB) | peak CUDA (MB) |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    base = results.get(baseline)
    for route in routes:
        if not results.get(route):
            continue
        seconds = median_seconds(results[route])
        ratio = f"{seconds / median_seconds(base):.2f}" if base else "n/a"
        rounds = ", ".join(f"{r:.2f}" for r in round_ratios(results[route], base)) if base else ""
        lines.append(
            f"| {route} | {seconds:.3f} | {ratio} | {rounds} | {median_seconds(results[route], 'cpu'):.3f}"
            f" | {first_epoch(results[route])} | {peak(route, 'peak_rss_mb')} | {peak(route, 'peak_cuda_mb')} |"
        )
    return lines
