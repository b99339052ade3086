"""The lab's TME3 Q3, drawn: a fit stopped after epoch K and resumed from its last.ckpt, over an uninterrupted
fit of the same seed, both through ``amal fit`` (``--ckpt_path last``: the project's own resume machinery).

A stop after epoch K leaves the run as a kill during epoch K + 1 would (the last checkpoint is the end of
epoch K; ``tests/test_resume.py`` kills one for real). The resumed run's curves must be the uninterrupted
run's, point for point, and hold each epoch once.

    python scripts/resume_demo.py docs/figures/tme3_resume.png   # the autoencoder, sample, 8 epochs, stopped after 3

It trains in a temporary folder (9 s on two busy cores): nothing lands in the project's logs/.
"""

import contextlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amal_lightning.api import fit
from amal_lightning.png import write_png
from amal_lightning.runs.events import RunLog, read_run

REPO = Path(__file__).resolve().parents[1]
METRICS = ("train/loss", "val/loss")
SETTINGS = ("--data.source", "sample", "--trainer.enable_progress_bar", "false", "--test", "false")


def fit_both(config: str, epochs: int, stop: int, options: Sequence[str] = SETTINGS) -> tuple[RunLog, RunLog]:
    """The uninterrupted fit's log and the stopped-then-resumed fit's, both of ``epochs`` epochs, seed 0."""
    straight = fit(config, *options, "--trainer.max_epochs", str(epochs), "--experiment", "uninterrupted")
    fit(config, *options, "--trainer.max_epochs", str(stop), "--experiment", "resumed")
    resumed = fit(
        config, *options, "--trainer.max_epochs", str(epochs), "--experiment", "resumed", "--ckpt_path", "last"
    )
    if straight.log_dir is None or resumed.log_dir is None:
        raise RuntimeError("the resume demo reads the runs' TensorBoard files: the config must keep its logger")
    return read_run(straight.log_dir), read_run(resumed.log_dir)


def largest_difference(straight: RunLog, resumed: RunLog, metric: str) -> float:
    """The largest |resumed − uninterrupted| over the epochs of ``metric``."""
    a, b = straight.curves[metric], resumed.curves[metric]
    if a.epochs != b.epochs:
        return float("inf")
    return max(abs(x - y) for x, y in zip(a.values, b.values, strict=True))


def resume_figure(straight: RunLog, resumed: RunLog, stop: int) -> Figure:
    """One panel per metric: the uninterrupted curve, the resumed run's points before and after the stop."""
    figure = Figure(figsize=(10.0, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    for axes, metric in zip(figure.subplots(1, len(METRICS)), METRICS, strict=True):
        whole, again = straight.curves[metric], resumed.curves[metric]
        axes.plot(whole.epochs, whole.values, color="0.6", linewidth=4, label="uninterrupted")
        points = list(zip(again.epochs, again.values, strict=True))
        for shown, style, label in (
            ([p for p in points if p[0] < stop], "o", f"epochs 0–{stop - 1}"),
            ([p for p in points if p[0] >= stop], "s", f"resumed from epoch {stop}"),
        ):
            xs, ys = [e for e, _ in shown], [v for _, v in shown]
            axes.plot(xs, ys, linestyle="", marker=style, markersize=5, label=label)
        axes.axvline(stop - 0.5, color="black", linestyle=":", linewidth=0.8)
        axes.set_xlabel("epoch (0 = the first)")
        axes.set_ylabel(metric)
        axes.set_title(f"{metric}: largest difference {largest_difference(straight, resumed, metric):.1e}")
        axes.legend(fontsize="small")
    figure.suptitle(f"A fit stopped after {stop} epochs and resumed (--ckpt_path last), over an uninterrupted one")
    return figure


def main(argv: list[str]) -> int:
    """Draws the figure into ``argv[0]``: the autoencoder (code 16) on the sample, 8 epochs, stopped after 3."""
    path = Path(argv[0] if argv else "tme3_resume.png").resolve()
    config = str(REPO / "configs" / "autoencoder.yaml")
    epochs, stop = 8, 3
    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        straight, resumed = fit_both(config, epochs, stop, (*SETTINGS, "--model.latent_dim", "16"))
        write_png(resume_figure(straight, resumed, stop), Path(path), dpi=120)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
