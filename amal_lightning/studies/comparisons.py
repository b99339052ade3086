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

``metric`` is a column of ``runs.csv`` (``final <metric>``, ``best <metric>``, ``tested <metric>``).
An entry is read as a :class:`ComparisonEntry`; that its variants exist is checked once the
variants are known (:func:`comparison_specs`).
"""

import math
import statistics
from dataclasses import dataclass
from typing import Optional

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


def comparison_specs(where: str, entries: list[ComparisonEntry], names: set[str]) -> tuple[Comparison, ...]:
    """A study file's ``comparisons`` (``where`` names them in errors), each of two known variants."""
    comparisons = []
    for index, entry in enumerate(entries):
        missing = next((name for name in (entry.a, entry.b) if name not in names), None)
        if missing is not None:
            raise AmalError(f"{where}, comparison {index + 1}: no variant named {missing!r}")
        comparisons.append(Comparison(entry.name or f"{entry.a} - {entry.b}", entry.a, entry.b, entry.metric))
    return tuple(comparisons)


def comparison_row(comparison: Comparison, a: dict[int, float], b: dict[int, float]) -> dict[str, str]:
    """One row of ``comparisons.csv`` from each variant's value by seed (only seeds both have are paired)."""
    seeds = sorted(seed for seed in a if seed in b and math.isfinite(a[seed]) and math.isfinite(b[seed]))
    differences = [a[seed] - b[seed] for seed in seeds]
    row = {"comparison": comparison.name, "metric": comparison.metric, "n": str(len(differences))}
    row["differences"] = " ".join(f"{seed}:{difference!r}" for seed, difference in zip(seeds, differences, strict=True))
    if differences:
        mean, low, high = paired_interval(differences)
        spread = statistics.stdev(differences) if len(differences) > 1 else None
        row.update(mean=repr(mean), std="" if spread is None else repr(spread))
        row.update({"95% low": "" if low is None else repr(low), "95% high": "" if high is None else repr(high)})
    return row
