"""What records an ``amal`` run: its TensorBoard logger, and a profiler that records nothing for free."""

import contextlib
import math
import time
from typing import Any, Optional

from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.profilers import PassThroughProfiler

TESTED_AFTER_FIT = "best/"  # the prefix of the after-fit test's scalars: best/test/loss


class BufferedTensorBoardLogger(TensorBoardLogger):
    """A TensorBoard logger that writes its event file to disk at most every ``min_interval_s``.

    Lightning calls ``save()`` after each logging call, and TensorBoard's waits until its writer
    thread has emptied its queue: in housing runs whose epochs last a few milliseconds, that
    wait is a large part of an epoch (docs/PERFORMANCE.md). The writer thread itself still writes
    what is pending every ``min_interval_s`` (its ``flush_secs``), without holding training up,
    and the end of the run (``finalize``) writes everything.

    While ``tag_prefix`` is set, the ``test/*`` scalars are logged under it: the test of the best
    checkpoint after a fit logs ``best/test/loss`` (:data:`TESTED_AFTER_FIT`), a point that cannot
    be taken for one of the per-epoch ``test/loss`` points of ``--data.test_each_epoch``.

    Lightning closes the event file at the end of each stage; ``amal fit`` goes on to test in the
    same run, which would then start a second event file. With ``keep_open`` the end of a stage
    only writes everything out, and the owner calls ``finalize`` once ``keep_open`` is unset.
    """

    def __init__(self, *args: Any, min_interval_s: float = 1.0, keep_open: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("flush_secs", max(1, round(min_interval_s)))
        kwargs.setdefault("default_hp_metric", False)  # the real metrics go to the HParams tab at the end
        super().__init__(*args, **kwargs)
        self.min_interval_s = min_interval_s
        self.keep_open = keep_open
        self.saved_at = -math.inf
        self.tag_prefix = ""

    def log_metrics(self, metrics: dict[str, Any], step: Optional[int] = None) -> None:
        if self.tag_prefix:
            metrics = {
                (f"{self.tag_prefix}{name}" if name.startswith("test/") else name): v for name, v in metrics.items()
            }
        super().log_metrics(metrics, step)

    def finalize(self, status: str) -> None:
        if not self.keep_open:
            super().finalize(status)
            return
        self.experiment.flush()
        if status == "success":
            super().save()

    def save(self) -> None:
        if time.monotonic() - self.saved_at >= self.min_interval_s:
            self.saved_at = time.monotonic()
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
