"""What a run did: its status, why it stopped, its folders, checkpoints and metrics.

:func:`amal_lightning.api.fit` (and ``validate``, ``test``, ``predict``) returns an
:class:`Outcome`; a run that diverged or failed raises instead, the error carrying the outcome of
what it had done (``error.outcome``). A fit saves its outcome as its ``run.json``
(:mod:`amal_lightning.runs.record`), as it goes and when it ends: the one record of a run, read
back by ``amal runs`` and by studies (:meth:`Outcome.to_json`, :meth:`Outcome.from_json`). The
status words are the same everywhere: in an outcome, in a study's records and in its ``summary.csv``.
"""

import dataclasses
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
        epochs, steps: the epochs this command completed (a resumed fit has done ``first_epoch`` before:
            ``total_epochs`` in all) and the optimizer steps in all.
        seconds: wall-clock seconds of this command.
        final_metrics: the logged metrics at the end (``train/loss``, ``val/loss``, ...).
        best_epoch, best_metrics: the epoch of the lowest ``val/loss`` and its ``val/*`` metrics.
        tested_checkpoint, test_metrics: the checkpoint the fit tested afterwards (``best.ckpt``,
            or ``last.ckpt`` without validation) and what the test measured; for ``amal test``
            and ``amal validate``, the checkpoint given and its metrics.
        predictions: the CSV file that ``predict`` wrote.
        first_epoch, max_epochs: the epoch the fit started at (a resumed run's earlier ones: it has done
            ``first_epoch + epochs`` in all) and its maximum; max_steps: its maximum of steps (-1: none).
        monitor: the metric of ``best_epoch`` and ``best.ckpt``.
        holder, updated: who runs the fit (host, pid, SLURM job) and when its ``run.json`` last said so: a
            ``running`` record whose holder is gone was killed.
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
    first_epoch: int = 0
    max_epochs: Optional[int] = None
    max_steps: int = -1  # -1: no limit on steps (the epochs drive the run)
    monitor: str = "val/loss"
    holder: dict[str, Any] = field(default_factory=dict)
    updated: float = 0.0

    @property
    def total_epochs(self) -> int:
        """The run's epochs in all: those of earlier sessions a resumed fit went on from, and this one's."""
        return self.first_epoch + self.epochs

    @property
    def driven_by_steps(self) -> bool:
        """Whether ``max_steps`` ends the run rather than ``max_epochs`` (none, or -1: no limit)."""
        return self.max_steps > 0 and (self.max_epochs is None or self.max_epochs < 0)

    @property
    def best(self) -> Optional[float]:
        """The best value of ``monitor`` (None before the first validation)."""
        return self.best_metrics.get(self.monitor) if self.best_epoch is not None else None

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON values (paths as text): what ``run.json`` holds."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> "Outcome":
        """The outcome that ``folder/run.json`` holds; a record of an earlier version (``tested``, ``best``,
        ``note``) read as one. Unknown keys are left out, missing ones take their defaults."""
        if "command" not in data:  # before run.json was the outcome: the fit's progress record
            monitor = str(data.get("monitor") or "val/loss")
            best = {} if data.get("best") is None else {monitor: data["best"]}
            data = {**data, "command": "fit", "reason": data.get("note", ""), "monitor": monitor}
            data.update(test_metrics=data.get("tested") or {}, best_metrics=best, checkpoint_dir=str(folder))
        known = {key: value for key, value in data.items() if key in {f.name for f in dataclasses.fields(cls)}}
        check_json_types(known)
        for key in ("checkpoint_dir", "log_dir", "tested_checkpoint", "predictions"):
            if known.get(key) is not None:
                known[key] = Path(known[key])
        known.setdefault("checkpoint_dir", folder)
        defaults = {"command": "fit", "status": "unknown", "reason": "", "experiment": folder.parent.name}
        return cls(**{**defaults, "run": folder.name, **known})

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


# The JSON types of an outcome's fields (None allowed where the field is optional), checked when one is read.
JSON_TYPES: dict[tuple[str, ...], tuple[type, ...]] = {
    ("command", "status", "reason", "experiment", "run", "monitor"): (str,),
    ("epochs", "steps", "first_epoch", "max_steps"): (int,),
    ("best_epoch", "max_epochs"): (int, type(None)),
    ("seconds", "updated"): (int, float),
    ("final_metrics", "best_metrics", "test_metrics", "holder"): (dict,),
    ("checkpoint_dir", "log_dir", "tested_checkpoint", "predictions"): (str, type(None)),
}


def check_json_types(data: dict[str, Any]) -> None:
    """Raises ValueError naming the first field of a saved outcome whose value is not of its type."""
    for names, types in JSON_TYPES.items():
        for name in names:
            value = data.get(name)
            if name in data and (isinstance(value, bool) or not isinstance(value, types)):
                raise ValueError(f"{name}: {value!r} is not a {' or '.join(t.__name__ for t in types)}")
    for name in ("final_metrics", "best_metrics", "test_metrics"):
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (data.get(name) or {}).values()):
            raise ValueError(f"{name}: not a mapping of metrics to numbers")


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
