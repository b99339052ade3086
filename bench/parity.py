"""Does `amal fit` learn as well as a plain PyTorch loop? Same data, model, optimizer and epochs.

Trains the shipped config through ``amal fit`` then ``amal test`` (their Python API, in this
process), and the same model with a plain loop (Adam 1e-3, batch 128, seeded the same way), and
prints both test metrics:
accuracy for the classifier, BCE and pixel MSE for the autoencoder.

    python -m bench.parity --model classifier --epochs 10 --source full --data-dir data
    python -m bench.parity --model autoencoder --epochs 10 --source sample
    python -m bench.parity --smoke         # one epoch on the bundled sample; what CI runs so the script cannot rot
"""

import argparse
import contextlib
import csv
import tempfile
from pathlib import Path

import torch

from amal_lightning import api
from bench.common import REPO, build_model, loss_and_metric, training_loss


def plain_loop(args: argparse.Namespace) -> dict[str, float]:
    from amal_lightning.data import MNISTDataModule

    data = MNISTDataModule(data_dir=args.data_dir, source=args.source, batch_size=128)
    data.prepare_data()
    data.setup("fit")
    torch.manual_seed(0)
    model = build_model(args.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images, labels = data.train_set.images, data.train_set.labels
    for _ in range(args.epochs):
        for batch in torch.randperm(len(labels)).split(128):
            loss = training_loss(args.model, model, images[batch].float().div_(255), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    x, y = data.test_set[torch.arange(len(data.test_set))]
    with torch.no_grad():
        loss, metric = loss_and_metric(args.model, model, x, y)
    return {"test/loss": loss.item(), "test/acc" if args.model == "classifier" else "test/mse": metric.item()}


def through_amal(args: argparse.Namespace) -> dict[str, float]:
    config = str(REPO / "configs" / f"{args.model}.yaml")
    data = [f"--data.data_dir={Path(args.data_dir).resolve()}", f"--data.source={args.source}"]
    csv_logger = ["--trainer.logger=lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir=csv"]
    with tempfile.TemporaryDirectory() as workdir, contextlib.chdir(workdir):  # where amal writes its runs
        api.fit(config, f"--trainer.max_epochs={args.epochs}", *data)  # what `amal fit` and `amal test` run
        api.test(config, "--ckpt_path=last", *data, *csv_logger)
        with next(Path(workdir, "csv").rglob("metrics.csv")).open() as file:
            row = list(csv.DictReader(file))[-1]
    return {name: float(value) for name, value in row.items() if name.startswith("test/") and value}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["classifier", "autoencoder"], default="classifier")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--source", choices=["full", "sample"], default="full")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--smoke", action="store_true", help="one epoch on the bundled sample, for CI")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.source = 1, "sample"
    results = {"amal": through_amal(args), "plain loop": plain_loop(args)}
    names = sorted(results["amal"])
    print(f"{args.model}, {args.epochs} epochs, MNIST source {args.source}")
    print("| route | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for route, metrics in results.items():
        print(f"| {route} | " + " | ".join(f"{metrics[name]:.4f}" for name in names) + " |")


if __name__ == "__main__":
    main()
