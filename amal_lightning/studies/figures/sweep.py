"""The ``sweep`` figure kind: a final value (a summary column) against a swept option, on log–log axes.

One line per value of another option (``group``), one point per variant at its option's value,
read from its ``amal fit`` options (``--model.learning_rate=0.1``, or the study's common ones);
or, where the swept quantity is no one option (a depth that each model counts by another option),
``lines`` names each line's variants and the x of each.
With seeds, the point is the mean over the seeds that did not diverge, with ±1 std error bars (on a
log axis the geometric mean ×/÷ the geometric std, clipped to the quantity's range).
A diverged variant (any of its seeds) is a cross on the top edge at its option's value; an
unstable one (its final training loss not below its first) is a hollow point; a stable one a
filled point (drawn by :mod:`amal_lightning.studies.figures.sweep_plot`). Reference scalars the runs
logged draw as lines: ``vline`` a vertical one (``reference/step_limit``, the step size 2/λ_max beyond
which full-batch descent diverges), ``limit`` one per line in its colour, read from that line's runs
(``reference/step_limit_batch``, the mean-square limit of each batch size), ``marks`` dotted ones with
their own labels (``{reference/step_fastest: "ε* = 2/(λ_min + λ_max)"}``) and ``hline`` a horizontal
one (``reference/train/loss``, L*).
"""

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, Literal, Optional

from matplotlib.figure import Figure
from pydantic import BeforeValidator, Field

from amal_lightning.runs.events import RunLog
from amal_lightning.runs.options import option_text
from amal_lightning.studies.figures.bands import distinct
from amal_lightning.studies.figures.options import FigureOptions, Page, text
from amal_lightning.studies.figures.plotted import PlottedRun
from amal_lightning.studies.figures.sweep_plot import Guides, SweptRun, draw_sweep
from amal_lightning.studies.variants import Variant

COLUMN = re.compile(r"^(final|best|tested) \S+$")  # a summary column: final train/loss, tested test/acc
LINES_EXAMPLE = "e.g. lines: {plain: {plain 10: 10, plain 20: 20}}"
Line = tuple[str, tuple[tuple[str, float], ...]]  # (label, ((variant, x), ...))


def line_tuples(value: Any) -> Any:
    """``lines`` as written (a mapping of mappings) as the field keeps it: (label, ((variant, x), ...)) each."""
    if isinstance(value, dict):
        return tuple((label, tuple(points.items())) for label, points in value.items())
    return value


Lines = Annotated[tuple[Line, ...], BeforeValidator(line_tuples, json_schema_input_type=dict[str, dict[str, float]])]


class Sweep(FigureOptions):
    """``metric`` (a summary column) against the option ``x`` (one line per value of ``group``), or against
    the x that ``lines`` gives each variant; ``vline`` a reference scalar drawn as a vertical line."""

    kind: Literal["sweep"] = Field(description="sweep: a summary column against an option")
    x: str = Field("", description="the swept option, e.g. model.learning_rate (or lines)")
    metric: str = Field("final train/loss", description="a column like 'final train/loss' or 'tested test/acc'")
    group: str = Field("", description="an option: one line per value of it")
    lines: Lines = Field((), description="each line's label and its variants with the x of each, instead of x")
    xlabel: str = Field("", description="what the horizontal axis counts (needed with lines)")
    y: Literal["auto", "linear", "log"] = Field("auto", description="auto (log if every point is positive)")
    vline: str = Field("", description="a reference scalar drawn as a vertical line, e.g. reference/step_limit")
    vline_label: str = Field("", description="the vertical line's legend")
    limit: str = Field(
        "", description="a reference scalar drawn per line in its colour, e.g. reference/step_limit_batch"
    )
    limit_label: str = Field("", description="the per-line vertical lines' legend (each line's name follows)")
    marks: dict[str, str] = Field(
        default_factory=dict, description="reference scalars drawn dotted, each with its legend: {reference/NAME: text}"
    )
    hline: str = Field("", description="a reference scalar drawn as a horizontal line, e.g. reference/train/loss")
    hline_label: str = Field("", description="the horizontal line's legend")

    @classmethod
    def options_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        option = data.get("x")
        if "lines" in data:
            if "x" in data or "group" in data:
                raise ValueError("give lines (each variant's x) or x and group (options), not both")
            if not text(data.get("xlabel", "")).strip():
                raise ValueError("lines need an xlabel saying what their x counts")
            option = ""
        elif not isinstance(option, str) or not option.strip("-"):
            raise ValueError("x must name the swept option, e.g. x: model.learning_rate")
        metric = text(data.get("metric", "final train/loss"))
        if not COLUMN.match(metric):
            raise ValueError(f"metric {metric!r} is not a column like 'final train/loss' or 'tested test/acc'")
        marks = data.get("marks", {})
        if not isinstance(marks, dict):
            raise ValueError(f"marks must map reference scalars to their legends, got {marks!r}")
        named = [(key, text(data.get(key, ""))) for key in ("vline", "limit", "hline")]
        for key, name in [*named, *(("marks", text(name)) for name in marks)]:
            if name and not name.startswith("reference/"):
                raise ValueError(f"{key} must name a reference scalar, e.g. reference/step_limit, got {name!r}")
        vline = text(data.get("vline", ""))
        y = text(data.get("y", "auto"))
        if y not in ("auto", "linear", "log"):
            raise ValueError(f"y of a sweep must be one of auto, linear, log, got {data['y']!r}")
        options = {"x": option.lstrip("-"), "metric": metric, "group": text(data.get("group", "")).lstrip("-")}
        if option == "":
            options["lines"] = line_list(data["lines"])
        return {**options, "vline": vline, "y": y}

    @classmethod
    def drawn_metrics(cls, values: dict[str, Any]) -> Sequence[str]:
        return (values["metric"].split(" ", 1)[1],)

    def named_variants(self) -> Iterator[tuple[str, str]]:
        yield from super().named_variants()
        for label, points in self.lines:
            for name, _ in points:
                yield f"lines: {label}", name


def line_list(value: Any) -> tuple[Line, ...]:
    """``lines: {plain: {plain 10: 10, plain 20: 20}, highway: {...}}``: each line's variants and their x."""
    if not isinstance(value, dict) or not value:
        raise ValueError(f"lines must map each line's label to its variants and their x, {LINES_EXAMPLE}")
    lines, seen = [], set()
    for label, points in value.items():
        if not isinstance(points, dict) or not points:
            raise ValueError(f"lines: {label!r} must map its variants to their x, {LINES_EXAMPLE}")
        for name, x in points.items():
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ValueError(f"lines: {label}: {name}: x must be a number, got {x!r}")
            if text(name) in seen:
                raise ValueError(f"lines: {name!r} is on more than one line")
            seen.add(text(name))
        lines.append((text(label), tuple((text(name), float(x)) for name, x in points.items())))
    return tuple(lines)


def draw_sweep_figure(spec: Sweep, page: Page) -> Figure:
    """The sweep of the page's runs; AmalError if no run has a point."""
    if spec.lines:  # each line's variants at the x it gives them
        placed = {name: (x, label) for label, points in spec.lines for name, x in points}
        runs = placed_runs(page.runs, placed, spec.metric)
    else:
        runs = swept_runs(page.runs, page.common, spec.x, spec.group, spec.metric)
    texts = (spec.title or page.title, spec.ylabel, page.footer, spec.xlabel)
    return draw_sweep(runs, spec.x, spec.group, spec.metric, guides_of(spec, page, runs), *texts, y=spec.y)


def guides_of(spec: Sweep, page: Page, runs: Sequence[SweptRun]) -> Guides:
    """The reference lines the sweep asks for, from the logs of the runs drawn (a limit from each line's)."""
    line_of = {run.label: run.group for run in runs}
    logs = [run.log for run in page.runs if run.label in line_of]
    limits = {}
    if spec.limit:
        for line in dict.fromkeys(line_of.values()):
            mine = [run.log for run in page.runs if line_of.get(run.label) == line]
            if values := reference_values(mine, spec.limit):
                limits[line] = values
    marks = [(value, label) for name, label in spec.marks.items() for value in reference_values(logs, name)]
    return Guides(
        reference_values(logs, spec.vline) if spec.vline else [],
        spec.vline_label or spec.vline,
        limits,
        spec.limit_label or spec.limit,
        marks,
        reference_values(logs, spec.hline) if spec.hline else [],
        spec.hline_label or spec.hline,
    )


def option_value(words: Sequence[str], option: str) -> Optional[str]:
    """The value that command-line ``words`` give ``--option`` (``--option=V`` or ``--option V``), the last
    one winning, or None."""
    value = None
    for index, word in enumerate(words):
        if word.startswith(f"--{option}="):
            value = word.split("=", 1)[1]
        elif word == f"--{option}" and index + 1 < len(words):
            value = words[index + 1]
    return value


def option_of(common: Sequence[str], variant: Variant, option: str) -> Optional[str]:
    """The value a study's variant gives ``option``, as the command line spells it: its own options (a mapping)
    over the study's ``common`` ones (words), or None."""
    if option in variant.options:
        return option_text(variant.options[option])
    return option_value(common, option)


def stability(run: PlottedRun) -> str:
    """``diverged`` (its record says so), ``unstable`` (final training loss not below the first) or ``stable``."""
    if run.diverged:
        return "diverged"
    curve = run.log.curves.get("train/loss")
    if curve is not None and len(curve) and not curve.values[-1] < curve.values[0]:
        return "unstable"
    return "stable"


def swept_runs(
    runs: Sequence[PlottedRun], common: Sequence[str], option: str, group: str, column: str
) -> list[SweptRun]:
    """The runs whose options give ``option`` a number, each with its ``column`` of the summary."""
    placed = {}
    for run in runs:
        assert run.variant is not None, "a sweep draws a study's runs"
        value = option_of(common, run.variant, option)
        try:
            x = float(value) if value is not None else math.nan
        except ValueError:
            x = math.nan
        if not math.isnan(x):
            placed[run.variant.label] = (x, (option_of(common, run.variant, group) or "") if group else "")
    return placed_runs(runs, placed, column)


def placed_runs(runs: Sequence[PlottedRun], placed: Mapping[str, tuple[float, str]], column: str) -> list[SweptRun]:
    """The runs of the variants that ``placed`` gives an (x, line), each with its ``column`` of the summary."""
    swept = []
    for run in runs:
        if run.label not in placed:
            continue
        x, line = placed[run.label]
        cell = run.summary.get(column, "")
        value = float(cell) if cell else None
        swept.append(SweptRun(run.label, x, line, value, stability(run), run.seed is not None))
    return swept


def reference_values(logs: Sequence[RunLog], name: str) -> list[float]:
    """The distinct values of the runs' ``reference/<name>`` scalar (``name`` with or without its prefix)."""
    key = name.removeprefix("reference/")
    return distinct([log.references[key] for log in logs if key in log.references])
