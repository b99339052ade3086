"""The ``layers`` figure kind: the last logged value of each ``<prefix>NN`` curve against the layer number
NN, for example the mean transform-gate output of each layer of a Highway network (``val/gate/layer_``),
one line per variant; with seeds the mean over them with ±1 std error bars, the legend saying n."""

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from pydantic import Field

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import RunLog
from amal_lightning.studies.figures.bands import mean_and_std
from amal_lightning.studies.figures.canvas import new_figure, outside_legend, plain, set_footer, set_title
from amal_lightning.studies.figures.options import FigureOptions, Names, Page, names_of


class Layers(FigureOptions):
    """The last value of each ``metric_prefix``-NN curve against NN, for the ``variant`` (or ``variants``) named."""

    kind: Literal["layers"] = Field(description="layers: each layer's last value against its number")
    metric_prefix: str = Field(description="the layers' curves without their number, e.g. val/gate/layer_")
    variant: Names = Field((), description="the variant drawn (or variants)")
    xlabel: str = Field("", description="what a layer is, e.g. highway block")

    @classmethod
    def options_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        prefix = data.get("metric_prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError("metric_prefix must name the layers' curves, e.g. val/gate/layer_")
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
    return draw_layers(runs, spec.metric_prefix, spec.title or page.title, spec.ylabel, page.footer, spec.xlabel)


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
) -> Figure:
    """(variant label, whether it is one of seeds, log) of each run → the figure; AmalError if none has the curves."""
    figure, axes = new_figure()
    labels = list(dict.fromkeys(label for label, _, _ in runs))
    for index, label in enumerate(labels):
        mine = [(seeded, layer_values(log, prefix)) for name, seeded, log in runs if name == label]
        layers = sorted({layer for _, values in mine for layer in values})
        if not layers:
            continue
        stats = [mean_and_std([values[layer] for _, values in mine if layer in values]) for layer in layers]
        means, spreads = [mean for mean, _ in stats], [spread for _, spread in stats]
        seeded = any(seeded for seeded, _ in mine)
        legend = f"{label} (n={len(mine)})" if seeded else label
        colour = f"C{index % 10}"
        axes.plot(layers, means, color=colour, marker="o", label=plain(legend))
        if seeded:
            axes.errorbar(layers, means, yerr=spreads, fmt="none", ecolor=colour, capsize=3)
    if not axes.get_lines():
        raise AmalError(f"no run has {prefix}NN curves (one per layer)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel(plain(xlabel or f"layer (NN of {prefix}NN)"))
    axes.set_ylabel(plain(ylabel or f"last value of {prefix}NN"))
    axes.grid(True, alpha=0.3)
    outside_legend(axes, [line for line in axes.get_lines() if not line.get_label().startswith("_")])
    set_title(figure, axes, title or f"{prefix}NN by layer")
    set_footer(figure, footer)
    return figure
