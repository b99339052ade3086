"""Figures of runs' curves, drawn from their TensorBoard event files (``amal plot``, a study's figures).

One figure compares runs: one colour per run, one line style per stage (train solid, validation
dotted, test dashed), so that a run's train and test curves read as a pair. The runs of a variant
with seeds (their ``seed`` set, one ``label``) draw as one curve in a band, the legend saying n: the
mean ± 1 std, or on a log axis the geometric mean ×/÷ the geometric std, clipped to the quantity's
range (:mod:`~amal_lightning.studies.figures.bands`); a seed that diverged is drawn apart, thin. A run
that diverged ends with a cross where it stopped. When the values span more than two decades (a
diverging or a crawling step size beside a converging one) the y axis is logarithmic (``y="auto"``),
or the interesting curves would be flat lines at the bottom; ``y`` may also be ``linear``, ``log``,
or ``gap``: the metric minus its reference (``reference/<metric>``), L − L*, on a log axis, where a
linear rate of convergence is a straight line. ``references`` draws those reference values as horizontal lines,
``marks`` other reference scalars (the mean training image's MSE), dotted, each with its legend.

Drawn with matplotlib's object interface on an Agg canvas (:mod:`amal_lightning.studies.figures.canvas`):
no display and no pyplot state, so it works on a cluster's login node and in tests. :func:`draw`
returns the Figure, whose Axes hold the plotted data (what the tests check); :func:`save_png`
writes it.
"""

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Optional

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import XAxis
from amal_lightning.studies.figures.bands import BAND_NAMES, band_curve, bounds_of, distinct, reference_name, same_value
from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, save_png, set_footer, set_title
from amal_lightning.studies.figures.plotted import (
    PAIR_STYLES,
    STAGE_NAMES,
    STAGE_STYLES,
    PlottedRun,
    ceiling,
    colours,
    ends_early,
    groups_of,
    legend,
    line_style,
    run_points,
    wants_log_scale,
)

__all__ = ["PlottedRun", "draw", "save_png"]
REFERENCE_STYLE = {"color": "0.15", "linestyle": "-.", "linewidth": 1.0}
PREDICTED_NAME = "predicted by theory"  # the legend's name of a `*/predicted_*` curve's line style
ENDS = {"gap": "curve ends: L − L* ≤ 0 (L* reached within float32 rounding)", "log": "curve ends: values ≤ 0"}
X_LABELS = {
    "epoch": "epoch (0 = the first)",
    "step": "optimizer step",
    "time": "wall-clock time since the start (s)",
    "train_seconds": "seconds inside training steps (s)",
}


def draw(
    runs: Sequence[PlottedRun],
    metrics: Sequence[str],
    x: XAxis = "epoch",
    title: str = "",
    ylabel: str = "",
    *,
    y: str = "auto",
    references: Sequence[str] = (),
    reference_label: str = "",
    pairs: Sequence[Sequence[str]] = (),
    footer: str = "",
    marks: Mapping[str, str] = MappingProxyType({}),
) -> Figure:
    """One figure: for each run (a colour) each of ``metrics`` (a line style) against ``x``.

    Raises AmalError if no run has any of the metrics (or, for ``y="gap"``, their references).
    """
    figure, axes = new_figure()
    style_of = colours([run.label for run in runs], pairs)
    handles, sound, wild, ends, stages, stops = [], [], [], [], [], []  # values of runs that did not / did diverge
    log_scale = y in ("gap", "log") or (y == "auto" and wants_log_scale(drawn_values(runs, metrics, x, y)))
    banded = False
    for group in groups_of(runs):
        colour, pair_style = style_of[group[0].label]
        replicated = group[0].seed is not None
        first_style = None
        for metric in metrics:
            # with pairs, line styles tell a pair's members apart: a variant in no pair is solid
            style = pair_style or (PAIR_STYLES[0] if pairs else line_style(metric))
            drawn = False
            if replicated:  # the seeds that did not diverge: their centre and band (bands.py), in range
                steps_xs_ys = [run_points(run, metric, x, y) for run in group if not run.diverged]
                xs, spreads = band_curve([points for points in steps_xs_ys if points[0]], log_scale, bounds_of(metric))
                if xs:
                    centres, lows, highs = ([getattr(s, end) for s in spreads] for end in ("centre", "low", "high"))
                    axes.plot(xs, centres, color=colour, linestyle=style, label=f"{group[0].label}: {metric}")
                    axes.fill_between(xs, lows, highs, color=colour, alpha=0.2, linewidth=0)
                    sound.extend([*centres, *lows, *highs])
                    banded = drawn = True
                    if y in ENDS and ends_early([run for run in group if not run.diverged], metric, x, xs):
                        stops.append((xs[-1], centres[-1], colour))
            for run in group if not replicated else [run for run in group if run.diverged]:
                _, xs, ys = run_points(run, metric, x, y)
                if not xs:
                    continue
                seed = "" if run.seed is None else f" (seed {run.seed})"
                thin = {"linewidth": 0.8, "alpha": 0.7} if replicated else {}
                axes.plot(xs, ys, color=colour, linestyle=style, label=f"{run.label}{seed}: {metric}", **thin)
                (wild if run.diverged else sound).extend(ys)
                if run.diverged:  # where it stopped: the epoch it diverged at, or its last point
                    end = run.diverged_at if x == "epoch" and run.diverged_at is not None else xs[-1]
                    ends.append((end, ys[-1], colour))
                elif y in ENDS and ends_early([run], metric, x, xs):
                    stops.append((xs[-1], ys[-1], colour))
                drawn = True
            if drawn:
                first_style = first_style or style
                stages.append("predicted" if line_style(metric) == "-." else metric.split("/", 1)[0])
        if first_style is not None:
            handles.append(Line2D([], [], color=colour, linestyle=first_style, label=plain(legend(group))))
    if not (sound or wild):
        raise AmalError(nothing_to_draw(runs, metrics, x, y))
    if log_scale:
        axes.set_yscale("log")
    top = ceiling(sound, wild, log_scale)
    if top is not None:
        low = min(sound + wild)
        axes.set_ylim(low / 1.5 if log_scale else low - 0.05 * (top - low), top)
    for end_x, end_y, colour in ends:
        end_y = end_y if top is None else min(end_y, top)
        axes.scatter([end_x], [end_y], marker="X", s=80, color=colour, zorder=3, clip_on=False)
    for stop_x, stop_y, colour in stops:
        axes.scatter([stop_x], [stop_y], marker="v", s=50, color=colour, zorder=3)
    if stops:
        handles.append(Line2D([], [], linestyle="", marker="v", color="0.3", label=ENDS[y]))
    if banded and log_scale:  # a band on a log axis is no mean ± std: the legend says what it is
        handles.append(Patch(color="0.3", alpha=0.2, linewidth=0, label=f"band: {BAND_NAMES[True]} over seeds"))
    if y != "gap":
        handles += reference_lines(axes, runs, [m for m in metrics if m in references], reference_label, style_of)
        for name, label in marks.items():  # other reference scalars, dotted: the mean training image's MSE
            key = name.removeprefix("reference/")
            values = distinct([run.log.references[key] for run in runs if key in run.log.references])
            for value in values:
                text = label if len(values) == 1 else f"{label} = {value:.4g}"
                handles.append(axes.axhline(value, label=plain(text), color="0.45", linestyle=":", linewidth=1.2))
    if x in ("epoch", "step"):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(X_LABELS[x])
    axes.set_ylabel(plain(y_label(ylabel or ", ".join(metrics), y, log_scale)))
    axes.grid(True, alpha=0.3)
    if len(set(stages)) > 1:  # say which line style is which stage, for the stages drawn
        for stage, style in {**STAGE_STYLES, "predicted": "-."}.items():
            if stage in stages:
                handles.append(
                    Line2D([], [], color="0.3", linestyle=style, label=STAGE_NAMES.get(stage, PREDICTED_NAME))
                )
    outside_legend(axes, handles)
    set_title(figure, axes, title or f"{', '.join(metrics)} against {x}")
    set_footer(figure, footer)
    return figure


def drawn_values(runs: Sequence[PlottedRun], metrics: Sequence[str], x: XAxis, y: str) -> list[float]:
    """The values the figure draws, of the runs that did not diverge (of the others if all did): whether
    they span decades decides the y axis before any band is computed on it."""
    for kept in ([run for run in runs if not run.diverged], list(runs)):
        values = [value for run in kept for metric in metrics for value in run_points(run, metric, x, y)[2]]
        if values:
            return values
    return []


def y_label(base: str, y: str, log_scale: bool) -> str:
    """The y axis' label, saying what a gap is and when the axis is logarithmic."""
    if y == "gap":
        return f"{base} above its reference, L − L* (log scale)"
    return f"{base} (log scale)" if log_scale else base


def nothing_to_draw(runs: Sequence[PlottedRun], metrics: Sequence[str], x: str, y: str) -> str:
    """Why a figure has no point: the metrics, their references for a gap, or the x axis are missing."""
    having = [run for run in runs if any(metric in run.log.curves for metric in metrics)]
    available = sorted({name for run in runs for name in run.log.curves})
    if not having:
        return f"no run has {' or '.join(metrics)} (their curves: {', '.join(available) or 'none'})"
    if y == "gap" and not any(metric in run.log.references for run in having for metric in metrics):
        return f"no run has reference/{' or reference/'.join(metrics)}, which y: gap subtracts"
    if x == "train_seconds":
        return "no run logged time/train_seconds (the x axis train_seconds)"
    return f"no finite{' positive' if y in ('gap', 'log') else ''} value of {' or '.join(metrics)} to draw"


def reference_lines(
    axes: Axes,
    runs: Sequence[PlottedRun],
    metrics: Sequence[str],
    label: str,
    style_of: dict[str, tuple[str, Optional[str]]],
) -> list[Line2D]:
    """A horizontal line at each of a metric's ``reference/<metric>`` values: one for all the runs that share
    it, in the colour of the first variant if the runs do not all share it (a PCA reference differs by code
    size), followed by its value only where two values would have the same name; in a study with splits, the
    mean over the splits (each split has its own optimum). Returns their legend entries."""
    handles = []
    stage = {metric: f", {STAGE_NAMES.get(metric.split('/')[0], '')}" * (len(metrics) > 1) for metric in metrics}
    splits = {run.variant.split for run in runs if run.variant is not None and run.variant.split is not None}
    for metric in metrics:
        by_value: dict[float, list[PlottedRun]] = {}
        for run in runs:
            value = run.log.references.get(metric, math.nan)
            if splits:  # a reference per split: their mean, one line
                value = statistics.fmean(r.log.references.get(metric, math.nan) for r in runs if r.label == run.label)
            if math.isfinite(value):  # a reference that exists
                same = next((seen for seen in by_value if same_value(seen, value)), value)
                by_value.setdefault(same, []).append(run)
        over = f" (mean over {len(splits)} splits)" if len(splits) > 1 else ""
        names = {
            value: reference_name(metric, label, [run.log.hyperparameters for run in mine]) + stage[metric] + over
            for value, mine in by_value.items()
        }
        for value, mine in by_value.items():
            variants = list(dict.fromkeys(run.label for run in mine))
            name = names[value]
            if list(names.values()).count(name) > 1:  # its value tells it apart (its colour, whose it is)
                name = f"{name} = {value:.5g}"
            style = REFERENCE_STYLE if len(by_value) == 1 else {**REFERENCE_STYLE, "color": style_of[variants[0]][0]}
            handles.append(axes.axhline(value, label=plain(name), **style))
    return handles


def run_label(log_dir: Path) -> str:
    """``experiment/run`` (e.g. ``regression/version_0``): what tells runs apart in a legend."""
    return "/".join(log_dir.resolve().parts[-2:])


def checkpoint_folder(log_dir: Path, checkpoint_root: Path) -> Path:
    """``checkpoints/<experiment>/<run>``, the checkpoint folder of the run logged in ``logs/<experiment>/<run>``."""
    return checkpoint_root / log_dir.resolve().parent.name / log_dir.resolve().name
