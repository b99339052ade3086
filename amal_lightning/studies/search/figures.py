"""A search's figures: the optimization history, and the metric against each searched parameter.

- ``history.png``: the metric of each trial by its number (dots), the best so far (a step line);
  pruned trials hollow at the value their shortened run reached, failed ones (diverged, or no value)
  as crosses along the top edge.
- ``param-<option>.png``: the metric against each parameter, on a log axis for a ``log`` one, the
  choices in order for a categorical one, with the same marks.

The y axis is logarithmic when the values span more than two decades. Drawn on an Agg canvas
(:mod:`amal_lightning.studies.figures.canvas`), no pyplot.
"""

import math
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, save_png, set_footer
from amal_lightning.studies.spec import Study
from amal_lightning.studies.variants import slug

MARKS = {
    "COMPLETE": {"marker": "o", "color": "tab:blue", "linestyle": "none"},
    "PRUNED": {"marker": "o", "markerfacecolor": "none", "color": "tab:orange", "linestyle": "none"},
    "FAIL": {"marker": "x", "color": "tab:red", "linestyle": "none"},
}
NAMES = {"COMPLETE": "completed", "PRUNED": "pruned (value when stopped)", "FAIL": "failed or diverged (top edge)"}


def points(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], float]]:
    """Each trial's row with its value (NaN where there is none)."""
    return [(row, float(row["value"]) if row["value"] else math.nan) for row in rows if row["state"] in MARKS]


def y_axis(axes: Axes, values: list[float], metric: str) -> float:
    """Sets the y scale (log over two decades of positive values); returns the top edge for failed trials."""
    finite = [value for value in values if math.isfinite(value)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
        axes.set_yscale("log")
        top = max(finite) * 2.0
    else:
        span = (max(finite) - min(finite)) if finite else 1.0
        top = (max(finite) if finite else 1.0) + 0.1 * (span or 1.0)
    axes.set_ylabel(plain(metric))
    return top


def mark(axes: Axes, xs: list[Any], rows_values: list[tuple[dict[str, str], float]], top: float) -> list[Line2D]:
    """The trials as marks at ``xs``; the legend's handles of the kinds drawn."""
    handles = []
    for state, style in MARKS.items():
        chosen = [(x, value) for x, (row, value) in zip(xs, rows_values, strict=True) if row["state"] == state]
        if not chosen:
            continue
        ys = [top if state == "FAIL" or not math.isfinite(value) else value for _, value in chosen]
        handles += axes.plot([x for x, _ in chosen], ys, label=NAMES[state], **style)
    return handles


def history(study: Study, rows: list[dict[str, str]], path: Path) -> Path:
    assert study.search is not None
    figure, axes = new_figure()
    ordered = sorted(points(rows), key=lambda item: int(item[0]["trial"]))
    top = y_axis(axes, [value for _, value in ordered], study.search.metric)
    handles = mark(axes, [int(row["trial"]) for row, _ in ordered], ordered, top)
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
    top = y_axis(axes, [value for _, value in items], study.search.metric)
    column = f"param {param.key}"
    if param.type == "categorical":
        labels = [str(choice) for choice in param.choices]
        xs: list[Any] = [labels.index(row[column]) if row.get(column) in labels else -1 for row, _ in items]
        axes.set_xticks(range(len(labels)), labels)
    else:
        xs = [float(row[column]) for row, _ in items]
        if param.log:
            axes.set_xscale("log")
    handles = mark(axes, xs, items, top)
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


def draw_search(study: Study, rows: list[dict[str, str]]) -> list[Path]:
    """The search's PNG files in its study folder (none before the first trial)."""
    assert study.search is not None
    if not rows:
        return []
    paths = [history(study, rows, study.folder / "history.png")]
    for param in study.search.params:
        paths.append(against_param(study, rows, param, study.folder / f"param-{slug(param.key)}.png"))
    return paths
