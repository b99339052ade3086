"""The ``curves`` figure kind (a study file's default, and ``amal plot``'s): ``metrics`` of the runs
against each ``x`` axis, one PNG per axis, ``<name>-<axis>.png``, drawn by
:func:`amal_lightning.studies.figures.plot.draw` (one colour per variant, a mean and a band over its
seeds, one line style per stage or per member of a pair)."""

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal, Union

from matplotlib.figure import Figure
from pydantic import BeforeValidator, Field

from amal_lightning.runs.events import X_AXES, XAxis
from amal_lightning.studies.figures.options import FigureOptions, Names, Page, as_tuple, names_of, text
from amal_lightning.studies.figures.plot import draw

DEFAULT_METRICS = ("train/loss", "test/loss")
Y_SCALES = ("auto", "linear", "log", "gap")
Axes = Annotated[tuple[XAxis, ...], BeforeValidator(as_tuple, json_schema_input_type=Union[XAxis, list[XAxis]])]
References = Annotated[tuple[str, ...], BeforeValidator(as_tuple, json_schema_input_type=Union[bool, str, list[str]])]


class Curves(FigureOptions):
    """``metrics`` of ``variants`` against each ``x``; ``y`` the vertical scale; ``references`` the metrics
    whose ``reference/<metric>`` is drawn as a line; ``marks`` other reference scalars drawn as lines
    (the mean training image's MSE); ``pairs`` the variants told apart by line style."""

    kind: Literal["curves"] = Field("curves", description="curves (the default), sweep or layers")
    metrics: Names = Field(DEFAULT_METRICS, description="the logged metrics drawn, e.g. [train/loss, test/loss]")
    x: Axes = Field(("epoch",), description=f"the horizontal axes, one file each, among {', '.join(X_AXES)}")
    y: Literal[Y_SCALES] = Field(
        "auto", description="auto (log over two decades), linear, log, or gap (the metric minus its reference)"
    )
    references: References = Field(
        (), description="true, or the metrics whose reference/METRIC value is drawn as a horizontal line"
    )
    reference_label: str = Field("", description="the reference lines' legend (default: what the reference is)")
    marks: dict[str, str] = Field(
        default_factory=dict,
        description="reference scalars drawn as dotted lines, each with its legend: {reference/NAME: text}",
    )
    pairs: tuple[tuple[str, ...], ...] = Field(
        (), description="variants sharing a colour, told apart by line style, e.g. [[tied 80, untied 80]]"
    )

    @classmethod
    def options_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        metrics = names_of("metrics", data["metrics"]) if data.get("metrics") else DEFAULT_METRICS
        axes = names_of("x", data.get("x", "epoch"))
        if any(axis not in X_AXES for axis in axes):
            raise ValueError(f"x must be among {', '.join(X_AXES)}, got {list(axes)}")
        y = text(data.get("y", "auto"))
        if y not in Y_SCALES:
            raise ValueError(f"y must be one of {', '.join(Y_SCALES)}, got {data['y']!r}")
        wanted = data.get("references", False)
        references = (metrics if wanted else ()) if isinstance(wanted, bool) else names_of("references", wanted)
        options = {"metrics": metrics, "x": axes, "y": y, "references": references}
        marks = data.get("marks", {})
        if not isinstance(marks, dict) or not all(str(name).startswith("reference/") for name in marks):
            raise ValueError(f"marks must map reference scalars to their legends, got {marks!r}")
        if "pairs" in data:
            options["pairs"] = pair_list(data["pairs"], metrics)
        return options

    @classmethod
    def drawn_metrics(cls, values: dict[str, Any]) -> Sequence[str]:
        return values["metrics"]

    def file_names(self) -> list[tuple[str, str]]:
        return [(axis, f"{self.name}-{axis}.png") for axis in self.x]

    def named_variants(self) -> Iterator[tuple[str, str]]:
        yield from super().named_variants()
        for pair in self.pairs:
            for name in pair:
                yield "pairs", name


def pair_list(value: Any, metrics: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """``pairs: [[tied 80, untied 80], ...]``: each pair's variants share a colour, told apart by line style."""
    if not isinstance(value, list) or not all(isinstance(pair, list) and len(pair) >= 2 for pair in value):
        raise ValueError("pairs must be a list of lists of two or more variants, e.g. [[tied 80, untied 80]]")
    pairs = tuple(tuple(text(name) for name in pair) for pair in value)
    flat = [name for pair in pairs for name in pair]
    twice = next((name for name in flat if flat.count(name) > 1), None)
    if twice is not None:
        raise ValueError(f"pairs: {twice!r} is in more than one pair")
    if len({metric.split("/", 1)[0] for metric in metrics}) > 1:
        raise ValueError(
            "pairs tell a pair's variants apart by line style, which otherwise tells the stages apart: "
            f"give metrics of one stage (got {', '.join(metrics)})"
        )
    return pairs


def draw_curves(spec: Curves, page: Page) -> Figure:
    """The figure's file for ``page.axis``: its metrics of the page's runs; AmalError if none has any."""
    options = {"references": spec.references, "reference_label": spec.reference_label, "pairs": spec.pairs}
    options["marks"] = spec.marks
    title = spec.title or page.title
    return draw(page.runs, spec.metrics, page.axis, title, spec.ylabel, y=spec.y, footer=page.footer, **options)
