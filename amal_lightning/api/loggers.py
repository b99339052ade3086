"""What records an ``amal`` run: its TensorBoard logger, and a profiler that records nothing for free.

The loggers a user adds beside TensorBoard get the same points under the same names:
:mod:`amal_lightning.api.added_loggers`.
"""

import contextlib
import math
import numbers
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

TESTED_AFTER_FIT = "best/"  # the prefix of the after-fit test's scalars: best/test/loss


def named_after_fit(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``metrics`` with each ``test/*`` name under ``best/``: the test of the best checkpoint after a fit."""
    return {
        (f"{TESTED_AFTER_FIT}{name}" if name.startswith("test/") else name): value for name, value in metrics.items()
    }


class BufferedTensorBoardLogger(TensorBoardLogger):
    """A TensorBoard logger that hands its points to the event file at most every ``min_interval_s``.

    Lightning calls ``log_metrics`` and then ``save()`` at every epoch's end. TensorBoard's writer
    builds an event for each scalar and wakes its writer thread to write it; its ``save()`` waits
    until that thread has emptied its queue. In housing runs, whose epochs last a few
    milliseconds, each wake-up is a switch between two threads that need the interpreter, and on
    a loaded machine the main thread then waits for the other to be scheduled: 0.7-1 ms an epoch
    (docs/PERFORMANCE.md). Here the points wait in a list, each with its wall time, and go to the
    writer together, at most every ``min_interval_s`` (at a ``save()``) and at the end of the run
    (``finalize``), and at the first ``save()`` after a ``last.ckpt`` (:meth:`after_resumable_checkpoint`).

    The test of the best checkpoint after a fit logs ``best/test/loss`` (:data:`TESTED_AFTER_FIT`,
    :func:`amal_lightning.api.added_loggers.tested_after_fit`), a point that cannot be taken for one
    of the per-epoch ``test/loss`` points of ``--data.test_each_epoch``.

    Lightning closes the event file at the end of each stage; ``amal fit`` goes on to test in the
    same run, which would then start a second event file. With ``keep_open`` the end of a stage
    only writes everything out, and the owner calls ``finalize`` once ``keep_open`` is unset.
    """

    def __init__(
        self, *args: Any, min_interval_s: float = 1.0, keep_open: bool = False, prefix: str = "", **kwargs: Any
    ) -> None:
        kwargs.setdefault("flush_secs", max(1, round(min_interval_s)))
        kwargs.setdefault("default_hp_metric", False)  # the real metrics go to the HParams tab at the end
        super().__init__(*args, **kwargs)  # no prefix for Lightning: the points are named here (named())
        self.metric_prefix = prefix
        self.min_interval_s = min_interval_s
        self.keep_open = keep_open
        self.saved_at = -math.inf
        self.pending: list[tuple[float, dict[str, Any], Optional[int]]] = []  # (wall time, metrics, step)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        metrics = {name: v.item() if isinstance(v, Tensor) else v for name, v in metrics.items()}
        if all(isinstance(v, (numbers.Number, dict)) for v in metrics.values()):
            self.pending.append((time.time(), metrics, step))
        else:  # Lightning's error, at once, for a value TensorBoard cannot show
            self.write_pending()
            super().log_metrics(self.named(metrics), step)

    def named(self, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """The points under the logger's ``prefix`` (``prefix-train/loss``), as Lightning's loggers join it."""
        if not self.metric_prefix:
            return dict(metrics)
        return {f"{self.metric_prefix}{self.LOGGER_JOIN_CHAR}{name}": value for name, value in metrics.items()}

    def write_pending(self) -> None:
        """Hands the points logged since the last call to TensorBoard's writer, with the times they were logged at."""
        pending, self.pending = self.pending, []
        for walltime, metrics, step in pending:
            for name, value in self.named(metrics).items():
                if isinstance(value, dict):
                    self.experiment.add_scalars(name, value, step, walltime)
                else:
                    self.experiment.add_scalar(name, value, step, walltime=walltime)

    def finalize(self, status: str) -> None:
        self.write_pending()
        if not self.keep_open:
            super().finalize(status)
            return
        self.experiment.flush()
        if status == "success":
            super().save()

    def after_resumable_checkpoint(self) -> None:
        """A checkpoint to resume from was just written (``last.ckpt``): the next ``save()`` writes the
        points, whatever the interval, so that a run killed after it and resumed from it has a point at
        each step (the epoch's own points are logged after its checkpoint)."""
        self.saved_at = -math.inf

    def save(self) -> None:
        if time.monotonic() - self.saved_at >= self.min_interval_s:
            self.saved_at = time.monotonic()
            self.write_pending()
            super().save()

    def close_with_results(self, hyperparameters: dict[str, Any], metrics: dict[str, Any]) -> None:
        """Shows the run's final metrics beside its hyperparameters in TensorBoard's HParams tab, then closes.

        The metrics are logged as ``hp/<name>`` (one point each), so that the curves of the same
        names keep only their own points.
        """
        shown = {name: value for name, value in hyperparameters.items() if not name.startswith("_")}
        self.log_hyperparams(shown, {f"hp/{name}": value for name, value in metrics.items()})
        self.keep_open = False
        self.finalize("success")


def wait_to_name_after_earlier_event_files(log_dir: Path) -> None:
    """Waits, if need be, until a new event file in ``log_dir`` would be named after those already there.

    TensorBoard and its reader take a folder's event files in the order of their names,
    ``events.out.tfevents.<second>.<host>.<pid>.<count>``, where ``<count>`` is a number of the
    process that is not zero-padded. A run resumed in the same second as its first file was opened,
    by a process that had opened ten files or more (a notebook, a study), would name its file
    ``….10`` before ``….9`` and have its points read first. At most a second, and only then.
    """
    seconds = [
        int(field) for file in log_dir.glob("events.out.tfevents.*") if (field := file.name.split(".")[3]).isdigit()
    ]
    if seconds and (delay := max(seconds) + 1 - time.time()) > 0:
        time.sleep(delay)


class SilentProfiler(PassThroughProfiler):
    """Lightning's default profiler, which times nothing, without what it costs.

    Lightning wraps every hook call, of each callback and of the model, in ``profiler.profile(name)``:
    some sixty a training step with amal's callbacks. The default profiler builds a new
    generator-based context manager for each, about a microsecond; this one hands back one empty
    context manager. ``--trainer.profiler simple`` (or any other) still profiles as usual.
    """

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:  # type: ignore[override]
        return self._nothing
