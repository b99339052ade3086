"""Per-epoch time and peak memory of `amal fit` against Lightning's bare loop and a hand-written loop.

Four routes train the same model, on the same data, with the same batch size and optimizer
(Adam 1e-3, batch 128, 55,000 training + 5,000 validation images per epoch):

- ``amal``: ``amal fit`` with the shipped config, its default callbacks, logger and progress bar
  (``--test false``: the test after the fit is not an epoch);
- ``lightning``: the same LightningModule and DataModule under ``Trainer(barebones=True)``: no
  logger, checkpoints or bar, ``self.log`` a no-op; what amal adds is ``amal / lightning``;
- ``hand``: a hand-written loop over the same in-memory tensors, batches taken by index; what
  Lightning's loop costs is ``lightning / hand``;
- ``torchvision``: the textbook ``torchvision.datasets.MNIST`` + ``ToTensor`` + ``DataLoader`` path.

Each route runs in a child process of its own (its peak RSS is that child's), the routes
alternate round after round. An epoch's time is the gap between the ends of two consecutive
training epochs (each with its validation), in wall-clock and in the process's CPU seconds: the
first epoch, with the start-up, is not counted. ``amal`` and ``lightning`` are timed by the same
callback (``bench.common.EpochClock``), the hand-written routes by their own loop; the routes
themselves are in ``bench/mnist_routes.py``.

    python -m bench.mnist --model classifier --epochs 4 --repeats 3
    python -m bench.mnist --device cuda --compile cuda_graphs --routes amal lightning hand
    python -m bench.mnist --smoke          # seconds; what CI runs so the script cannot rot

``--compile`` is the models' option; the hand-written routes compile their network the same way,
except for ``cuda_graphs``, which they leave eager: the hand-written eager loop is the yardstick.
Without ``--data-dir`` holding real MNIST files, a synthetic set of the real size is written to a
temporary folder: the time of an epoch does not depend on what the pixels show.
"""

import argparse
import contextlib
import json
import resource
import sys
import tempfile
from pathlib import Path

import torch

from bench.common import machine, ratio_line, route_table, run_process, synthetic_mnist
from bench.mnist_routes import COMPILE_CHOICES, ROUTE_RUNS

ROUTES = ("amal", "lightning", "hand", "torchvision")


CHILD_OPTIONS = (
    "model",
    "epochs",
    "device",
    "data_dir",
    "batch_size",
    "hidden_dim",
    "compile",
    "threads",
    "eager_hand",
)


def measure(route: str, args: argparse.Namespace) -> dict:
    """Runs one route in a child process; returns its timed epochs and the child's peak RSS.

    ``--smoke`` runs it in this process instead (the routes then share its imports): the tests check
    that every route runs and the table is printed, not the times."""
    with tempfile.TemporaryDirectory() as workdir:
        if args.smoke:
            with contextlib.chdir(workdir):  # where amal writes its logs and checkpoints, as a child would
                epochs = ROUTE_RUNS[route](args)
            return {**epochs, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        options = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in CHILD_OPTIONS]
        command = [sys.executable, "-m", "bench.mnist", "--child", route, *options, "--amal-args", *args.amal_args]
        output, peak_rss_mb = run_process(command, Path(workdir))
        result = json.loads(output.strip().splitlines()[-1])
        return {**result["epochs"], "peak_rss_mb": peak_rss_mb, "peak_cuda_mb": result["cuda_mb"]}


def run_child(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    epochs = ROUTE_RUNS[args.child](args)
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
    print(json.dumps({"epochs": epochs, "cuda_mb": cuda_mb}))


def report(args: argparse.Namespace, results: dict[str, list[dict]]) -> str:
    extra = f", amal also given `{' '.join(args.amal_args)}`" if args.amal_args else ""
    header = [
        f"Model `{args.model}`, {args.epochs} epochs per run ({args.epochs - 1} timed), {args.repeats} rounds of"
        f" alternating runs, batch {args.batch_size}, device {args.device}, compile {args.compile}"
        f"{' (hand-written routes eager)' if args.eager_hand else ''}{extra},"
        f" torch threads per route: {args.threads or 'its default'}, data"
        f" {args.data_label}.",
        f"Machine: {machine()}.",
        "",
    ]
    pairs = [("amal", "lightning"), ("lightning", "hand"), ("amal", "hand")]
    ratios = [line for route, baseline in pairs if (line := ratio_line(results, route, baseline))]
    return "\n".join([*header, *route_table(results, ROUTES, "hand"), *([""] + ratios if ratios else [])])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["classifier", "autoencoder"], default="classifier")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is not timed")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of alternating runs, one of each route")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--compile", type=str.lower, choices=COMPILE_CHOICES, default="false", help="--model.compile")
    parser.add_argument(
        "--eager-hand",
        type=lambda text: text.lower() in ("1", "true", "yes"),
        nargs="?",
        const=True,
        default=False,
        help="the hand-written routes stay eager whatever --compile says: the yardstick",
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="torch's threads in every route (0: its default, one per core)"
    )
    parser.add_argument("--data-dir", help="a folder with MNIST/raw/*-ubyte files; synthetic data if omitted")
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--torchvision-epochs", type=int, default=2, help="the slow route runs fewer epochs")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--smoke", action="store_true", help="a tiny synthetic set and two epochs, for CI")
    parser.add_argument("--child", choices=ROUTES, help=argparse.SUPPRESS)
    parser.add_argument("--amal-args", nargs=argparse.REMAINDER, default=[], help="extra `amal fit` arguments, last")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        run_child(args)
        return
    with tempfile.TemporaryDirectory() as scratch:
        if args.smoke:
            args.epochs, args.repeats, args.torchvision_epochs = 2, 1, 2
        if args.data_dir is None:
            train, test = (1200, 200) if args.smoke else (60_000, 10_000)
            synthetic_mnist(Path(scratch), train, test)
            args.data_dir, args.data_label = scratch, f"synthetic {train:,}/{test:,} digits in MNIST's IDX format"
        else:
            args.data_dir = str(Path(args.data_dir).resolve())  # the routes run in scratch folders
            args.data_label = f"MNIST files in {args.data_dir}"
        results: dict[str, list[dict]] = {route: [] for route in args.routes}
        for repeat in range(args.repeats):
            for route in args.routes:
                epochs = args.epochs
                if route == "torchvision":
                    args.epochs = args.torchvision_epochs
                results[route].append(measure(route, args))
                args.epochs = epochs
                print(f"run {repeat + 1}/{args.repeats} {route}: {results[route][-1]['times']}", file=sys.stderr)
        table = report(args, results)
    print(table)
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
