"""Paired comparisons of a study's variants, and the statistics of its seeds.

A study with ``seeds`` runs every variant once per seed on the same data split: the runs of two
variants with the same seed differ only in what the variants change, so their difference is the
evidence a comparison quotes. For each comparison ``comparisons.csv`` gives the per-seed
differences ``a − b``, their mean and standard deviation, and the 95 % interval of the mean
difference, ``mean ± t·s/√n`` with Student's t at n − 1 degrees of freedom (4.303 for n = 3,
2.776 for n = 5). A study file names them::

    comparisons:
      - {a: highway 30, b: plain 30, metric: tested test/acc}
      - {name: tanh - linear, a: tanh, b: linear, metric: final train/loss}

With ``splits``, every variant also runs on each data split (``data.split_seed``), crossed with the
seeds: runs are paired by split and seed, and two spreads are told apart (:func:`split_and_seed_spread`):
``split std``, how much the mean over seeds moves from one split to the next, and ``seed std``,
how much the seeds differ on one split (pooled over the splits). The 95 % interval is then that of the
mean of the per-split means, with Student's t at (splits − 1) degrees of freedom: the split, not the
seed, is the unit a new dataset would redraw.

``metric`` is a column of ``runs.csv`` (``final <metric>``, ``best <metric>``, ``tested <metric>``).
An entry is read as a :class:`ComparisonEntry`; that its variants exist is checked once the
variants are known (:func:`comparison_specs`).
"""

import math
import statistics
from dataclasses import dataclass
from typing import Optional, Union

from pydantic import Field

from amal_lightning.errors import AmalError
from amal_lightning.studies.validation import FileModel

# A summary column: final train/loss, best val/loss, tested test/acc.
COLUMN = r"^(final|best|tested) .+"
# Student's t, two-sided 95 %, by degrees of freedom (n - 1); beyond 30, the normal's 1.96 is within 2 %.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131)
T_975 += (2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


class ComparisonEntry(FileModel):
    """One entry of a study file's ``comparisons``: ``a − b`` on ``metric``, seed by seed."""

    name: Optional[str] = Field(None, description="its row's name in comparisons.csv (default: 'A - B')")
    a: str = Field(description="a variant's name")
    b: str = Field(description="a variant's name")
    metric: str = Field(pattern=COLUMN, description="a column like 'final train/loss' or 'tested test/acc'")


@dataclass(frozen=True)
class Comparison:
    """``a − b`` on ``metric``, seed by seed."""

    name: str
    a: str
    b: str
    metric: str


def t_quantile(degrees: int) -> float:
    """Student's t at 97.5 % for ``degrees`` degrees of freedom (≥ 1)."""
    return T_975[degrees - 1] if degrees <= len(T_975) else 1.96


def summary_statistics(values: list[float]) -> dict[str, Optional[float]]:
    """n, mean, sample standard deviation (ddof 1; None for one value), min and max of the finite values."""
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return {"n": len(values), "mean": None, "std": None, "min": None, "max": None}
    return {
        "n": len(finite),
        "mean": statistics.fmean(finite),
        "std": statistics.stdev(finite) if len(finite) > 1 else None,
        "min": min(finite),
        "max": max(finite),
    }


def paired_interval(differences: list[float]) -> tuple[float, Optional[float], Optional[float]]:
    """The mean difference and its 95 % interval (None, None for fewer than two pairs)."""
    mean = statistics.fmean(differences)
    if len(differences) < 2:
        return mean, None, None
    half = t_quantile(len(differences) - 1) * statistics.stdev(differences) / math.sqrt(len(differences))
    return mean, mean - half, mean + half


# A run's place among the replicates: its seed, or (its split's seed, its seed) in a study with splits.
RunKey = Union[int, tuple[int, int]]


def split_and_seed_spread(values: dict[RunKey, float]) -> dict[str, Optional[float]]:
    """The spread between splits and between seeds of the finite values keyed by (split, seed).

    ``split std``: the sample standard deviation of the per-split means (each the mean over that split's
    seeds; it carries the seeds' noise divided by their number too). ``seed std``: the pooled standard
    deviation within a split, the root of the mean of each split's sample variance over its seeds. None
    where there are too few (one split; one seed per split); both None for keys without splits.
    """
    by_split: dict[int, list[float]] = {}
    for key, value in values.items():
        if isinstance(key, tuple) and math.isfinite(value):
            by_split.setdefault(key[0], []).append(value)
    means = [statistics.fmean(group) for group in by_split.values()]
    variances = [statistics.variance(group) for group in by_split.values() if len(group) > 1]
    return {
        "split std": statistics.stdev(means) if len(means) > 1 else None,
        "seed std": math.sqrt(statistics.fmean(variances)) if variances else None,
    }


def replicate_interval(differences: dict[RunKey, float]) -> tuple[float, Optional[float], Optional[float]]:
    """The mean and its 95 % interval: over the runs without splits (:func:`paired_interval`), over the
    per-split means with them (the mean of equal groups is the same; its spread is the splits')."""
    by_split: dict[int, list[float]] = {}
    for key, value in differences.items():
        if isinstance(key, tuple):
            by_split.setdefault(key[0], []).append(value)
    if not by_split:
        return paired_interval(list(differences.values()))
    return paired_interval([statistics.fmean(group) for group in by_split.values()])


def run_key_text(key: RunKey) -> str:
    """A run's key in ``comparisons.csv``'s differences: ``2`` (seed 2), ``1/2`` (split 1, seed 2)."""
    return f"{key[0]}/{key[1]}" if isinstance(key, tuple) else str(key)


def comparison_specs(where: str, entries: list[ComparisonEntry], names: set[str]) -> tuple[Comparison, ...]:
    """A study file's ``comparisons`` (``where`` names them in errors), each of two known variants."""
    comparisons = []
    for index, entry in enumerate(entries):
        missing = next((name for name in (entry.a, entry.b) if name not in names), None)
        if missing is not None:
            raise AmalError(f"{where}, comparison {index + 1}: no variant named {missing!r}")
        comparisons.append(Comparison(entry.name or f"{entry.a} - {entry.b}", entry.a, entry.b, entry.metric))
    return tuple(comparisons)


def comparison_row(comparison: Comparison, a: dict[RunKey, float], b: dict[RunKey, float]) -> dict[str, str]:
    """One row of ``comparisons.csv`` from each variant's value by seed, or by (split, seed) in a study with
    splits (only the runs both have are paired); with splits, the spreads between splits and between seeds."""
    keys = sorted(key for key in a if key in b and math.isfinite(a[key]) and math.isfinite(b[key]))
    differences = {key: a[key] - b[key] for key in keys}
    row = {"comparison": comparison.name, "metric": comparison.metric, "n": str(len(differences))}
    row["differences"] = " ".join(f"{run_key_text(key)}:{difference!r}" for key, difference in differences.items())
    if differences:
        mean, low, high = replicate_interval(differences)
        spread = statistics.stdev(differences.values()) if len(differences) > 1 else None
        numbers = {"mean": mean, "std": spread, "95% low": low, "95% high": high}
        if any(isinstance(key, tuple) for key in keys):
            numbers.update(split_and_seed_spread(differences))
        row.update({name: "" if value is None else repr(value) for name, value in numbers.items()})
    return row
