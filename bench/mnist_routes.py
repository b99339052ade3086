"""The four routes of ``bench.mnist``, each a function of the benchmark's arguments that trains one
model and returns its timed epochs (``bench.common.timed_epochs``' or ``EpochClock``'s).

The same model, data, batch size and optimizer in each: ``amal fit`` in this process, the project's
module under Lightning's bare loop, a hand-written loop over in-memory tensors, and torchvision's
textbook ``MNIST`` + ``ToTensor`` + ``DataLoader`` path.
"""

import argparse
from pathlib import Path

import lightning as L
import torch

from bench.common import REPO, EpochClock, build_model, split, timed_epochs

COMPILE_CHOICES = ("false", "true", "default", "reduce-overhead", "cuda_graphs")


def model_compile(args: argparse.Namespace, route: str) -> bool | str:
    """The models' ``compile`` for ``route``: the hand-written routes stay eager under ``cuda_graphs``."""
    if args.compile in ("false", "true"):
        return args.compile == "true" and not (args.eager_hand and route in ("hand", "torchvision"))
    eager = args.compile == "cuda_graphs" or args.eager_hand
    return False if eager and route in ("hand", "torchvision") else args.compile


def run_hand(args: argparse.Namespace) -> dict[str, list[float]]:
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
    model = build_model(args.model, args.hidden_dim, model_compile(args, "hand")).to(device)
    return timed_epochs(args.model, args.epochs, model, shuffled, lambda: batches(val_rows))


def run_torchvision(args: argparse.Namespace) -> dict[str, list[float]]:
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
    model = build_model(args.model, args.hidden_dim, model_compile(args, "torchvision")).to(device)
    return timed_epochs(args.model, args.epochs, model, lambda: batches(train), lambda: batches(val))


def run_lightning(args: argparse.Namespace) -> dict[str, list[float]]:
    """The project's LightningModule and DataModule under ``Trainer(barebones=True)``: Lightning's own loop."""
    from amal_lightning.data import MNISTDataModule

    L.seed_everything(0, verbose=False)
    model = build_model(args.model, args.hidden_dim, model_compile(args, "lightning"))
    data = MNISTDataModule(data_dir=args.data_dir, source="full", batch_size=args.batch_size)
    trainer = L.Trainer(
        barebones=True,
        max_epochs=args.epochs,
        accelerator=args.device,
        devices=1,
        use_distributed_sampler=False,  # as amal: the datamodule shares the batches out itself
        callbacks=[EpochClock()],
    )
    trainer.fit(model, data)
    return EpochClock.last.epochs()


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
        f"--model.compile={model_compile(args, 'amal')}",
        "--test=false",
        "--trainer.callbacks+=bench.common.EpochClock",
        *args.amal_args,
    ]
    if args.model == "classifier":
        arguments.append(f"--model.hidden_dim={args.hidden_dim}")
    return arguments


def run_amal(args: argparse.Namespace) -> dict[str, list[float]]:
    """``amal fit`` in this process, so that its peak CUDA memory can be read afterwards."""
    from amal_lightning.command_line.main import main

    main(amal_arguments(args))
    return EpochClock.last.epochs()


ROUTE_RUNS = {"amal": run_amal, "lightning": run_lightning, "hand": run_hand, "torchvision": run_torchvision}
