"""The ``layers`` figure kind: the last logged value of each ``<prefix>NN`` curve against the layer number
NN, for example the mean transform-gate output of each layer of a Highway network (``val/gate/layer_``),
one line per variant; with seeds the mean over them with ±1 std error bars clipped to the quantity's range
(a gate's output in [0, 1]), the legend saying n; ``hline`` a value drawn across (the gates' start)."""

from collections.abc import Iterator, Sequence
from typing import Any, Literal, Optional

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from pydantic import Field

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import RunLog
from amal_lightning.studies.figures.bands import bounds_of, spread
from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, set_footer, set_title
from amal_lightning.studies.figures.options import FigureOptions, Names, Page, names_of


class Layers(FigureOptions):
    """The last value of each ``metric_prefix``-NN curve against NN, for the ``variant`` (or ``variants``) named."""

    kind: Literal["layers"] = Field(description="layers: each layer's last value against its number")
    metric_prefix: str = Field(description="the layers' curves without their number, e.g. val/gate/layer_")
    variant: Names = Field((), description="the variant drawn (or variants)")
    xlabel: str = Field("", description="what a layer is, e.g. highway block")
    hline: Optional[float] = Field(None, description="a value drawn as a horizontal line, e.g. the gates' start 0.119")
    hline_label: str = Field("", description="the horizontal line's legend, e.g. σ(b_T) = σ(−2): the gates' start")

    @classmethod
    def options_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        prefix = data.get("metric_prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("metric_prefix must name the layers' curves, e.g. val/gate/layer_")
        line = data.get("hline")
        if line is not None and (isinstance(line, bool) or not isinstance(line, (int, float))):
            raise ValueError(f"hline must be a number, got {line!r}")
        if "variant" not in data:
            return {}
        if "variants" in data:
            raise ValueError("give variant or variants, not both")
        chosen = names_of("variant", data["variant"])
        return {"variant": chosen, "variants": chosen}

    @classmethod
    def drawn_metrics(cls, values: dict[str, Any]) -> Sequence[str]:
        return (values["metric_prefix"],)

    def named_variants(self) -> Iterator[tuple[str, str]]:
        for name in self.variants:
            yield "variant" if self.variant else "variants", name


def draw_layers_figure(spec: Layers, page: Page) -> Figure:
    """The layers of the page's runs; AmalError if none has the curves."""
    runs = [(run.label, run.seed is not None, run.log) for run in page.runs]
    line = None if spec.hline is None else (spec.hline, spec.hline_label or f"{spec.hline:g}")
    texts = (spec.title or page.title, spec.ylabel, page.footer, spec.xlabel)
    return draw_layers(runs, spec.metric_prefix, *texts, hline=line)


def layer_values(log: RunLog, prefix: str) -> dict[int, float]:
    """Layer number → the last value of its ``<prefix>NN`` curve (a suffix that is not a number is no layer)."""
    values = {}
    for name, series in log.curves.items():
        suffix = name[len(prefix) :]
        if name.startswith(prefix) and suffix.isdigit() and len(series):
            values[int(suffix)] = series.values[-1]
    return values


def draw_layers(
    runs: Sequence[tuple[str, bool, RunLog]],
    prefix: str,
    title: str = "",
    ylabel: str = "",
    footer: str = "",
    xlabel: str = "",
    hline: Optional[tuple[float, str]] = None,
) -> Figure:
    """(variant label, whether it is one of seeds, log) of each run → the figure, with ``hline`` (value, legend)
    drawn across; the seeds' bars mean ± 1 std clipped to the quantity's range (a gate's [0, 1]); AmalError
    if no run has the curves."""
    figure, axes = new_figure()
    bounds = bounds_of(prefix)
    labels = list(dict.fromkeys(label for label, _, _ in runs))
    for index, label in enumerate(labels):
        mine = [(seeded, layer_values(log, prefix)) for name, seeded, log in runs if name == label]
        layers = sorted({layer for _, values in mine for layer in values})
        if not layers:
            continue
        stats = [spread([values[layer] for _, values in mine if layer in values], bounds=bounds) for layer in layers]
        means = [found.centre for found in stats]
        seeded = any(seeded for seeded, _ in mine)
        legend = f"{label} (n={len(mine)})" if seeded else label
        colour = f"C{index % 10}"
        axes.plot(layers, means, color=colour, marker="o", label=plain(legend))
        if seeded:
            bars = [
                [m - found.low for m, found in zip(means, stats, strict=True)],
                [found.high - m for m, found in zip(means, stats, strict=True)],
            ]
            axes.errorbar(layers, means, yerr=bars, fmt="none", ecolor=colour, capsize=3)
    if not axes.get_lines():
        raise AmalError(f"no run has {prefix}NN curves (one per layer)")
    if hline is not None:
        axes.axhline(hline[0], color="0.15", linestyle="-.", linewidth=1.0, label=plain(hline[1]))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(plain(xlabel or f"layer (NN of {prefix}NN)"))
    axes.set_ylabel(plain(ylabel or f"last value of {prefix}NN"))
    axes.grid(True, alpha=0.3)
    outside_legend(axes, [line for line in axes.get_lines() if not line.get_label().startswith("_")])
    set_title(figure, axes, title or f"{prefix}NN by layer")
    set_footer(figure, footer)
    return figure
