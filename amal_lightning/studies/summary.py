"""A study's results: one line per variant while it runs, ``studies/<study>/summary.csv`` at the end.

Everything is read back from the variants' records and their runs' event files, so the same
summary comes out whether the variants ran here one after another or as the tasks of a SLURM
job array. The columns of ``summary.csv``:

- ``variant``, ``overrides`` (its ``amal fit`` options beyond the config and the common ones),
  ``status`` (``finished``, ``diverged``, ``failed``, ``running`` or ``missing``), ``epochs``
  (completed), ``seconds`` (wall-clock, all attempts), ``run`` (its log folder), ``note`` (why
  it diverged or failed);
- for each curve (``train/loss``, ``val/acc``, ``test/loss``, ...): ``final <metric>``, its
  value at the last epoch, and for losses, MSEs and accuracies ``best <metric>``, the lowest
  (the highest for an accuracy);
- ``tested <metric>``: the test of the best checkpoint after the fit (the last checkpoint where
  there is no validation split).

With ``seeds``, ``runs.csv`` holds those rows (with ``seed``, and ``split`` with ``splits``) and
``summary.csv`` a row per variant: ``n`` and each number's ``mean``, ``std``, ``min`` and ``max``;
with ``splits``, also its ``split std`` and ``seed std``
(:func:`~amal_lightning.studies.comparisons.split_and_seed_spread`).
"""

import csv
import math
import re
from collections import Counter
from pathlib import Path
from typing import Optional

from amal_lightning.errors import AmalError
from amal_lightning.runs.events import RunLog, read_run
from amal_lightning.runs.options import mapping_words
from amal_lightning.runs.outcome import Outcome, diverged_record, number
from amal_lightning.runs.record import read_run_record
from amal_lightning.studies.comparisons import RunKey, comparison_row, split_and_seed_spread, summary_statistics
from amal_lightning.studies.records import DIVERGED, FAILED, FINISHED, VariantRecord, read_record
from amal_lightning.studies.spec import Study, Variant
from amal_lightning.studies.variants import SPLIT_OPTION

STAGE_ORDER = {"train": 0, "val": 1, "test": 2}
METRIC_KINDS = ("final ", "best ", "tested ")
STATISTICS = ("mean", "std", "split std", "seed std", "min", "max")
REPLICATE_OPTIONS = re.compile(rf"\s*--(seed_everything|{re.escape(SPLIT_OPTION)})=\S+")


# The curves that have a best value, and which way it lies; others (a gate's activity) only a final one.
BEST = {"loss": min, "mse": min, "acc": max}


def variant_log(record: Optional[VariantRecord]) -> Optional[RunLog]:
    """The variant's run log, or None if it has none yet (never started, failed before logging)."""
    if record is None or record.log_dir is None:
        return None
    try:
        return read_run(record.log_dir)
    except AmalError:
        return None


def diverged_epoch(record: VariantRecord) -> Optional[int]:
    """The epoch at which a diverged variant's run stopped (from its ``diverged.json``), if known."""
    if record.checkpoint_dir is None:
        return None
    mark = diverged_record(record.checkpoint_dir)
    return None if mark is None else mark.get("epoch")


def headline_metrics(tested: dict[str, float], last: dict[str, float]) -> str:
    """The metrics a progress line shows: the test after the fit, else the last validation, else training."""
    chosen = tested
    for prefix in ("val/", "train/"):
        if chosen:
            break
        chosen = {name: value for name, value in last.items() if name.startswith(prefix)}
    return ", ".join(f"{name} {number(value)}" for name, value in sorted(chosen.items()))


def headline(log: Optional[RunLog]) -> str:
    """:func:`headline_metrics` of a run read back from its event files (a variant kept from an earlier run)."""
    if log is None:
        return ""
    return headline_metrics(log.tested, {name: s.values[-1] for name, s in log.curves.items() if s})


def outcome(study: Study, variant: Variant, record: VariantRecord, kept: bool, result: Optional[Outcome] = None) -> str:
    """What a progress line says of a variant: ``finished in 12 s, test/loss 24.1``; its metrics from the
    ``result`` its fit returned in this process, else from the outcome its run saved (``run.json``), else
    (a run older than that record) from its event files."""
    seconds = f"{record.seconds:.0f} s"
    if record.status == FINISHED:
        if result is None and record.checkpoint_dir is not None:
            result = read_run_record(record.checkpoint_dir)
        if result is not None and (result.test_metrics or result.final_metrics):
            metrics = headline_metrics(result.test_metrics, result.final_metrics)
        else:
            metrics = headline(variant_log(record))
        text = f"finished earlier in {seconds}, kept" if kept else f"finished in {seconds}"
        return f"{text}, {metrics}" if metrics else text
    if record.status == DIVERGED:
        epoch = diverged_epoch(record)
        where = "" if epoch is None else f" at epoch {epoch}"
        return f"diverged{where} after {seconds}" + (" (earlier, kept)" if kept else "")
    if record.status == FAILED:
        return f"failed after {seconds}: {record.note}"
    return record.status


def summary_row(variant: Variant, record: Optional[VariantRecord], log: Optional[RunLog]) -> dict[str, str]:
    """One run's row: of ``summary.csv`` without seeds, of ``runs.csv`` with (full precision, as in the event files)."""
    row = {
        "variant": variant.label,
        **({} if variant.split is None else {"split": str(variant.split)}),
        **({} if variant.seed is None else {"seed": str(variant.seed)}),
        "overrides": " ".join(mapping_words(variant.options)),  # as the command line spells them
        "status": "missing" if record is None else record.status,
        "epochs": "" if log is None else str(log.epochs),
        "seconds": "" if record is None else f"{record.seconds:.1f}",
        "run": "" if record is None or record.log_dir is None else str(record.log_dir),
        "note": "" if record is None else record.note,
    }
    if log is not None:
        for name, series in log.curves.items():
            finite = [value for value in series.values if math.isfinite(value)]
            if series:
                row[f"final {name}"] = repr(series.values[-1])
            best = BEST.get(name.rsplit("/", 1)[-1])
            if finite and best is not None:
                row[f"best {name}"] = repr(best(finite))
        for name, value in log.tested.items():
            row[f"tested {name}"] = repr(value)
    return row


def column_order(column: str) -> tuple:
    """Fixed columns first, then per metric: by stage (train, val, test), name, final/best/tested."""
    fixed = ["variant", "split", "seed", "overrides", "n", "status", "epochs", "seconds", "run", "note"]
    statistic = next((name for name in sorted(STATISTICS, key=len, reverse=True) if column.endswith(f" {name}")), "")
    base = column.removesuffix(f" {statistic}") if statistic else column
    if base in fixed:
        return (0, fixed.index(base), STATISTICS.index(statistic) if statistic else -1)
    kind, metric = base.split(" ", 1)
    stage = STAGE_ORDER.get(metric.split("/", 1)[0], 3)
    position = STATISTICS.index(statistic) if statistic else -1
    return (1, kind == "tested", stage, metric, ["final", "best", "tested"].index(kind), position)


def aggregate_rows(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``summary.csv`` of a study with seeds: a row per variant, with n, mean, std, min and max of each number."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["variant"], []).append(row)
    aggregated = []
    for variant, runs in groups.items():
        statuses = Counter(run["status"] for run in runs)
        row = {
            "variant": variant,
            "overrides": REPLICATE_OPTIONS.sub("", runs[0]["overrides"]).strip(),
        }
        row.update(n=str(len(runs)), status=", ".join(f"{count} {status}" for status, count in statuses.items()))
        numeric = sorted(
            {
                column
                for run in runs
                for column in run
                if column.startswith(METRIC_KINDS) or column in ("epochs", "seconds")
            }
        )
        for column in numeric:
            values = [float(run[column]) for run in runs if run.get(column, "") != ""]
            spreads = {key: value for key, value in summary_statistics(values).items() if key != "n"}
            if "split" in runs[0]:
                spreads.update(
                    split_and_seed_spread({run_key(run): float(run[column]) for run in runs if run.get(column)})
                )
            for statistic, value in spreads.items():
                row[f"{column} {statistic}"] = "" if value is None else repr(value)
        aggregated.append(row)
    return aggregated


def run_key(row: dict[str, str]) -> RunKey:
    """A row of ``runs.csv``'s place among its variant's replicates: its seed, or (its split, its seed)."""
    return (int(row["split"]), int(row["seed"])) if "split" in row else int(row["seed"])


def gather(study: Study) -> list[tuple[Variant, Optional[VariantRecord], Optional[RunLog]]]:
    """Each variant with its record and run log (None where there is none yet)."""
    results = []
    for variant in study.variants:
        record = read_record(study.folder, variant.slug)
        results.append((variant, record, variant_log(record)))
    return results


def write_table(path: Path, rows: list[dict[str, str]], columns: Optional[list[str]] = None) -> Path:
    """Writes ``rows`` as a CSV file (columns in :func:`column_order`); one line of error if it cannot."""
    columns = columns or sorted({column for row in rows for column in row}, key=column_order)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        raise AmalError(f"{path}: cannot write the table ({error.strerror})") from None
    return path


def write_summary(study: Study, results: list[tuple[Variant, Optional[VariantRecord], Optional[RunLog]]]) -> Path:
    """Writes ``summary.csv`` (a row per run; with seeds, a row per variant with n, mean, std, min, max, the runs
    in ``runs.csv`` and the paired comparisons in ``comparisons.csv``); returns the summary's path."""
    rows = [summary_row(variant, record, log) for variant, record, log in results]
    if not study.seeded:
        return write_table(study.folder / "summary.csv", rows)
    write_table(study.folder / "runs.csv", rows)
    if study.comparisons:
        by_seed: dict[tuple[str, str], dict[RunKey, float]] = {}
        for row in rows:
            for column, value in row.items():
                if column.startswith(METRIC_KINDS) and value != "":
                    by_seed.setdefault((row["variant"], column), {})[run_key(row)] = float(value)
        table = [
            comparison_row(
                comparison,
                by_seed.get((comparison.a, comparison.metric), {}),
                by_seed.get((comparison.b, comparison.metric), {}),
            )
            for comparison in study.comparisons
        ]
        columns = ["comparison", "metric", "n", "mean", "std", "95% low", "95% high", "differences"]
        if study.splits is not None:  # the spread between splits and between seeds, apart
            columns[5:5] = ["split std", "seed std"]
        write_table(study.folder / "comparisons.csv", table, columns)
    return write_table(study.folder / "summary.csv", aggregate_rows(rows))
