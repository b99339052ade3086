"""The numbers a figure draws besides each run's curve: the centre and band of a variant's seeds, kept on
the figure's axis and in its quantity's range, and the reference values (an optimum, chance) read from
the runs' ``reference/*`` scalars.

A band over seeds is the mean ± 1 sample standard deviation on a linear axis, and on a log axis the
geometric mean ×/÷ the geometric standard deviation, exp(std(ln v)), computed in log space: a spread
larger than the mean then stays above zero, on the axis, where mean − std would leave it. Either band is
clipped to the range its quantity lies in (:func:`bounds_of`): an accuracy or a sigmoid's gate output in
[0, 1], a loss or a squared error at 0 or above.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

# What a reference is, by the metric's kind, unless a figure names it (``reference_label``).
REFERENCE_NAMES = {"loss": "least-squares optimum", "acc": "chance", "mse": "PCA at the code size"}

Points = tuple[Sequence[int], Sequence[float], Sequence[float]]  # (steps, x positions, values) of one run
Bounds = tuple[float, float]
UNBOUNDED: Bounds = (-math.inf, math.inf)
UNIT: Bounds = (0.0, 1.0)  # accuracies, sigmoid outputs
NON_NEGATIVE: Bounds = (0.0, math.inf)  # losses, squared errors
BAND_NAMES = {False: "mean ± 1 std", True: "geometric mean ×/÷ geometric std"}  # by whether the axis is log


def bounds_of(metric: str) -> Bounds:
    """The range of a metric's values, by its name: [0, 1] for an accuracy (``*/acc``) or a gate output (a
    ``gate`` part, ``val/gate/layer_03``), [0, ∞) for a loss or a squared error (``*loss``, ``*mse``), else
    unbounded. A summary column (``final train/loss``) is read by its metric."""
    parts = metric.rsplit(" ", 1)[-1].split("/")
    kind = parts[-1]
    if kind in ("acc", "accuracy") or "gate" in parts[:-1] or kind.startswith("gate"):
        return UNIT
    if kind.endswith("loss") or kind.endswith("mse"):
        return NON_NEGATIVE
    return UNBOUNDED


@dataclass(frozen=True)
class Spread:
    """A variant's seeds at one point: the centre drawn (None if no value), the band's ends, how many values."""

    centre: Optional[float]
    low: float
    high: float
    n: int


def spread(values: Sequence[float], log: bool = False, bounds: Bounds = UNBOUNDED) -> Spread:
    """The centre and band of the finite values (on a log axis, of the positive ones): mean ± 1 sample std,
    or on a log axis the geometric mean ×/÷ exp(std(ln v)); the band clipped to ``bounds``, a single value's
    band the value itself."""
    kept = [value for value in values if math.isfinite(value) and (not log or value > 0)]
    if not kept:
        return Spread(None, math.nan, math.nan, 0)
    if log:
        logs = [math.log(value) for value in kept]
        centre = math.exp(statistics.fmean(logs))
        factor = math.exp(statistics.stdev(logs)) if len(logs) > 1 else 1.0
        low, high = centre / factor, centre * factor
    else:
        centre = statistics.fmean(kept)
        width = statistics.stdev(kept) if len(kept) > 1 else 0.0
        low, high = centre - width, centre + width
    return Spread(centre, max(low, bounds[0]), min(high, bounds[1]), len(kept))


def band_curve(
    curves: Sequence[Points], log: bool = False, bounds: Bounds = UNBOUNDED
) -> tuple[list[float], list[Spread]]:
    """The runs' spread at each step any of them logged: x (the mean of the runs' positions) and the
    :func:`spread` of their values there (n = 1 where one run has the point).

    Runs are matched by optimizer step, which is the same for the seeds of one variant (same data,
    same batch size); a seed that stopped early leaves the later points to the others.
    """
    by_step: dict[int, list[tuple[float, float]]] = {}
    for steps, xs, ys in curves:
        for step, x, y in zip(steps, xs, ys, strict=True):
            by_step.setdefault(step, []).append((x, y))
    xs_mean, spreads = [], []
    for step in sorted(by_step):
        points = by_step[step]
        found = spread([y for _, y in points], log, bounds)
        if found.centre is not None:
            xs_mean.append(statistics.fmean(x for x, _ in points))
            spreads.append(found)
    return xs_mean, spreads


def reference_name(metric: str, label: str = "", hyperparameters: Sequence[dict[str, Any]] = ()) -> str:
    """What the reference of ``metric`` is called: ``label`` if given, else by the metric's kind; an MSE's
    PCA reference says its number of components when the runs share one code size (``latent_dim``)."""
    if label:
        return label
    kind = metric.rsplit("/", 1)[-1]
    sizes = {code_size(values) for values in hyperparameters} - {None}
    if kind == "mse" and len(sizes) == 1:
        return f"PCA, {sizes.pop()} components"
    return REFERENCE_NAMES.get(kind, f"reference/{metric}")


def code_size(hyperparameters: dict[str, Any]) -> Optional[int]:
    """An autoencoder's code size: its ``latent_dim``, or the last of its layers' sizes ([256, 64] → 64)."""
    size = hyperparameters.get("latent_dim")
    size = size[-1] if isinstance(size, list) and size else size
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def same_value(a: float, b: float, tolerance: float = 1e-6) -> bool:
    """Whether two values are one: within ``tolerance`` of each other, relatively (a reference computed
    by every run of a study differs in its last digits only)."""
    return math.isclose(a, b, rel_tol=tolerance)


def distinct(values: Sequence[float], tolerance: float = 1e-6) -> list[float]:
    """The values, each once (two values within ``tolerance``, relatively, are one), in order."""
    kept: list[float] = []
    for value in values:
        if math.isfinite(value) and not any(same_value(value, seen, tolerance) for seen in kept):
            kept.append(value)
    return kept
