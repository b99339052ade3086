"""Epochs per second of full-batch gradient descent on the housing data: ``amal fit`` against a hand-written loop.

``configs/regression.yaml`` runs hundreds of epochs of one step each, so what Lightning does per
epoch (loops, logging, checkpoints, progress bar, validation) is most of the time. Both routes do
the same work per epoch: one gradient step on the whole training split (w -= 0.1 * grad), the
validation loss, both losses written to TensorBoard, and a checkpoint at the end (amal also keeps
``best.ckpt``, rewritten whenever the validation loss improves: the first 25 or so epochs here).
Each run is a child process of its own; the routes alternate; the rate leaves out start-up (for ``amal``, it is
taken from the wall times of the TensorBoard events of the first and last epochs).

    python -m bench.housing --repeats 5
    python -m bench.housing --amal-args --trainer.enable_checkpointing=false   # what a setting costs
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from bench.common import AMAL, REPO, machine, run_process, train_loss_wall_times

LEARNING_RATE = 0.1


def run_hand(epochs: int, log_dir: str) -> float:
    """The loop a user would write: epochs per second, first epoch excluded."""
    from torch.utils.tensorboard import SummaryWriter

    from amal_lightning.data import HousingDataModule

    data = HousingDataModule(batch_size="full")
    data.setup("fit")
    x, y = data.train_set.tensors
    x_val, y_val = data.val_set.tensors
    torch.manual_seed(0)
    weight = (torch.randn(x.shape[1], 1) * 0.01).requires_grad_()
    bias = torch.zeros(1, requires_grad=True)
    writer = SummaryWriter(log_dir)
    start = 0.0
    for epoch in range(epochs):
        if epoch == 1:
            start = time.perf_counter()
        loss = F.mse_loss(x @ weight + bias, y)
        loss.backward()
        with torch.no_grad():
            for parameter in (weight, bias):
                parameter -= LEARNING_RATE * parameter.grad
                parameter.grad = None
            val_loss = F.mse_loss(x_val @ weight + bias, y_val)
        writer.add_scalar("train/loss", loss.item(), epoch)
        writer.add_scalar("val/loss", val_loss.item(), epoch)
    rate = (epochs - 1) / (time.perf_counter() - start)
    torch.save({"weight": weight, "bias": bias, "epoch": epochs}, Path(log_dir) / "last.ckpt")
    writer.close()
    return rate


def amal_rate(log_dir: Path) -> float:
    stamps = train_loss_wall_times(log_dir)
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def measure(route: str, args: argparse.Namespace) -> float:
    with tempfile.TemporaryDirectory() as workdir:
        if route == "amal":
            command = [
                *AMAL,
                "fit",
                "--config",
                str(REPO / "configs" / "regression.yaml"),
                f"--trainer.max_epochs={args.epochs}",
                *args.amal_args,
            ]
        else:
            command = [sys.executable, "-m", "bench.housing", "--child", f"--epochs={args.epochs}"]
        output, _ = run_process(command, Path(workdir))
        if route == "amal":
            return amal_rate(Path(workdir) / "logs" / "regression" / "version_0")
        return json.loads(output.strip().splitlines()[-1])["epochs_per_s"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each route, alternating")
    parser.add_argument("--amal-args", nargs=argparse.REMAINDER, default=[], help="extra `amal fit` arguments")
    parser.add_argument("--smoke", action="store_true", help="a few epochs, one run each, for CI")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        with tempfile.TemporaryDirectory() as log_dir:
            print(json.dumps({"epochs_per_s": run_hand(args.epochs, log_dir)}))
        return
    if args.smoke:
        args.epochs, args.repeats = 5, 1
    rates: dict[str, list[float]] = {"amal": [], "hand": []}
    for repeat in range(args.repeats):
        for route in rates:
            rates[route].append(measure(route, args))
            print(f"run {repeat + 1}/{args.repeats} {route}: {rates[route][-1]:.0f} epochs/s", file=sys.stderr)
    hand = statistics.median(rates["hand"])
    extra = f" `{' '.join(args.amal_args)}`" if args.amal_args else ""
    lines = [
        f"`configs/regression.yaml`{extra}, {args.epochs} epochs per run, {args.repeats} runs per route alternating.",
        f"Machine: {machine()}.",
        "",
        "| route | epochs/s (median) | runs | ms/epoch | × hand-written time |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for route, runs in rates.items():
        rate = statistics.median(runs)
        listed = ", ".join(f"{run:.0f}" for run in runs)
        lines.append(f"| {route} | {rate:.0f} | {listed} | {1e3 / rate:.2f} | {hand / rate:.1f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
