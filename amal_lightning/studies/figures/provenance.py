"""A figure's footer: which data its runs trained on, how many seeds, which study, read from the runs'
hyperparameters (their ``hparams.yaml``), so that a figure copied into a report still says what it shows.

MNIST runs record ``used_source`` (``full`` or ``sample``) and their split sizes; the housing runs
record their fractions, from which the split sizes follow as :class:`~amal_lightning.data.HousingDataModule`
cuts them (the bundled table, or the one ``data.path`` names, is counted here without torch).
"""

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

from amal_lightning.runs.events import RunLog

# The bundled housing table (the package's data folder), read without importing amal_lightning.data (torch).
BUNDLED_HOUSING = Path(__file__).resolve().parents[2] / "data" / "housing.data"
SEPARATOR = " · "


def table_rows(path: Path) -> Optional[int]:
    """The number of non-blank lines of a housing table, or None if it cannot be read."""
    try:
        return sum(1 for line in path.read_text().splitlines() if line.split())
    except (OSError, UnicodeDecodeError):
        return None


def housing_data(hyperparameters: dict[str, Any]) -> str:
    """``the bundled housing data: 506 rows, 304 train + 101 validation + 101 test``."""
    path = hyperparameters.get("path")
    name = "the bundled housing data" if not path else f"the housing table {path}"
    rows = table_rows(BUNDLED_HOUSING if not path else Path(str(path)))
    try:
        num_val = round(float(hyperparameters["val_fraction"]) * rows) if rows else None
        num_test = round(float(hyperparameters["test_fraction"]) * rows) if rows else None
    except (KeyError, TypeError, ValueError):
        num_val = num_test = None
    if rows is None or num_val is None or num_test is None:
        return name
    return f"{name}: {rows} rows, {rows - num_val - num_test} train + {num_val} validation + {num_test} test"


def mnist_data(hyperparameters: dict[str, Any]) -> str:
    """``full MNIST (60,000 + 10,000)`` or ``the bundled 5,000-digit sample (4,000 + 1,000)``."""
    name = "full MNIST" if hyperparameters["used_source"] == "full" else "the bundled 5,000-digit sample"
    sizes = [hyperparameters.get(f"{split}_images") for split in ("train", "val", "test")]
    if not all(isinstance(size, int) for size in sizes):
        return name
    train, val, test = sizes
    return f"{name} ({train + val:,} + {test:,}: {train:,} train, {val:,} validation, {test:,} test)"


def data_description(hyperparameters: dict[str, Any]) -> str:
    """What a run trained on, from its hyperparameters ("" if they do not say)."""
    if "used_source" in hyperparameters:
        return mnist_data(hyperparameters)
    if "val_fraction" in hyperparameters and "test_fraction" in hyperparameters and "standardize" in hyperparameters:
        return housing_data(hyperparameters)
    if "num_examples" in hyperparameters and "num_held_out" in hyperparameters:
        held = hyperparameters["num_held_out"]
        return f"random regression data: {hyperparameters['num_examples']} train + {held} validation + {held} test"
    return ""


def footer(
    logs: Iterable[RunLog], study: str = "", seeds: Optional[Sequence[int]] = None, splits: Optional[int] = None
) -> str:
    """``data: … · 3 seeds per variant (n = 3) · study NAME``: a figure's provenance, from its runs' logs (with
    ``splits``: ``3 splits × 2 seeds per variant (n = 6, …)``)."""
    logs = list(logs)
    described = [data_description(log.hyperparameters) for log in logs]
    data = list(dict.fromkeys(text for text in described if text))
    parts = [f"data: {'; '.join(data)}" if data else "data: not recorded (the runs have no hparams.yaml)"]
    if seeds is not None and splits is not None:
        count = f"{splits} split{'s' * (splits != 1)} × {len(seeds)} seed{'s' * (len(seeds) != 1)}"
        parts.append(f"{count} per variant (n = {splits * len(seeds)}, split seeds 0–{splits - 1}, seeds {seeds})")
    elif seeds is not None:
        parts.append(f"{len(seeds)} seed{'s' * (len(seeds) != 1)} per variant (n = {len(seeds)}, seeds {seeds})")
    else:
        parts.append(f"{len(logs)} run{'s' * (len(logs) != 1)}{', one per variant' if study else ''}")
    if study:
        parts.append(f"study {study}")
    return SEPARATOR.join(parts)
