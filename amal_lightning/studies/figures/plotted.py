"""The runs a curve figure draws, as :mod:`amal_lightning.studies.figures.plot` sees them: their points on an
axis, their colours and line styles, their groups (a variant's seeds), and the y axis they need."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

from amal_lightning.runs.events import RunLog, XAxis
from amal_lightning.studies.figures.bands import Points
from amal_lightning.studies.variants import Variant

STAGE_STYLES = {"train": "-", "val": ":", "test": "--"}
STAGE_NAMES = {"train": "train", "val": "validation", "test": "test"}
PAIR_STYLES = ("-", "--", ":", "-.")  # the variants of a pair, in its order
# A ratio of largest to smallest value beyond which a linear axis flattens the smaller curves.
LOG_SCALE_RATIO = 100.0


@dataclass(frozen=True)
class PlottedRun:
    """A run as a figure shows it: its legend label, its curves, the epoch it diverged at (if it did), and its
    seed if it is one of a variant's seeds (the runs of one ``label`` with seeds draw as a mean and a band);
    in a study, its variant and its row of the summary too (a sweep reads the variant's options and the row's
    columns)."""

    label: str
    log: RunLog
    diverged: bool = False
    diverged_at: Optional[int] = None  # unknown for a damaged diverged.json
    seed: Optional[int] = None
    variant: Optional[Variant] = None
    summary: Mapping[str, str] = field(default_factory=dict)

    @property
    def legend(self) -> str:
        if not self.diverged:
            return self.label
        return f"{self.label} (diverged{'' if self.diverged_at is None else f' at epoch {self.diverged_at}'})"


PREDICTED = "predicted_"  # `train/predicted_loss`: what theory says `train/loss` is (a TME2 linear fit logs it)
WHOLE = "full_"  # `train/full_loss`: the loss on the whole training split at an epoch's start


def measured(metric: str) -> str:
    """The metric whose reference another stands beside: ``train/loss`` for ``train/predicted_loss`` and
    for ``train/full_loss`` (the same loss, measured on the whole split)."""
    stage, _, name = metric.partition("/")
    return f"{stage}/{name.removeprefix(PREDICTED).removeprefix(WHOLE)}"


def line_style(metric: str) -> str:
    """Solid for ``train/*``, dotted for ``val/*``, dashed for ``test/*``; dash-dot for a predicted curve,
    as the reference lines: theory, not a measurement."""
    if metric.partition("/")[2].startswith(PREDICTED):
        return "-."
    return STAGE_STYLES.get(metric.split("/", 1)[0], "-.")


def wants_log_scale(values: Sequence[float]) -> bool:
    """Whether positive values span more than two decades (a log axis then shows every curve)."""
    values = [value for value in values if math.isfinite(value)]
    return bool(values) and min(values) > 0 and max(values) / min(values) > LOG_SCALE_RATIO


def ceiling(sound: Sequence[float], wild: Sequence[float], log_scale: bool) -> Optional[float]:
    """The top of the y axis when diverged runs would squash the others, else None (matplotlib decides).

    A diverged curve climbs to 1e30 and more: the axis stops a little above the runs that did
    not diverge, and the diverged curve leaves the figure, its marker on the top edge.
    """
    if not sound or not wild or max(wild) <= max(sound):
        return None
    if log_scale:
        return max(sound) * 10
    return max(sound) + 0.25 * (max(sound) - min(sound) or abs(max(sound)) or 1.0)


def run_points(run: PlottedRun, metric: str, x: XAxis, y: str) -> Points:
    """(steps, x positions, values) of the run's finite points; with ``y="gap"`` the values less the
    run's reference, and on a log axis (``gap``, ``log``) only the positive ones."""
    series = run.log.curves.get(metric)
    positions = series.x(x) if series is not None else ()
    reference = run.log.references.get(measured(metric), math.nan) if y == "gap" else 0.0
    if not positions or math.isnan(reference):
        return [], [], []
    kept = [
        (step, position, value - reference)
        for step, position, value in zip(series.steps, positions, series.values, strict=True)
        if math.isfinite(value - reference) and (y not in ("gap", "log") or value - reference > 0)
    ]
    return [step for step, _, _ in kept], [position for _, position, _ in kept], [value for _, _, value in kept]


def ends_early(runs: Sequence[PlottedRun], metric: str, x: XAxis, drawn: Sequence[float]) -> bool:
    """Whether a curve drawn to ``drawn[-1]`` stops before its runs' last logged point of ``metric``: on a log
    axis the points that are not positive (a gap L − L* at 0, L* reached within float32 rounding) are not
    drawn, and the figure then says where and why the curve ends rather than leave it stopping mid-air."""
    lasts = [series.x(x)[-1] for run in runs if (series := run.log.curves.get(metric)) is not None and series.x(x)]
    return bool(drawn) and bool(lasts) and drawn[-1] < max(lasts)


def groups_of(runs: Sequence[PlottedRun]) -> list[list[PlottedRun]]:
    """The runs in order, those with a seed gathered by label (a variant's seeds), the others alone."""
    groups: dict[object, list[PlottedRun]] = {}
    for index, run in enumerate(runs):
        groups.setdefault(run.label if run.seed is not None else index, []).append(run)
    return list(groups.values())


def colours(labels: Sequence[str], pairs: Sequence[Sequence[str]]) -> dict[str, tuple[str, Optional[str]]]:
    """Each label's colour, and its line style if it is in one of ``pairs`` (whose members share a colour)."""
    chosen: dict[str, tuple[str, Optional[str]]] = {}
    for label in labels:
        if label in chosen:
            continue
        colour = f"C{len({colour for colour, _ in chosen.values()}) % 10}"
        pair = next((pair for pair in pairs if label in pair), None)
        chosen.update(
            {label: (colour, None)} if pair is None else {m: (colour, PAIR_STYLES[i % 4]) for i, m in enumerate(pair)}
        )
    return chosen


def legend(group: Sequence[PlottedRun]) -> str:
    """A run's legend entry, or a variant's with its number of seeds: ``eps 0.1 (n=5)``."""
    if group[0].seed is None:
        return group[0].legend
    diverged = sum(run.diverged for run in group)
    return f"{group[0].label} (n={len(group)}{f', {diverged} diverged' if diverged else ''})"
