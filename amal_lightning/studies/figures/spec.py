"""A study file's ``figures``: each a mapping, read and checked here (the keys are listed in
:mod:`amal_lightning.studies.spec`). Every error is one line naming the file, the figure and the key."""

import re
from dataclasses import dataclass
from typing import Any

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import X_AXES
from amal_lightning.studies.variants import slug

DEFAULT_METRICS = ("train/loss", "test/loss")
FIGURE_KINDS = ("curves", "sweep", "layers")
Y_SCALES = ("auto", "linear", "log", "gap")
COMMON_KEYS = ("name", "kind", "title", "ylabel", "variants")
KIND_KEYS = {
    "curves": ("metrics", "x", "y", "references", "reference_label", "pairs"),
    "sweep": ("x", "metric", "group", "lines", "xlabel", "y", "vline", "vline_label"),
    "layers": ("metric_prefix", "variant", "xlabel"),
}
KINDS_KEYS = tuple(key for keys in KIND_KEYS.values() for key in keys if key != "x")
FIGURE_KEYS = (*dict.fromkeys(COMMON_KEYS + KINDS_KEYS), "x")
COLUMN = re.compile(r"^(final|best|tested) \S+$")  # a summary column: final train/loss, tested test/acc


@dataclass(frozen=True)
class FigureSpec:
    """A figure to draw. ``curves``: ``metrics`` of ``variants`` (all if empty), one PNG per ``x`` axis;
    ``sweep``: a summary column against the option ``x[0]``, or against the value each of ``lines``
    gives its variants; ``layers``: the last value of each ``metric_prefix``-NN curve against its
    layer number."""

    name: str
    metrics: tuple[str, ...] = DEFAULT_METRICS
    x: tuple[str, ...] = ("epoch",)
    title: str = ""
    ylabel: str = ""
    variants: tuple[str, ...] = ()
    kind: str = "curves"
    y: str = "auto"
    references: tuple[str, ...] = ()  # the metrics whose reference/<metric> is drawn as a line
    reference_label: str = ""
    pairs: tuple[tuple[str, ...], ...] = ()
    metric: str = ""  # sweep: the summary column drawn
    group: str = ""  # sweep: one line per value of this option
    lines: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()  # sweep: (label, ((variant, x), ...)) per line
    xlabel: str = ""  # sweep, layers: what the horizontal axis counts
    vline: str = ""  # sweep: a reference/<name> drawn as a vertical line
    vline_label: str = ""
    metric_prefix: str = ""  # layers

    def file_names(self) -> list[tuple[str, str]]:
        """(x axis, PNG file name) of each file the figure makes: one per axis for curves, else one."""
        if self.kind == "curves":
            return [(axis, f"{self.name}-{axis}.png") for axis in self.x]
        return [(self.x[0] if self.x else "", f"{self.name}.png")]


def text_list(here: str, key: str, value: Any) -> tuple[str, ...]:
    """A key's value as a tuple of strings: one string, or a list of them."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in items):
        raise AmalError(f"{here}: {key} must be a name or a list of names, got {value!r}")
    return tuple(str(item) for item in items)


def known_variants(here: str, key: str, chosen: tuple[str, ...], names: set[str]) -> tuple[str, ...]:
    missing = [name for name in chosen if name not in names]
    if missing:
        raise AmalError(f"{here}: {key}: no variant named {missing[0]!r}")
    return chosen


def pair_list(here: str, value: Any, names: set[str], metrics: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """``pairs: [[tied 80, untied 80], ...]``: each pair's variants share a colour, told apart by line style."""
    if not isinstance(value, list) or not all(isinstance(pair, list) and len(pair) >= 2 for pair in value):
        raise AmalError(f"{here}: pairs must be a list of lists of two or more variants, e.g. [[tied 80, untied 80]]")
    pairs = tuple(known_variants(here, "pairs", tuple(str(name) for name in pair), names) for pair in value)
    flat = [name for pair in pairs for name in pair]
    twice = next((name for name in flat if flat.count(name) > 1), None)
    if twice is not None:
        raise AmalError(f"{here}: pairs: {twice!r} is in more than one pair")
    if len({metric.split("/", 1)[0] for metric in metrics}) > 1:
        raise AmalError(
            f"{here}: pairs tell a pair's variants apart by line style, which otherwise tells the stages apart: "
            f"give metrics of one stage (got {', '.join(metrics)})"
        )
    return pairs


def curve_options(here: str, figure: dict, names: set[str]) -> dict[str, Any]:
    metrics = text_list(here, "metrics", figure["metrics"]) if figure.get("metrics") else DEFAULT_METRICS
    axes = text_list(here, "x", figure.get("x", "epoch"))
    if any(axis not in X_AXES for axis in axes):
        raise AmalError(f"{here}: x must be among {', '.join(X_AXES)}, got {list(axes)}")
    y = str(figure.get("y", "auto"))
    if y not in Y_SCALES:
        raise AmalError(f"{here}: y must be one of {', '.join(Y_SCALES)}, got {figure['y']!r}")
    wanted = figure.get("references", False)
    if isinstance(wanted, bool):
        references = metrics if wanted else ()
    else:
        references = text_list(here, "references", wanted)
    pairs = pair_list(here, figure["pairs"], names, metrics) if "pairs" in figure else ()
    label = str(figure.get("reference_label", ""))
    return {"metrics": metrics, "x": axes, "y": y, "references": references, "reference_label": label, "pairs": pairs}


def line_list(here: str, value: Any, names: set[str]) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """``lines: {plain: {plain 10: 10, plain 20: 20}, highway: {...}}``: each line's variants and their x."""
    example = "e.g. lines: {plain: {plain 10: 10, plain 20: 20}}"
    if not isinstance(value, dict) or not value:
        raise AmalError(f"{here}: lines must map each line's label to its variants and their x, {example}")
    lines, seen = [], set()
    for label, points in value.items():
        if not isinstance(points, dict) or not points:
            raise AmalError(f"{here}: lines: {label!r} must map its variants to their x, {example}")
        for name, x in points.items():
            known_variants(here, f"lines: {label}", (str(name),), names)
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise AmalError(f"{here}: lines: {label}: {name}: x must be a number, got {x!r}")
            if str(name) in seen:
                raise AmalError(f"{here}: lines: {name!r} is on more than one line")
            seen.add(str(name))
        lines.append((str(label), tuple((str(name), float(x)) for name, x in points.items())))
    return tuple(lines)


def sweep_options(here: str, figure: dict, names: set[str]) -> dict[str, Any]:
    option = figure.get("x")
    if "lines" in figure:
        if "x" in figure or "group" in figure:
            raise AmalError(f"{here}: give lines (each variant's x) or x and group (options), not both")
        if not str(figure.get("xlabel", "")).strip():
            raise AmalError(f"{here}: lines need an xlabel saying what their x counts")
        option = ""
    elif not isinstance(option, str) or not option.strip("-"):
        raise AmalError(f"{here}: x must name the swept option, e.g. x: model.learning_rate")
    metric = str(figure.get("metric", "final train/loss"))
    if not COLUMN.match(metric):
        raise AmalError(f"{here}: metric {metric!r} is not a column like 'final train/loss' or 'tested test/acc'")
    vline = str(figure.get("vline", ""))
    if vline and not vline.startswith("reference/"):
        raise AmalError(f"{here}: vline must name a reference scalar, e.g. reference/step_limit, got {vline!r}")
    group = str(figure.get("group", "")).lstrip("-")
    y = str(figure.get("y", "auto"))
    if y not in ("auto", "linear", "log"):
        raise AmalError(f"{here}: y of a sweep must be one of auto, linear, log, got {figure['y']!r}")
    options = {"x": (option.lstrip("-"),) if option else (), "metric": metric, "group": group, "vline": vline, "y": y}
    if option == "":
        options["lines"] = line_list(here, figure["lines"], names)
    return {**options, "vline_label": str(figure.get("vline_label", "")), "metrics": (metric.split(" ", 1)[1],)}


def layer_options(here: str, figure: dict, names: set[str]) -> dict[str, Any]:
    prefix = figure.get("metric_prefix")
    if not isinstance(prefix, str) or not prefix:
        raise AmalError(f"{here}: metric_prefix must name the layers' curves, e.g. val/gate/layer_")
    options: dict[str, Any] = {"metric_prefix": prefix, "x": ("layer",), "metrics": (prefix,)}
    if "variant" in figure:
        if "variants" in figure:
            raise AmalError(f"{here}: give variant or variants, not both")
        options["variants"] = known_variants(here, "variant", text_list(here, "variant", figure["variant"]), names)
    return options


def figure_spec(here: str, figure: Any, names: set[str]) -> FigureSpec:
    if not isinstance(figure, dict):
        raise AmalError(f"{here}: expected a mapping with {', '.join(FIGURE_KEYS)}")
    kind = str(figure.get("kind", "curves"))
    if kind not in FIGURE_KINDS:
        raise AmalError(f"{here}: kind must be one of {', '.join(FIGURE_KINDS)}, got {figure['kind']!r}")
    allowed = COMMON_KEYS + KIND_KEYS[kind]
    for key in figure:
        if key not in FIGURE_KEYS:
            raise AmalError(f"{here}: unknown key {key!r} (known: {', '.join(FIGURE_KEYS)})")
        if key not in allowed:
            owners = " and ".join(other for other, keys in KIND_KEYS.items() if key in keys)
            raise AmalError(f"{here}: {key} is a key of {owners} figures, not of {kind} ones")
    chosen = figure.get("variants")
    options: dict[str, Any] = {}
    if chosen:
        options["variants"] = known_variants(here, "variants", text_list(here, "variants", chosen), names)
    if kind == "curves":
        options.update(curve_options(here, figure, names))
    elif kind == "sweep":
        options.update(sweep_options(here, figure, names))
    else:
        options.update(layer_options(here, figure, names))
    name = slug(str(figure.get("name") or "-".join(options["metrics"])))
    title, ylabel, xlabel = (str(figure.get(key, "")) for key in ("title", "ylabel", "xlabel"))
    return FigureSpec(name, title=title, ylabel=ylabel, xlabel=xlabel, kind=kind, **options)


def figure_specs(where: str, figures: Any, names: set[str]) -> tuple[FigureSpec, ...]:
    """A study file's ``figures`` (``where`` names the file), each checked against the variants' ``names``."""
    if not isinstance(figures, list) or not figures:
        raise AmalError(f"{where}: figures must be a non-empty list of mappings")
    return tuple(figure_spec(f"{where}, figure {index + 1}", figure, names) for index, figure in enumerate(figures))
