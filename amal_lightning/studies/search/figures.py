"""A search's figures: the optimization history, and the metric against each searched parameter.

- ``history.png``: the metric of each trial by its number (dots), the best so far (a step line);
  pruned trials hollow at the value their shortened run reached, failed ones (diverged, or no value)
  as crosses in a row along the top edge of the axes: they have no value, so none is made up for them
  and the axis spans the values there are.
- ``param-<option>.png``: the metric against each parameter, on a log axis for a ``log`` one, the
  choices in order for a categorical one, with the same marks; the first categorical parameter
  searched besides it (a batch size) colours the marks, one colour per choice.

The y axis is logarithmic when the values span more than two decades. Drawn on an Agg canvas
(:mod:`amal_lightning.studies.figures.canvas`), no pyplot.
"""

import math
from pathlib import Path
from typing import Any, Optional

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, save_png, set_footer
from amal_lightning.studies.spec import Study
from amal_lightning.studies.variants import slug

MARKS = {
    "COMPLETE": {"marker": "o", "linestyle": "none"},
    "PRUNED": {"marker": "o", "markerfacecolor": "none", "linestyle": "none"},
    "FAIL": {"marker": "x", "linestyle": "none"},
}
NAMES = {"COMPLETE": "completed", "PRUNED": "pruned (value when stopped)", "FAIL": "failed or diverged (top edge)"}
COLORS = {"COMPLETE": "tab:blue", "PRUNED": "tab:orange", "FAIL": "tab:red"}  # when nothing else colours the marks
FAILED_ROW = 0.96  # where the failed trials sit, as a fraction of the axes' height
HISTORY_FILE = "history.png"  # the metric of each trial by its number, the best so far


def points(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], float]]:
    """Each trial's row with its value (NaN where there is none)."""
    return [(row, float(row["value"]) if row["value"] else math.nan) for row in rows if row["state"] in MARKS]


def y_axis(axes: Axes, items: list[tuple[dict[str, str], float]], metric: str) -> None:
    """Sets the y scale from the values of the trials that have one (log over two decades of positive values)."""
    finite = [value for row, value in items if row["state"] != "FAIL" and math.isfinite(value)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
        axes.set_yscale("log")
    axes.set_ylabel(plain(metric))


def mark(
    axes: Axes, xs: list[Any], items: list[tuple[dict[str, str], float]], by: Optional[str] = None, order: tuple = ()
) -> list:
    """The trials as marks at ``xs``, coloured by their ``param BY`` value (in ``order``, the choices' order) if
    given; the legend's handles."""
    ranks = {str(choice): rank for rank, choice in enumerate(order)}
    values = {row.get(f"param {by}", "") for row, _ in items}
    groups = sorted(values, key=lambda value: (ranks.get(value, len(ranks)), value)) if by else [None]
    palette = {group: f"C{index % 10}" for index, group in enumerate(groups)}
    handles = []
    for state, style in MARKS.items():
        for group in groups:
            chosen = [
                (x, value)
                for x, (row, value) in zip(xs, items, strict=True)
                if row["state"] == state and (group is None or row.get(f"param {by}", "") == group)
            ]
            failed = [x for x, value in chosen if state == "FAIL" or not math.isfinite(value)]
            valued = [(x, value) for x, value in chosen if state != "FAIL" and math.isfinite(value)]
            color = COLORS[state] if group is None else palette[group]
            if valued:
                axes.plot([x for x, _ in valued], [v for _, v in valued], color=color, **style)
            if failed:  # a row along the top, in the axes' height: no value is made up for them
                axes.plot(
                    failed,
                    [FAILED_ROW] * len(failed),
                    color=color,
                    clip_on=False,
                    transform=axes.get_xaxis_transform(),
                    **MARKS["FAIL"],
                )
        if any(row["state"] == state for row, _ in items):
            handles.append(Line2D([], [], color=COLORS[state] if by is None else "0.3", label=NAMES[state], **style))
    if by:
        handles += [
            Line2D([], [], color=palette[g], marker="s", linestyle="none", label=plain(f"{by} {g}")) for g in groups
        ]
    return handles


def history(study: Study, rows: list[dict[str, str]], path: Path) -> Path:
    assert study.search is not None
    figure, axes = new_figure()
    ordered = sorted(points(rows), key=lambda item: int(item[0]["trial"]))
    y_axis(axes, ordered, study.search.metric)
    handles = mark(axes, [int(row["trial"]) for row, _ in ordered], ordered)
    pick = min if study.search.direction == "minimize" else max
    best, xs, ys = None, [], []
    for row, value in ordered:
        if row["state"] == "COMPLETE" and math.isfinite(value):
            best = value if best is None else pick(best, value)
        if best is not None:
            xs.append(int(row["trial"]))
            ys.append(best)
    if xs:
        handles += axes.step(xs, ys, where="post", color="0.2", label="best so far")
    axes.set_xlabel("trial")
    axes.set_title(plain(f"{study.name}: {study.search.metric} by trial ({study.search.direction})"), fontsize="medium")
    outside_legend(axes, handles)
    set_footer(figure, footer(study, rows))
    save_png(figure, path)
    return path


def against_param(study: Study, rows: list[dict[str, str]], param: Any, path: Path) -> Path:
    assert study.search is not None
    figure, axes = new_figure()
    items = points(rows)
    y_axis(axes, items, study.search.metric)
    column = f"param {param.key}"
    if param.type == "categorical":
        labels = [str(choice) for choice in param.choices]
        xs: list[Any] = [labels.index(row[column]) if row.get(column) in labels else -1 for row, _ in items]
        axes.set_xticks(range(len(labels)), labels)
    else:
        xs = [float(row[column]) for row, _ in items]
        if param.log:
            axes.set_xscale("log")
    others = [other for other in study.search.params if other.type == "categorical" and other.key != param.key]
    by = others[0] if others else None
    handles = mark(axes, xs, items, by=by and by.key, order=tuple(by.choices) if by else ())
    axes.set_xlabel(plain(param.key + (" (log scale)" if param.log else "")))
    axes.set_title(plain(f"{study.name}: {study.search.metric} against {param.key}"), fontsize="medium")
    outside_legend(axes, handles)
    set_footer(figure, footer(study, rows))
    save_png(figure, path)
    return path


def footer(study: Study, rows: list[dict[str, str]]) -> str:
    seeds = study.seeds
    each = f", each the mean of {len(seeds)} seeds" if seeds else ""
    return f"study {study.name} ({study.source}): {len(rows)} trials of a TPE search{each}"


def search_file_names(study: Study) -> list[str]:
    """The names of the search's PNG files: ``history.png``, then ``param-<option>.png`` per parameter."""
    assert study.search is not None
    return [HISTORY_FILE, *(param_file_name(param) for param in study.search.params)]


def param_file_name(param: Any) -> str:
    return f"param-{slug(param.key)}.png"


def draw_search(study: Study, rows: list[dict[str, str]]) -> list[Path]:
    """The search's PNG files in its study folder (none before the first trial)."""
    assert study.search is not None
    if not rows:
        return []
    paths = [history(study, rows, study.folder / HISTORY_FILE)]
    for param in study.search.params:
        paths.append(against_param(study, rows, param, study.folder / param_file_name(param)))
    return paths
