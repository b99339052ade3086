"""The numbers a figure draws besides each run's curve: the mean and spread over a variant's seeds,
and the reference values (an optimum, chance) read from the runs' ``reference/*`` scalars."""

import math
import statistics
from collections.abc import Sequence
from typing import Any, Optional

# What a reference is, by the metric's kind, unless a figure names it (``reference_label``).
REFERENCE_NAMES = {"loss": "least-squares optimum", "acc": "chance", "mse": "PCA at the code size"}

Points = tuple[Sequence[int], Sequence[float], Sequence[float]]  # (steps, x positions, values) of one run


def mean_curve(curves: Sequence[Points]) -> tuple[list[float], list[float], list[float], list[int]]:
    """The mean over runs at each step any of them logged: x (the mean of the runs' positions), the mean
    value, its sample standard deviation (0 where one run has the point) and how many runs have it.

    Runs are matched by optimizer step, which is the same for the seeds of one variant (same data,
    same batch size); a seed that stopped early leaves the later points to the others.
    """
    by_step: dict[int, list[tuple[float, float]]] = {}
    for steps, xs, ys in curves:
        for step, x, y in zip(steps, xs, ys, strict=True):
            by_step.setdefault(step, []).append((x, y))
    xs_mean, means, stds, counts = [], [], [], []
    for step in sorted(by_step):
        points = by_step[step]
        values = [y for _, y in points]
        xs_mean.append(statistics.fmean(x for x, _ in points))
        means.append(statistics.fmean(values))
        stds.append(statistics.stdev(values) if len(values) > 1 else 0.0)
        counts.append(len(values))
    return xs_mean, means, stds, counts


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


def mean_and_std(values: Sequence[float]) -> tuple[Optional[float], float]:
    """The mean of the finite values (None if none) and their sample standard deviation (0 for one)."""
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return None, 0.0
    return statistics.fmean(finite), statistics.stdev(finite) if len(finite) > 1 else 0.0
