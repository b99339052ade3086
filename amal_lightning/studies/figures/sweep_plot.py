"""A sweep figure's drawing: each variant's point (its seeds' centre and band as bars, from
:mod:`~amal_lightning.studies.figures.bands`) against its x, one line per group, on log–log axes where the
values allow; a diverged variant a cross at the top (a row per line, so that
each line's crosses can be read), an unstable one hollow. What the points are is worked out from a
study's runs by :mod:`amal_lightning.studies.figures.sweep`; the reference lines (:class:`Guides`) from
their logged references. The swept values label the x axis where they are, those whose labels would
overprint a neighbour's left out (:func:`thinned_tick_labels`).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from amal_lightning.errors import AmalError
from amal_lightning.studies.figures.bands import BAND_NAMES, bounds_of, spread
from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, set_footer, set_title

STATUS_STYLES = {
    "stable": {"marker": "o", "color": "0.3", "label": "stable: final training loss below the first"},
    "unstable": {"marker": "o", "color": "0.3", "markerfacecolor": "white", "label": "unstable: not below the first"},
    "diverged": {"marker": "X", "color": "0.3", "label": "diverged (at the top, a row per line)"},
}
CROSS_ROW = 0.05  # the rows of crosses, a line's below the previous one's, in fractions of the axes' height
GUIDE_STYLES = {"vline": "--", "limit": (0, (4, 2)), "mark": ":", "hline": "-."}


@dataclass(frozen=True)
class Guides:
    """A sweep's reference lines: ``vlines`` (one label), a ``limits`` value per line (its group) drawn in the
    line's colour, ``marks`` (value, label) drawn dotted, and ``hlines`` (one label), horizontal."""

    vlines: Sequence[float] = ()
    vline_label: str = ""
    limits: Mapping[str, Sequence[float]] = field(default_factory=dict)
    limit_label: str = ""
    marks: Sequence[tuple[float, str]] = ()
    hlines: Sequence[float] = ()
    hline_label: str = ""

    def positions(self) -> list[float]:
        """The x of every vertical line, finite ones: the axis shows them all."""
        xs = [*self.vlines, *(x for values in self.limits.values() for x in values), *(x for x, _ in self.marks)]
        return [x for x in xs if math.isfinite(x)]


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
    """One variant's point: the centre and band of its seeds that did not diverge (bands.py), how many they are."""

    x: float
    mean: Optional[float]
    low: float
    high: float
    status: str  # diverged if any seed did, else unstable if any seed was, else stable
    seeded: bool
    n: int


def draw_sweep(
    runs: Sequence[SweptRun],
    option: str,
    group: str,
    column: str,
    guides: Guides = Guides(),
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
    handles, statuses, xs_all, crosses, colour_of, bars_drawn = [], set(), [], [], {}, False
    values = [run.value for run in runs if run.status != "diverged" and run.value is not None]
    log = y == "log" or (y == "auto" and bool(values) and min(values) > 0)  # auto: log where it can be
    for index, value in enumerate(dict.fromkeys(run.group for run in runs)):
        colour = colour_of[value] = f"C{index % 10}"
        mine = [run for run in runs if run.group == value]
        points = []
        for label in dict.fromkeys(run.label for run in mine):
            seeds = [run for run in mine if run.label == label]
            status = next((s for s in ("diverged", "unstable") if any(run.status == s for run in seeds)), "stable")
            kept = [run.value for run in seeds if run.status != "diverged" and run.value is not None]
            found = spread(kept, log, bounds_of(column))  # geometric on a log axis, clipped to the range
            points.append(SweptPoint(seeds[0].x, found.centre, found.low, found.high, status, seeds[0].seeded, found.n))
        points.sort(key=lambda point: point.x)
        drawn = [point for point in points if point.mean is not None and point.status != "diverged"]
        seeded = any(point.seeded for point in drawn)  # the seeds averaged at each point
        name = f"{group} = {value}" if group else (value or column)
        counts = sorted({point.n for point in drawn})
        if seeded:
            name += f" (n={counts[0]})" if len(counts) == 1 else f" (n={counts[0]}–{counts[-1]})"
        if drawn:
            xs, means = [p.x for p in drawn], [p.mean for p in drawn]
            axes.plot(xs, means, color=colour, marker="o", label=plain(name))
            if seeded:  # the band of the seeds that did not diverge, as bars
                bars = [[p.mean - p.low for p in drawn], [p.high - p.mean for p in drawn]]
                axes.errorbar(xs, means, yerr=bars, fmt="none", ecolor=colour, capsize=3)
                bars_drawn = True
            hollow = [(p.x, p.mean) for p in drawn if p.status == "unstable"]
            if hollow:
                axes.scatter(*zip(*hollow, strict=True), marker="o", facecolors="white", edgecolors=colour, zorder=3)
            xs_all += xs
            handles.append(Line2D([], [], color=colour, marker="o", label=plain(name)))
        statuses.update(point.status for point in points)
        diverged = [point.x for point in points if point.status == "diverged"]
        if diverged:
            crosses.append((diverged, colour))
            xs_all += diverged
    for row, (xs, colour) in enumerate(crosses):  # the first line's on the top edge, the next ones below it
        axes.scatter(xs, [1.0 - CROSS_ROW * row] * len(xs), transform=axes.get_xaxis_transform(), marker="X", s=80)
        axes.collections[-1].set(color=colour, clip_on=False)
    xs_all += guides.positions()
    if xs_all and min(xs_all) > 0:
        axes.set_xscale("log")
        axes.set_xlim(min(xs_all) / 1.5, max(xs_all) * 1.5)  # the crosses and the vertical line included
    elif xs_all:
        margin = 0.05 * (max(xs_all) - min(xs_all) or abs(max(xs_all)) or 1.0)
        axes.set_xlim(min(xs_all) - margin, max(xs_all) + margin)
    swept = sorted({run.x for run in runs} | set(guides.positions()))
    if 0 < len(swept) <= 30:  # the swept values labelled where they are, as many as fit side by side
        axes.set_xticks(swept, labels=[f"{x:.3g}" for x in swept])
        axes.xaxis.set_minor_formatter(NullFormatter())
    if log:
        axes.set_yscale("log")
    handles += guide_lines(axes, guides, colour_of, group)
    if len(crosses) > 1:  # room at the top for the rows of crosses
        headroom(axes, CROSS_ROW * len(crosses))
    if bars_drawn and log:  # bars on a log axis are no mean ± std: the legend says what they are
        handles.append(Line2D([], [], color="0.3", marker="|", linestyle="", label=f"bars: {BAND_NAMES[True]}"))
    if statuses - {"stable"}:  # the markers' meanings, where some point is not a plain stable one
        handles += [Line2D([], [], linestyle="", **STATUS_STYLES[s]) for s in STATUS_STYLES if s in statuses]
    axes.set_xlabel(plain(f"{xlabel or option}{' (log scale)' * (axes.get_xscale() == 'log')}"))
    axes.set_ylabel(plain(f"{ylabel or column}{' (log scale)' * (axes.get_yscale() == 'log')}"))
    axes.grid(True, alpha=0.3)
    outside_legend(axes, handles)
    set_title(figure, axes, title or f"{column} against {option}")
    set_footer(figure, footer)
    thinned_tick_labels(figure, axes)
    return figure


def guide_lines(axes: Axes, guides: Guides, colour_of: Mapping[str, str], group: str) -> list[Line2D]:
    """Draws the guides' lines; returns their legend entries (one per label)."""
    handles = []
    for values, label, style in (
        (guides.vlines, guides.vline_label, "vline"),
        (guides.hlines, guides.hline_label, "hline"),
    ):
        draw_line = axes.axvline if style == "vline" else axes.axhline
        lines = [draw_line(value, color="0.15", linestyle=GUIDE_STYLES[style], linewidth=1.0) for value in values]
        if lines:
            lines[0].set_label(plain(label))
            handles.append(lines[0])
    for value, positions in guides.limits.items():
        colour = colour_of.get(value, "0.15")
        lines = [axes.axvline(x, color=colour, linestyle=GUIDE_STYLES["limit"], linewidth=1.2) for x in positions]
        if lines:
            name = f"{group} = {value}" if group else value
            lines[0].set_label(plain(f"{guides.limit_label}, {name}" if guides.limit_label else name))
            handles.append(lines[0])
    for x, label in guides.marks:
        handles.append(axes.axvline(x, color="0.15", linestyle=GUIDE_STYLES["mark"], linewidth=1.2, label=plain(label)))
    return handles


def headroom(axes: Axes, fraction: float) -> None:
    """Raises the top of the y axis so that the top ``fraction`` of the axes is free of the data's range."""
    low, high = axes.get_ylim()
    if axes.get_yscale() == "log" and low > 0:
        span = math.log(high / low) / (1 - fraction)
        axes.set_ylim(low, low * math.exp(span))
    else:
        axes.set_ylim(low, low + (high - low) / (1 - fraction))


def thinned_tick_labels(figure: Figure, axes: Axes, gap: float = 4.0) -> None:
    """Blanks each x tick label that would overprint the one kept before it (``gap`` pixels apart at least):
    a sweep of close values (0.14, 0.155, 0.16 on a log axis) labels what fits, left to right."""
    figure.canvas.draw()
    labels = axes.get_xticklabels()
    kept_right = -math.inf
    texts = []
    for label in labels:
        box = label.get_window_extent()
        if label.get_text() and box.x0 >= kept_right + gap:
            kept_right = box.x1
            texts.append(label.get_text())
        else:
            texts.append("")
    axes.set_xticks(axes.get_xticks(), labels=texts)
