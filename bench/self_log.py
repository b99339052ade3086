"""What one ``self.log`` call costs in Lightning's loop, against an epoch of a full-batch housing fit.

A housing epoch under ``Trainer(barebones=True)`` lasts about 1.3 ms here, and amal logs four epoch
metrics (``train/loss``, ``val/loss``, ``test/loss``, ``time/train_seconds``). This measures the same
tiny loop (a 13-weight linear model, one full batch of 304 rows an epoch, no logger, no checkpoint,
no bar) logging ``--calls`` metrics at each epoch's end, three ways, each in a child process of its
own, one torch thread, rounds alternating:

- ``none``: the metrics are updated and reset, nothing is logged;
- ``metric``: each is handed to ``self.log`` as a torchmetrics ``Metric`` (what amal's models do);
- ``tensor``: each is computed and handed to ``self.log`` as a tensor.

The difference with ``none`` is Lightning's own cost of the calls. No test asserts a time.

    python -m bench.self_log [--epochs 500] [--calls 4] [--rounds 3]
"""

import argparse
import statistics
import subprocess
import sys
import time

MODES = ("none", "metric", "tensor")


def child(mode: str, epochs: int, calls: int) -> float:
    """Trains the tiny loop; its mean epoch in milliseconds (the first 20 epochs left out)."""
    import lightning as L
    import torch
    from torch.nn import functional as F
    from torch.utils.data import DataLoader

    from amal_lightning.base_module import BatchMean

    torch.set_num_threads(1)
    batch = (torch.randn(304, 13), torch.randn(304, 1))

    class Logging(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(13, 1)
            self.means = torch.nn.ModuleList(BatchMean() for _ in range(calls))

        def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
            loss = F.mse_loss(self.linear(batch[0]), batch[1])
            for mean in self.means:
                mean.update(loss, 304)
            return loss

        def on_train_epoch_end(self) -> None:
            for index, mean in enumerate(self.means):
                if mode == "metric":
                    self.log(f"metric_{index}", mean)
                elif mode == "tensor":
                    self.log(f"metric_{index}", mean.compute())
                    mean.reset()
                else:
                    mean.reset()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    class Clock(L.Callback):
        def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            if trainer.current_epoch == 19:
                self.start = time.perf_counter()
            elif trainer.current_epoch == epochs - 1:
                self.milliseconds = (time.perf_counter() - self.start) / (epochs - 20) * 1e3

    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock := Clock()],
    )
    trainer.fit(Logging(), train_dataloaders=DataLoader([batch], batch_size=None))  # one whole batch an epoch
    return clock.milliseconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--calls", type=int, default=4, help="metrics logged at each epoch's end")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="each way in this process, for the tests (no timing)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(f"{child(args.child, args.epochs, args.calls):.4f}")
        return
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for number in range(args.rounds):
        for mode in MODES[number % 3 :] + MODES[: number % 3]:
            if args.smoke:  # the ways then share one process's imports and caches
                times[mode].append(child(mode, args.epochs, args.calls))
                continue
            command = [sys.executable, "-m", "bench.self_log", "--child", mode]
            command += ["--epochs", str(args.epochs), "--calls", str(args.calls)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            times[mode].append(float(done.stdout.split()[-1]))
        print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
    print(f"| way | ms/epoch, median of {args.rounds} (rounds) | over `none` |")
    print("| --- | --- | ---: |")
    base = statistics.median(times["none"])
    for mode in MODES:
        rounds = ", ".join(f"{value:.3f}" for value in times[mode])
        median = statistics.median(times[mode])
        extra = median - base
        print(f"| {mode} | {median:.3f} ({rounds}) | {extra:+.3f} ms, {extra / args.calls:+.3f} a call |")


if __name__ == "__main__":
    main()
