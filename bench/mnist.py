"""Per-epoch time and peak memory of `amal fit` against a hand-written PyTorch loop.

Three routes train the same model, on the same data, with the same batch size and optimizer
(Adam 1e-3, batch 128, 55,000 training + 5,000 validation images per epoch):

- ``amal``: ``amal fit`` with the shipped config, its default callbacks, logger and progress bar;
- ``hand``: a hand-written loop over the same in-memory tensors, batches taken by index;
- ``torchvision``: the textbook ``torchvision.datasets.MNIST`` + ``ToTensor`` + ``DataLoader`` path.

Each route runs in a child process of its own (its peak RSS is that child's), the routes
alternate, and each is repeated. Per-epoch times leave out start-up: for ``amal`` they are the
gaps between consecutive epochs' ``train/loss`` events in TensorBoard, so the first epoch is not
counted; the other routes drop their first epoch too.

    python -m bench.mnist --model classifier --epochs 4 --repeats 3
    python -m bench.mnist --smoke          # seconds; what CI runs so the script cannot rot

Without ``--data-dir`` holding real MNIST files, a synthetic set of the real size is written to a
temporary folder: the time of an epoch does not depend on what the pixels show.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from amal_lightning.data.idx import write_idx
from bench.common import REPO, build_model, loss_and_metric, machine, run_process, train_loss_wall_times, training_loss

ROUTES = ("amal", "hand", "torchvision")
VAL_FRACTION = 1 / 12


def synthetic_mnist(data_dir: Path, train: int, test: int) -> None:
    raw = data_dir / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, count, dtype=np.uint8))


def split(num_train: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(num_train, generator=torch.Generator().manual_seed(0))
    num_val = round(VAL_FRACTION * num_train)
    return order[num_val:], order[:num_val]


def timed_epochs(args: argparse.Namespace, model: torch.nn.Module, train_batches, val_batches) -> list[float]:
    """Trains and validates ``args.epochs`` times, returning each epoch's seconds.

    Both hand-written routes share this loop, so they differ only in how their batches arrive;
    ``train_batches()`` and ``val_batches()`` give one epoch's ``(x, y)`` pairs on the device.
    """
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.train()
        for x, y in train_batches():
            loss = training_loss(args.model, model, x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():  # the validation amal does too: loss, and accuracy or MSE
            totals, count = torch.zeros(2, device=device), 0
            for x, y in val_batches():
                totals += torch.stack(loss_and_metric(args.model, model, x, y)) * len(x)
                count += len(x)
            (totals / count).tolist()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def run_hand(args: argparse.Namespace) -> list[float]:
    """A plain PyTorch loop: what an experienced user would write without Lightning."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    device = torch.device(args.device)
    raw = Path(args.data_dir) / "MNIST" / "raw"
    images = read_image_file(str(raw / "train-images-idx3-ubyte")).reshape(-1, 784).to(device)
    labels = read_label_file(str(raw / "train-labels-idx1-ubyte")).to(device)
    train_rows, val_rows = (rows.to(device) for rows in split(len(labels)))

    def batches(rows: torch.Tensor):
        return ((images[batch].float().div_(255), labels[batch]) for batch in rows.split(args.batch_size))

    def shuffled():
        return batches(train_rows[torch.randperm(len(train_rows), device=device)])

    torch.manual_seed(0)
    model = build_model(args.model, args.hidden_dim, args.compile).to(device)
    return timed_epochs(args, model, shuffled, lambda: batches(val_rows))


def run_torchvision(args: argparse.Namespace) -> list[float]:
    """The textbook route: one Python call and one PIL image per example, then a collate."""
    import torchvision
    from torch.utils.data import DataLoader, Subset
    from torchvision.transforms import ToTensor

    device = torch.device(args.device)
    dataset = torchvision.datasets.MNIST(args.data_dir, train=True, transform=ToTensor(), download=False)
    train_rows, val_rows = split(len(dataset))
    train = DataLoader(Subset(dataset, train_rows.tolist()), batch_size=args.batch_size, shuffle=True)
    val = DataLoader(Subset(dataset, val_rows.tolist()), batch_size=args.batch_size)

    def batches(loader: DataLoader):
        return ((x.view(len(x), -1).to(device), y.to(device)) for x, y in loader)

    torch.manual_seed(0)
    model = build_model(args.model, args.hidden_dim, args.compile).to(device)
    return timed_epochs(args, model, lambda: batches(train), lambda: batches(val))


def amal_arguments(args: argparse.Namespace) -> list[str]:
    arguments = [
        "fit",
        "--config",
        str(REPO / "configs" / f"{args.model}.yaml"),
        f"--trainer.max_epochs={args.epochs}",
        f"--trainer.accelerator={args.device}",
        f"--data.data_dir={args.data_dir}",
        "--data.source=full",
        f"--data.batch_size={args.batch_size}",
        f"--model.compile={args.compile}",
    ]
    if args.model == "classifier":
        arguments.append(f"--model.hidden_dim={args.hidden_dim}")
    return arguments


def run_amal(args: argparse.Namespace) -> None:
    """``amal fit`` in this process, so that its peak CUDA memory can be read afterwards."""
    from amal_lightning.cli import main

    main(amal_arguments(args))


def amal_epoch_times(log_root: Path) -> list[float]:
    stamps = train_loss_wall_times(next(log_root.glob("logs/*/version_0")))
    return [later - earlier for earlier, later in zip(stamps, stamps[1:], strict=False)]


def measure(route: str, args: argparse.Namespace) -> dict:
    """Runs one route in a child process; returns its per-epoch times and the child's peak RSS."""
    with tempfile.TemporaryDirectory() as workdir:
        options = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in CHILD_OPTIONS]
        command = [sys.executable, "-m", "bench.mnist", "--child", route, *options]
        output, peak_rss_mb = run_process(command, Path(workdir))
        result = json.loads(output.strip().splitlines()[-1])
        times = amal_epoch_times(Path(workdir)) if route == "amal" else result["times"][1:]
        return {"times": times, "peak_rss_mb": peak_rss_mb, "peak_cuda_mb": result["cuda_mb"]}


CHILD_OPTIONS = ("model", "epochs", "device", "data_dir", "batch_size", "hidden_dim", "compile")


def run_child(args: argparse.Namespace) -> None:
    times = {"amal": run_amal, "hand": run_hand, "torchvision": run_torchvision}[args.child](args)
    cuda_mb = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
    print(json.dumps({"times": times, "cuda_mb": cuda_mb}))


def report(args: argparse.Namespace, results: dict[str, list[dict]]) -> str:
    def per_epoch(route: str) -> float:
        return statistics.median(t for run in results[route] for t in run["times"])

    def peak(route: str, key: str) -> float | None:
        values = [run.get(key) for run in results[route] if run.get(key) is not None]
        return max(values) if values else None

    hand = per_epoch("hand")
    lines = [
        f"Model `{args.model}`, {args.epochs} epochs per run ({args.epochs - 1} timed), {args.repeats} runs per route"
        f" alternating, batch {args.batch_size}, device {args.device}, compile {args.compile}, data {args.data_label}.",
        f"Machine: {machine()}.",
        "",
        "| route | s/epoch (median) | × hand-written | × hand-written, run by run | peak RSS (MB) | × hand-written"
        " | peak CUDA (MB) |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    hand_rss = peak("hand", "peak_rss_mb")
    for route in ROUTES:
        if route not in results:
            continue
        seconds, rss, cuda = per_epoch(route), peak(route, "peak_rss_mb"), peak(route, "peak_cuda_mb")
        cuda_text = f"{cuda:.0f}" if cuda is not None else "n/a"
        # each run against the hand-written run next to it: the spread that machine noise leaves
        paired = ", ".join(
            f"{statistics.median(run['times']) / statistics.median(hand_run['times']):.2f}"
            for run, hand_run in zip(results[route], results["hand"], strict=False)
        )
        lines.append(
            f"| {route} | {seconds:.3f} | {seconds / hand:.2f} | {paired} | {rss:.0f} | {rss / hand_rss:.2f}"
            f" | {cuda_text} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["classifier", "autoencoder"], default="classifier")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is not timed")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each route, alternating")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument(
        "--compile", type=lambda text: text.lower() == "true", default=False, help="true: torch.compile the models"
    )
    parser.add_argument("--data-dir", help="a folder with MNIST/raw/*-ubyte files; synthetic data if omitted")
    parser.add_argument("--routes", nargs="+", choices=ROUTES, default=list(ROUTES))
    parser.add_argument("--torchvision-epochs", type=int, default=2, help="the slow route runs fewer epochs")
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    parser.add_argument("--smoke", action="store_true", help="a tiny synthetic set and two epochs, for CI")
    parser.add_argument("--child", choices=ROUTES, help=argparse.SUPPRESS)
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
