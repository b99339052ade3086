"""``amal plot``: PNG figures of runs' curves, drawn from their TensorBoard event files.

One figure compares runs: one colour per run, one line style per stage (train solid, validation
dotted, test dashed), so that a run's train and test curves read as a pair. A run that diverged
ends with a cross where it stopped. When the values span more than two decades (a diverging or a
crawling step size beside a converging one) the y axis is logarithmic, or the interesting curves
would be flat lines at the bottom.

Drawn with matplotlib's object interface on an Agg canvas: no display and no pyplot state, so it
works on a cluster's login node and in tests. :func:`draw` returns the Figure, whose Axes hold
the plotted data (what the tests check); :func:`save_png` writes it.

``amal plot`` (:mod:`amal_lightning.command_line.plot`) draws them for the command line.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image

from amal_lightning.errors import AmalError
from amal_lightning.studies.events import RunLog, XAxis

X_LABELS = {"epoch": "epoch (0 = the first)", "step": "optimizer step", "time": "wall-clock time since the start (s)"}
STAGE_STYLES = {"train": "-", "val": ":", "test": "--"}
STAGE_NAMES = {"train": "train", "val": "validation", "test": "test"}
# A ratio of largest to smallest value beyond which a linear axis flattens the smaller curves.
LOG_SCALE_RATIO = 100.0


@dataclass(frozen=True)
class PlottedRun:
    """A run as a figure shows it: its legend label, its curves and the epoch it diverged at (if it did)."""

    label: str
    log: RunLog
    diverged: bool = False
    diverged_at: Optional[int] = None  # unknown for a damaged diverged.json

    @property
    def legend(self) -> str:
        if not self.diverged:
            return self.label
        return f"{self.label} (diverged{'' if self.diverged_at is None else f' at epoch {self.diverged_at}'})"


def plain(text: str) -> str:
    """Text drawn as written: matplotlib reads what lies between two ``$`` as a formula ($1000² is money here)."""
    return text.replace("$", r"\$")


def line_style(metric: str) -> str:
    """Solid for ``train/*``, dotted for ``val/*``, dashed for ``test/*``."""
    return STAGE_STYLES.get(metric.split("/", 1)[0], "-.")


def finite_points(xs: Sequence[float], ys: Sequence[float]) -> tuple[list[float], list[float]]:
    """The points whose value is finite: an infinite loss cannot be drawn, and a log axis refuses it."""
    kept = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
    return [x for x, _ in kept], [y for _, y in kept]


def wants_log_scale(values: Sequence[float]) -> bool:
    """Whether positive values span more than two decades (a log axis then shows every curve)."""
    values = [value for value in values if math.isfinite(value)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SCALE_RATIO


def ceiling(sound: Sequence[float], wild: Sequence[float], log_scale: bool) -> Optional[float]:
    """The top of the y axis when diverged runs would squash the others, else None (matplotlib decides).

    A diverged curve climbs to 1e30 and more: the axis stops a little above the runs that did
    not diverge, and the diverged curve leaves the figure, its marker on the top edge.
    """
    if not sound or not wild or max(wild) <= max(sound):
        return None
    if log_scale:
        return max(sound) * 10
    return max(sound) + 0.25 * (max(sound) - min(sound) or abs(max(sound)) or 1.0)


def draw(
    runs: Sequence[PlottedRun], metrics: Sequence[str], x: XAxis = "epoch", title: str = "", ylabel: str = ""
) -> Figure:
    """One figure: for each run (a colour) each of ``metrics`` (a line style) against ``x``.

    Raises AmalError if no run has any of the metrics.
    """
    figure = Figure(figsize=(7.5, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = [f"C{index % 10}" for index in range(len(runs))]
    run_handles, sound, wild, ends = [], [], [], []  # values of runs that did not / did diverge
    for run, colour in zip(runs, colours, strict=True):
        drawn = False
        for metric in metrics:
            series = run.log.curves.get(metric)
            xs, ys = finite_points(series.x(x), series.values) if series is not None else ([], [])
            if not xs:
                continue
            axes.plot(xs, ys, color=colour, linestyle=line_style(metric), label=f"{run.label}: {metric}")
            drawn = True
            (wild if run.diverged else sound).extend(ys)
            if run.diverged:  # where it stopped: the epoch it diverged at, or its last point
                end = run.diverged_at if x == "epoch" and run.diverged_at is not None else xs[-1]
                ends.append((end, ys[-1], colour))
        if drawn:
            style = line_style(metrics[0]) if len(metrics) == 1 else "-"  # several: the style legend says
            run_handles.append(Line2D([], [], color=colour, linestyle=style, label=plain(run.legend)))
    if not (sound or wild):
        available = sorted({name for run in runs for name in run.log.curves})
        raise AmalError(f"no run has {' or '.join(metrics)} (their curves: {', '.join(available) or 'none'})")
    log_scale = wants_log_scale(sound or wild)
    if log_scale:
        axes.set_yscale("log")
    top = ceiling(sound, wild, log_scale)
    if top is not None:
        low = min(sound + wild)
        axes.set_ylim(low / 1.5 if log_scale else low - 0.05 * (top - low), top)
    for end_x, end_y, colour in ends:
        end_y = end_y if top is None else min(end_y, top)
        axes.scatter([end_x], [end_y], marker="X", s=80, color=colour, zorder=3, clip_on=False)
    if x != "time":
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(X_LABELS[x])
    axes.set_ylabel(plain(ylabel or ", ".join(metrics)))
    axes.set_title(plain(title or f"{', '.join(metrics)} against {x}"))
    axes.grid(True, alpha=0.3)
    stage_handles = []
    stages = {metric.split("/", 1)[0] for metric in metrics}
    if len(stages) > 1:  # say which line style is which stage
        for stage, style in STAGE_STYLES.items():
            if stage in stages:
                stage_handles.append(Line2D([], [], color="0.3", linestyle=style, label=STAGE_NAMES[stage]))
    axes.legend(handles=run_handles + stage_handles, fontsize="small")
    return figure


def save_png(figure: Figure, path: Path) -> None:
    """Writes the figure as a PNG file of at most 256 colours; one line of error if it cannot be written.

    A figure holds a dozen colours, but antialiasing makes thousands of shades: in full colour
    each file weighs about 100 KB, with a palette a third of that, which matters for the figures
    committed under docs/figures/.
    """
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    canvas.draw()
    image = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB").quantize(colors=256)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG", optimize=True)
    except OSError as error:
        raise AmalError(f"{path}: cannot write the figure ({error.strerror or error})") from None


def run_label(log_dir: Path) -> str:
    """``experiment/run`` (e.g. ``regression/version_0``): what tells runs apart in a legend."""
    return "/".join(log_dir.resolve().parts[-2:])


def checkpoint_folder(log_dir: Path, checkpoint_root: Path) -> Path:
    """``checkpoints/<experiment>/<run>``, the checkpoint folder of the run logged in ``logs/<experiment>/<run>``."""
    return checkpoint_root / log_dir.resolve().parent.name / log_dir.resolve().name
