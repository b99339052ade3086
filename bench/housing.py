"""A housing fit's epoch and its fixed cost, five routes side by side: amal, plain and minimal Lightning, bare, hand.

``configs/regression.yaml`` is full-batch gradient descent: one step an epoch (the whole training
split) and a validation after it, so what a framework does per epoch (loops, logging, checkpoints,
the bar) is most of the time. Every route does the same arithmetic, with
``--data.test_each_epoch false``: one gradient step (``w -= 0.1 * grad``) and the validation loss.

- ``amal``: :func:`amal_lightning.api.fit` of the shipped config, as a study worker runs it, with
  all it keeps (``last.ckpt``, ``best.ckpt``, TensorBoard, the epoch bar, ``run.json``) and the test
  of ``best.ckpt`` after the fit;
- ``plain``: the same ``AutogradRegression`` and ``HousingDataModule`` under a ``Trainer`` as a
  Lightning user writes it: a ``TensorBoardLogger``, ``ModelCheckpoint(monitor="val/loss",
  save_last=True)``, Lightning's defaults otherwise (its bar, its model summary), then
  ``trainer.test(ckpt_path="best")``;
- ``minimal``: the same under a ``Trainer`` with everything off (no logger, checkpoint, bar or model
  summary) but the module's two ``self.log`` calls: the floor of a Lightning loop whose callbacks can
  read ``val/loss`` (a best checkpoint, early stopping), as amal's do;
- ``bare``: the same under ``Trainer(barebones=True)``: no logger, checkpoint or bar, ``self.log`` a
  no-op: Lightning's own loop, the floor of anything built on it;
- ``hand``: the loop a user writes over the same tensors, the two losses to TensorBoard every epoch
  and a checkpoint at the end.

Each route runs in a child process with one torch thread: a first fit (imports, cold caches: not
timed), a short and a long fit. An epoch costs their difference over their difference in epochs
(start-up cancels); a fit's fixed cost is the short fit less its epochs, what a study worker pays per
variant after its first. Routes alternate; the medians of the rounds are reported, wall and CPU.

    python -m bench.housing --repeats 3
    python -m bench.housing --amal-args --trainer.logger=false   # what a setting costs
    python -m bench.housing --smoke                                # in this process, seconds; what the tests run
"""

import argparse
import contextlib
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from torch.nn import functional as F

from bench.common import REPO, load_average, machine, run_process

ROUTES = ("amal", "plain", "minimal", "bare", "hand")
LEARNING_RATE = 0.1  # configs/regression.yaml's
CONFIG = REPO / "configs" / "regression.yaml"


def housing_data():
    """The config's datamodule: full batches, features standardized, no test split with each validation."""
    from amal_lightning.data import HousingDataModule

    return HousingDataModule(batch_size="full", test_each_epoch=False)


def fit_by_hand(epochs: int, folder: Path) -> None:
    """The loop a user would write: a step, the validation loss, two TensorBoard scalars, a checkpoint."""
    from torch.utils.tensorboard import SummaryWriter

    data = housing_data()
    data.setup("fit")
    x, y = data.train_set.tensors
    x_val, y_val = data.val_set.tensors
    torch.manual_seed(0)
    weight = (torch.randn(x.shape[1], 1) * 0.01).requires_grad_()
    bias = torch.zeros(1, requires_grad=True)
    writer = SummaryWriter(str(folder))
    for epoch in range(epochs):
        loss = F.mse_loss(x @ weight + bias, y)
        loss.backward()
        with torch.no_grad():
            for parameter in (weight, bias):
                parameter -= LEARNING_RATE * parameter.grad
                parameter.grad = None
            val_loss = F.mse_loss(x_val @ weight + bias, y_val)
        writer.add_scalar("train/loss", loss.item(), epoch)
        writer.add_scalar("val/loss", val_loss.item(), epoch)
    torch.save({"weight": weight, "bias": bias, "epoch": epochs}, folder / "last.ckpt")
    writer.close()


def fit_bare(epochs: int, folder: Path) -> None:
    """The project's module and datamodule under ``Trainer(barebones=True)``: Lightning's own loop."""
    from amal_lightning.tme2 import AutogradRegression

    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(barebones=True, max_epochs=epochs, accelerator="cpu", devices=1, default_root_dir=folder)
    trainer.fit(AutogradRegression(learning_rate=LEARNING_RATE), housing_data())


def fit_minimal(epochs: int, folder: Path) -> None:
    """The same under a Trainer with nothing on but the module's ``self.log`` calls."""
    from amal_lightning.tme2 import AutogradRegression

    L.seed_everything(0, verbose=False)
    off = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False, "enable_model_summary": False}
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, default_root_dir=folder, **off)
    trainer.fit(AutogradRegression(learning_rate=LEARNING_RATE), housing_data())


def fit_plain(epochs: int, folder: Path) -> None:
    """The same under a Trainer as a Lightning user writes it, then the test of the best checkpoint."""
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import TensorBoardLogger

    from amal_lightning.tme2 import AutogradRegression

    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=TensorBoardLogger(folder / "logs"),
        callbacks=[ModelCheckpoint(folder / "checkpoints", monitor="val/loss", save_last=True)],
        log_every_n_steps=1,
    )
    data = housing_data()
    trainer.fit(AutogradRegression(learning_rate=LEARNING_RATE), data)
    trainer.test(ckpt_path="best", datamodule=data)


def fit_amal(epochs: int, folder: Path, amal_args: list[str]) -> None:
    """``api.fit`` of the shipped config in this process, as a study worker runs each variant."""
    from amal_lightning import api

    options = [f"--trainer.max_epochs={epochs}", "--trainer.accelerator=cpu", "--data.test_each_epoch=false"]
    api.fit(str(CONFIG), *options, *amal_args)


def timed_fits(route: str, args: argparse.Namespace, folder: Path) -> dict[str, tuple[float, float]]:
    """One route in ``folder``: a first fit, then the short and the long one, each timed (wall, CPU seconds)."""
    fits = {"amal": lambda n, f: fit_amal(n, f, args.amal_args), "plain": fit_plain, "minimal": fit_minimal}
    fits["bare"] = fit_bare
    fit = fits.get(route, fit_by_hand)
    timed = {}
    for label, epochs in (("first", args.short), ("short", args.short), ("long", args.long)):
        (folder / label).mkdir()
        wall, cpu = time.perf_counter(), time.process_time()
        fit(epochs, folder / label)
        timed[label] = (time.perf_counter() - wall, time.process_time() - cpu)
    return timed


def run_child(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    print(json.dumps(timed_fits(args.child, args, Path.cwd())))


def measure(route: str, args: argparse.Namespace) -> dict[str, float]:
    """Runs one route in a child process, in a scratch folder: its epoch and fixed cost, wall and CPU seconds.

    ``--smoke`` runs it in this process (the routes share its imports): for the tests, not the times."""
    with tempfile.TemporaryDirectory() as workdir:
        if args.smoke:
            with contextlib.chdir(workdir):  # where amal writes its logs and checkpoints, as a child would
                timed = timed_fits(route, args, Path(workdir))
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        else:
            command = [sys.executable, "-m", "bench.housing", "--child", route, f"--threads={args.threads}"]
            command += [f"--short={args.short}", f"--long={args.long}", "--amal-args", *args.amal_args]
            output, peak_rss_mb = run_process(command, Path(workdir))
            timed = json.loads(output.strip().splitlines()[-1])
    result = {"peak_rss_mb": peak_rss_mb}
    for index, key in enumerate(("wall", "cpu")):
        epoch = (timed["long"][index] - timed["short"][index]) / (args.long - args.short)
        result[f"{key}_epoch"] = epoch
        result[f"{key}_fixed"] = timed["short"][index] - args.short * epoch
    return result


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def ratio(results: dict[str, list[dict]], route: str, base: str, key: str) -> str:
    """``route / base`` of the medians, with the ratios round by round (the noise the machine leaves)."""
    rounds = ", ".join(f"{a[key] / b[key]:.2f}" for a, b in zip(results[route], results[base], strict=False))
    return f"{median(results[route], key) / median(results[base], key):.2f} (rounds {rounds})"


def report(args: argparse.Namespace, results: dict[str, list[dict]], loads: tuple[str, str]) -> str:
    extra = f", amal also given `{' '.join(args.amal_args)}`" if args.amal_args else ""
    lines = [
        f"`configs/regression.yaml` with `--data.test_each_epoch false`{extra}: per round and route, a first fit,"
        f" then fits of {args.short} and {args.long} epochs; medians of {args.repeats} rounds of alternating"
        f" routes, {args.threads} torch thread(s); load average {loads[0]} before, {loads[1]} after.",
        f"Machine: {machine()}.",
        "",
        "| route | ms/epoch | CPU ms/epoch | fixed cost (s) | CPU fixed cost (s) | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for route in args.routes:
        runs = results[route]
        lines.append(
            f"| {route} | {1e3 * median(runs, 'wall_epoch'):.2f} | {1e3 * median(runs, 'cpu_epoch'):.2f}"
            f" | {median(runs, 'wall_fixed'):.3f} | {median(runs, 'cpu_fixed'):.3f}"
            f" | {max(run['peak_rss_mb'] for run in runs):.0f} |"
        )
    lines += ["", "Ratios of the medians (wall-clock; CPU), and differences of the fixed costs:"]
    pairs = (("amal", "bare"), ("amal", "plain"), ("amal", "minimal"), ("minimal", "bare"), ("plain", "bare"))
    for route, base in (*pairs, ("bare", "hand")):
        if route in results and base in results:
            lines.append(
                f"- epoch, {route} / {base}: {ratio(results, route, base, 'wall_epoch')};"
                f" {ratio(results, route, base, 'cpu_epoch')}"
            )
    if "amal" in results and "plain" in results:
        for key, label in (("wall_fixed", "wall-clock"), ("cpu_fixed", "CPU")):
            difference = median(results["amal"], key) - median(results["plain"], key)
            lines.append(f"- fixed cost, amal − plain ({label}): {difference:+.3f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", type=int, default=20, help="epochs of the short fit")
    parser.add_argument("--long", type=int, default=520, help="epochs of the long fit")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of alternating runs, one of each route")
    parser.add_argument("--threads", type=int, default=1, help="torch's threads in every route")
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--smoke", action="store_true", help="a few epochs, one round, for the tests")
    parser.add_argument("--child", choices=ROUTES, help=argparse.SUPPRESS)
    parser.add_argument("--amal-args", nargs=argparse.REMAINDER, default=[], help="extra `amal fit` arguments, last")
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return
    if args.smoke:
        args.short, args.long, args.repeats = 2, 6, 1
    before = load_average()
    results: dict[str, list[dict]] = {route: [] for route in args.routes}
    for repeat in range(args.repeats):
        for route in args.routes:
            results[route].append(measure(route, args))
            epoch_ms = 1e3 * results[route][-1]["wall_epoch"]
            print(f"round {repeat + 1}/{args.repeats} {route}: {epoch_ms:.2f} ms/epoch", file=sys.stderr)
    table = report(args, results, (before, load_average()))
    print(table)
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
