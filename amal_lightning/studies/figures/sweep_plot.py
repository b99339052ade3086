"""A sweep figure's drawing: each variant's point (the mean of its seeds) against its x, one line per group,
on log–log axes where the values allow; a diverged variant a cross on the top edge, an unstable one
hollow. What the points are is worked out from a study's runs by :mod:`amal_lightning.studies.figures.sweep`.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from amal_lightning.errors import AmalError
from amal_lightning.studies.figures.bands import mean_and_std
from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, set_footer

STATUS_STYLES = {
    "stable": {"marker": "o", "color": "0.3", "label": "stable: final training loss below the first"},
    "unstable": {"marker": "o", "color": "0.3", "markerfacecolor": "white", "label": "unstable: not below the first"},
    "diverged": {"marker": "X", "color": "0.3", "label": "diverged (on the top edge)"},
}


@dataclass(frozen=True)
class SweptRun:
    """One run of a sweep: its variant, the swept option's value, its group's value, what it reached."""

    label: str
    x: float
    group: str
    value: Optional[float]
    status: str  # stable, unstable or diverged
    seeded: bool = False


@dataclass(frozen=True)
class SweptPoint:
    """One variant's point: the mean and std of its seeds that did not diverge, and how many they are."""

    x: float
    mean: Optional[float]
    spread: float
    status: str  # diverged if any seed did, else unstable if any seed was, else stable
    seeded: bool
    n: int


def draw_sweep(
    runs: Sequence[SweptRun],
    option: str,
    group: str,
    column: str,
    vlines: Sequence[float] = (),
    vline_label: str = "",
    title: str = "",
    ylabel: str = "",
    footer: str = "",
    xlabel: str = "",
    y: str = "auto",
) -> Figure:
    """The sweep figure, one line per group (named ``group = value``, or by its value without a group
    option), its y axis ``y`` (``auto``: log if every point is positive); raises AmalError if no run
    gives the option a value."""
    if not runs:
        raise AmalError(f"no variant gives --{option} a number (the sweep's x)" if option else "no run to draw")
    figure, axes = new_figure()
    handles, statuses, xs_all, ys_all = [], set(), [], []
    for index, value in enumerate(dict.fromkeys(run.group for run in runs)):
        colour = f"C{index % 10}"
        mine = [run for run in runs if run.group == value]
        points = []
        for label in dict.fromkeys(run.label for run in mine):
            seeds = [run for run in mine if run.label == label]
            status = next((s for s in ("diverged", "unstable") if any(run.status == s for run in seeds)), "stable")
            kept = [run.value for run in seeds if run.status != "diverged" and run.value is not None]
            mean, spread = mean_and_std(kept)
            points.append(SweptPoint(seeds[0].x, mean, spread, status, seeds[0].seeded, len(kept)))
        points.sort(key=lambda point: point.x)
        drawn = [point for point in points if point.mean is not None and point.status != "diverged"]
        seeded = any(point.seeded for point in drawn)  # the seeds averaged at each point
        name = f"{group} = {value}" if group else (value or column)
        counts = sorted({point.n for point in drawn})
        if seeded:
            name += f" (n={counts[0]})" if len(counts) == 1 else f" (n={counts[0]}–{counts[-1]})"
        if drawn:
            xs, means, spreads = [p.x for p in drawn], [p.mean for p in drawn], [p.spread for p in drawn]
            axes.plot(xs, means, color=colour, marker="o", label=plain(name))
            if seeded:  # ±1 std over the seeds that did not diverge
                axes.errorbar(xs, means, yerr=spreads, fmt="none", ecolor=colour, capsize=3)
            hollow = [(p.x, p.mean) for p in drawn if p.status == "unstable"]
            if hollow:
                axes.scatter(*zip(*hollow, strict=True), marker="o", facecolors="white", edgecolors=colour, zorder=3)
            xs_all += xs
            ys_all += means
            handles.append(Line2D([], [], color=colour, marker="o", label=plain(name)))
        for point in points:
            statuses.add(point.status)
            if point.status == "diverged":
                axes.scatter([point.x], [1.0], transform=axes.get_xaxis_transform(), marker="X", s=80, color=colour)
                axes.collections[-1].set_clip_on(False)
                xs_all.append(point.x)
    xs_all += [position for position in vlines if math.isfinite(position)]
    if xs_all and min(xs_all) > 0:
        axes.set_xscale("log")
        axes.set_xlim(min(xs_all) / 1.5, max(xs_all) * 1.5)  # the crosses and the vertical line included
    elif xs_all:
        margin = 0.05 * (max(xs_all) - min(xs_all) or abs(max(xs_all)) or 1.0)
        axes.set_xlim(min(xs_all) - margin, max(xs_all) + margin)
    if 0 < len(set(xs_all)) <= 10:  # few values: each labelled where it is
        axes.set_xticks(sorted(set(xs_all)), labels=[f"{x:g}" for x in sorted(set(xs_all))])
        axes.xaxis.set_minor_formatter(NullFormatter())
    if y == "log" or (y == "auto" and ys_all and min(ys_all) > 0):  # auto: log where it can be
        axes.set_yscale("log")
    for position in vlines:
        line = axes.axvline(position, color="0.15", linestyle="--", linewidth=1.0, label=plain(vline_label))
    if vlines:
        handles.append(line)
    if statuses - {"stable"}:  # the markers' meanings, where some point is not a plain stable one
        handles += [Line2D([], [], linestyle="", **STATUS_STYLES[s]) for s in STATUS_STYLES if s in statuses]
    axes.set_xlabel(plain(f"{xlabel or option}{' (log scale)' * (axes.get_xscale() == 'log')}"))
    axes.set_ylabel(plain(f"{ylabel or column}{' (log scale)' * (axes.get_yscale() == 'log')}"))
    axes.set_title(plain(title or f"{column} against {option}"))
    axes.grid(True, alpha=0.3)
    outside_legend(axes, handles)
    set_footer(figure, footer)
    return figure
