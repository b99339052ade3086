"""What a run did: its status, why it stopped, its folders, checkpoints and metrics.

:func:`amal_lightning.api.fit` (and ``validate``, ``test``, ``predict``) returns an
:class:`Outcome`; a run that diverged or failed raises instead, the error carrying the outcome of
what it had done (``error.outcome``). The status words are the same everywhere: in an outcome,
in a study's records and in its ``summary.csv``.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from amal_lightning.runs.folders import BEST, CHECKPOINT_SUFFIX, DIVERGED_FILE, LAST

FINISHED, DIVERGED, FAILED, INTERRUPTED, RUNNING = "finished", "diverged", "failed", "interrupted", "running"
STATUSES = (FINISHED, DIVERGED, FAILED, INTERRUPTED, RUNNING)


@dataclass(frozen=True)
class Outcome:
    """What one ``amal`` command did.

    Attributes:
        command: ``fit``, ``validate``, ``test`` or ``predict``.
        status: ``finished`` or ``interrupted`` (Ctrl+C, which ends a fit after its current step);
            ``diverged`` and ``failed`` in the outcome an error carries.
        reason: why it stopped (``max_epochs=10 reached``, ``early stopping on val/loss``, the error).
        experiment, run: the run's names: its folders are ``logs/<experiment>/<run>`` and
            ``<checkpoint_dir>/<experiment>/<run>``.
        checkpoint_dir, log_dir: those folders (``log_dir`` is None without a TensorBoard logger).
        epochs, steps: the epochs completed (in all, a resumed run counting its earlier ones) and
            the optimizer steps.
        seconds: wall-clock seconds of this command.
        final_metrics: the logged metrics at the end (``train/loss``, ``val/loss``, ...).
        best_epoch, best_metrics: the epoch of the lowest ``val/loss`` and its ``val/*`` metrics.
        tested_checkpoint, test_metrics: the checkpoint the fit tested afterwards (``best.ckpt``,
            or ``last.ckpt`` without validation) and what the test measured; for ``amal test``
            and ``amal validate``, the checkpoint given and its metrics.
        predictions: the CSV file that ``predict`` wrote.
    """

    command: str
    status: str
    reason: str
    experiment: str
    run: str
    checkpoint_dir: Path
    log_dir: Optional[Path] = None
    epochs: int = 0
    steps: int = 0
    seconds: float = 0.0
    final_metrics: dict[str, float] = field(default_factory=dict)
    best_epoch: Optional[int] = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    tested_checkpoint: Optional[Path] = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    predictions: Optional[Path] = None
    global_zero: bool = True  # the first process of a multi-device run (the one that reports)

    @property
    def last_checkpoint(self) -> Optional[Path]:
        """The run's ``last.ckpt`` (its latest state, to resume from), if it wrote one."""
        path = self.checkpoint_dir / f"{LAST}{CHECKPOINT_SUFFIX}"
        return path if path.is_file() else None

    @property
    def best_checkpoint(self) -> Optional[Path]:
        """The run's ``best.ckpt`` (lowest ``val/loss``), if it wrote one."""
        path = self.checkpoint_dir / f"{BEST}{CHECKPOINT_SUFFIX}"
        return path if path.is_file() else None


def number(value: Any) -> str:
    """A metric in four significant digits (``inf`` and ``nan`` as they are), as amal's lines show it."""
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def diverged_record(run_dir: Path) -> Optional[dict[str, Any]]:
    """What a run folder records of its divergence (epoch, metric, value), or None if it did not diverge."""
    path = Path(run_dir) / DIVERGED_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"epoch": None, "metric": None, "value": None}
