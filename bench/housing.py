"""Per-epoch time of full-batch gradient descent on the housing data: ``amal fit``, Lightning's bare loop, by hand.

``configs/regression.yaml`` runs 500 epochs of one step each (the whole training split), with a
validation after every epoch that also evaluates the test split (``test_each_epoch: true``): what
a framework does per epoch (loops, logging, checkpoints, progress bar) is most of the time. Three
routes do the same arithmetic per epoch, one gradient step (``w -= 0.1 * grad``) and the
validation and test losses:

- ``amal``: ``amal fit --config configs/regression.yaml`` in the child's process, with all it keeps
  (``last.ckpt``, ``best.ckpt``, TensorBoard, the epoch progress bar, the run's ``run.json``) and
  the test of ``best.ckpt`` after the fit (after the timed epochs);
- ``lightning``: the same ``AutogradRegression`` and ``HousingDataModule`` under
  ``Trainer(barebones=True)``: no logger, checkpoints or bar, ``self.log`` a no-op; what amal adds
  is ``amal / lightning``;
- ``hand``: the loop a user would write over the same tensors, writing the three losses to
  TensorBoard every epoch and a checkpoint at the end; what Lightning's loop costs is
  ``lightning / hand``.

Each run is a child process of its own, with one torch thread (``--threads``); the routes alternate
round after round. An epoch's time is the gap between the ends of two consecutive training epochs
(validation included: Lightning validates before its epoch-end hooks), so the start-up and the first
epoch are left out; ``amal`` and ``lightning`` are timed by the same callback
(``bench.common.EpochClock``), the hand-written loop by itself. Wall-clock and CPU seconds are both
reported as means over the timed epochs (the total time: the epochs that write a checkpoint or a
file count too), the ratios as ratios of those means and round by round.

    python -m bench.housing --repeats 5
    python -m bench.housing --amal-args --trainer.logger=false   # what a setting costs
    python -m bench.housing --smoke                                # seconds; what CI runs
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from torch.nn import functional as F

from bench.common import (
    REPO,
    EpochClock,
    epoch_gaps,
    load_average,
    machine,
    ratio_line,
    round_ratios,
    run_process,
)

ROUTES = ("amal", "lightning", "hand")
LEARNING_RATE = 0.1  # configs/regression.yaml's
CONFIG = REPO / "configs" / "regression.yaml"


def housing_data():
    """The config's datamodule: full batches, features standardized, the test split evaluated every epoch."""
    from amal_lightning.data import HousingDataModule

    return HousingDataModule(batch_size="full", test_each_epoch=True)


def run_hand(args: argparse.Namespace, log_dir: Path) -> dict[str, list[float]]:
    """The loop a user would write: a step, the validation and test losses, three TensorBoard scalars."""
    from torch.utils.tensorboard import SummaryWriter

    data = housing_data()
    data.setup("fit")
    x, y = data.train_set.tensors
    x_val, y_val = data.val_set.tensors
    x_test, y_test = data.test_set.tensors
    torch.manual_seed(0)
    weight = (torch.randn(x.shape[1], 1) * 0.01).requires_grad_()
    bias = torch.zeros(1, requires_grad=True)
    writer = SummaryWriter(str(log_dir))
    stamps = []
    for epoch in range(args.epochs):
        loss = F.mse_loss(x @ weight + bias, y)
        loss.backward()
        with torch.no_grad():
            for parameter in (weight, bias):
                parameter -= LEARNING_RATE * parameter.grad
                parameter.grad = None
            val_loss = F.mse_loss(x_val @ weight + bias, y_val)
            test_loss = F.mse_loss(x_test @ weight + bias, y_test)
        writer.add_scalar("train/loss", loss.item(), epoch)
        writer.add_scalar("val/loss", val_loss.item(), epoch)
        writer.add_scalar("test/loss", test_loss.item(), epoch)
        stamps.append((time.perf_counter(), time.process_time()))
    torch.save({"weight": weight, "bias": bias, "epoch": args.epochs}, log_dir / "last.ckpt")
    writer.close()
    return epoch_gaps(stamps)


def run_lightning(args: argparse.Namespace, log_dir: Path) -> dict[str, list[float]]:
    """The project's module and datamodule under ``Trainer(barebones=True)``: Lightning's own loop."""
    from amal_lightning.tme2 import AutogradRegression

    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(barebones=True, max_epochs=args.epochs, accelerator="cpu", devices=1, callbacks=[EpochClock()])
    trainer.fit(AutogradRegression(learning_rate=LEARNING_RATE), housing_data())
    return epoch_gaps(EpochClock.last.stamps)


def run_amal(args: argparse.Namespace, log_dir: Path) -> dict[str, list[float]]:
    """``amal fit`` with the shipped config, in this process (the child's), in ``log_dir``."""
    from amal_lightning.command_line.main import main

    main(
        [
            "fit",
            "--config",
            str(CONFIG),
            f"--trainer.max_epochs={args.epochs}",
            "--trainer.accelerator=cpu",
            "--trainer.callbacks+=bench.common.EpochClock",
            *args.amal_args,
        ]
    )
    return epoch_gaps(EpochClock.last.stamps)


def run_child(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    routes = {"amal": run_amal, "lightning": run_lightning, "hand": run_hand}
    epochs = routes[args.child](args, Path.cwd())
    print(json.dumps({"epochs": epochs}))


def measure(route: str, args: argparse.Namespace) -> dict:
    """Runs one route in a child process, in a scratch folder; its timed epochs and peak RSS."""
    with tempfile.TemporaryDirectory() as workdir:
        command = [sys.executable, "-m", "bench.housing", "--child", route]
        command += [f"--epochs={args.epochs}", f"--threads={args.threads}"]
        if args.amal_args:
            command += ["--amal-args", *args.amal_args]
        output, peak_rss_mb = run_process(command, Path(workdir))
        return {**json.loads(output.strip().splitlines()[-1])["epochs"], "peak_rss_mb": peak_rss_mb}


def milliseconds(runs: list[dict], key: str = "times", average=statistics.fmean) -> float:
    return 1e3 * average([t for run in runs for t in run[key]])


def report(args: argparse.Namespace, results: dict[str, list[dict]], loads: tuple[str, str]) -> str:
    extra = f", amal also given `{' '.join(args.amal_args)}`" if args.amal_args else ""
    lines = [
        f"`configs/regression.yaml`{extra}: {args.epochs} epochs per run ({args.epochs - 1} timed), {args.repeats}"
        f" rounds of alternating runs, torch threads per route: {args.threads or 'its default'}; load average"
        f" {loads[0]} before, {loads[1]} after.",
        f"Machine: {machine()}.",
        "",
        "Means over the timed epochs (their total time, checkpoint and file writes included); the median"
        " epoch beside them.",
        "",
        "| route | ms/epoch (mean) | median | × hand | × hand, round by round | CPU ms/epoch | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    hand = results.get("hand")
    for route in args.routes:
        runs = results[route]
        ratio = f"{milliseconds(runs) / milliseconds(hand):.2f}" if hand else "n/a"
        rounds = ", ".join(f"{r:.2f}" for r in round_ratios(runs, hand, average=statistics.fmean)) if hand else ""
        peak = max(run["peak_rss_mb"] for run in runs)
        lines.append(
            f"| {route} | {milliseconds(runs):.2f} | {milliseconds(runs, average=statistics.median):.2f} | {ratio}"
            f" | {rounds} | {milliseconds(runs, 'cpu'):.2f}"
            f" | {peak:.0f} |"
        )
    pairs = [("amal", "lightning"), ("lightning", "hand"), ("amal", "hand")]
    ratios = [line for r, base in pairs if (line := ratio_line(results, r, base, statistics.fmean))]
    return "\n".join([*lines, *(["", "Ratios of the means:", *ratios] if ratios else [])])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=500, help="epochs per run; the first is not timed")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of alternating runs, one of each route")
    parser.add_argument("--threads", type=int, default=1, help="torch's threads in every route (0: its default)")
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--smoke", action="store_true", help="a few epochs, one round, for CI")
    parser.add_argument("--child", choices=ROUTES, help=argparse.SUPPRESS)
    parser.add_argument("--amal-args", nargs=argparse.REMAINDER, default=[], help="extra `amal fit` arguments, last")
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return
    if args.smoke:
        args.epochs, args.repeats = 5, 1
    before = load_average()
    results: dict[str, list[dict]] = {route: [] for route in args.routes}
    for repeat in range(args.repeats):
        for route in args.routes:
            results[route].append(measure(route, args))
            mean = statistics.fmean(results[route][-1]["times"]) * 1e3
            print(f"round {repeat + 1}/{args.repeats} {route}: {mean:.2f} ms/epoch (mean)", file=sys.stderr)
    table = report(args, results, (before, load_average()))
    print(table)
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
