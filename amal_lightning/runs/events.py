"""A run's curves read back from its TensorBoard event files: what figures and summaries are made of.

The event files are the one record that every ``amal fit`` writes, wherever it ran (here, a
SLURM job array, another machine), so the figures and a study's summary need nothing else.
Each scalar comes with the optimizer step it was logged at and its wall-clock time; Lightning
also logs an ``epoch`` scalar at every step it logs anything, which maps a step to its epoch.

Three kinds of scalars end up in one run folder:

- the epoch curves ``train/*``, ``val/*`` and ``test/*`` (the last with ``--data.test_each_epoch``);
- the test of the best checkpoint after the fit, logged by Lightning at one step past the last
  epoch under the same ``test/*`` names: that point is not part of the curve and is left out
  of it, its values are read from ``hp/test/*``, where ``amal fit`` records them;
- ``hp/*``: the run's best validation and its test, for TensorBoard's hyperparameter table.

Two more are read apart from the curves: ``reference/*``, logged once at step 0 from the run's
data (``reference/train/loss``, the least-squares optimum; ``reference/step_limit``, 2/λ_max;
``reference/test/acc``, chance), kept in ``RunLog.references`` without their prefix; and
``time/train_seconds``, the cumulative seconds inside training steps logged at each epoch's end,
which places each point of a curve on the ``train_seconds`` axis (the seconds its epoch had
trained by then). The run's hyperparameters come from its ``hparams.yaml``, where there is one.

A run resumed from its ``last.ckpt`` writes another event file, which logs again the epochs
that came after the checkpoint; those points of the earlier file are dropped here (TensorBoard's
reader does it only for files that mark restarts, which PyTorch's writer does not), so the curve
is the one the run followed. Its time axis counts from the first file's start, the pause included.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from tensorboard.backend.event_processing.event_accumulator import IMAGES, SCALARS, EventAccumulator

from amal_lightning.errors import AmalError

XAxis = Literal["epoch", "step", "time", "train_seconds"]
X_AXES: tuple[str, ...] = ("epoch", "step", "time", "train_seconds")
CURVE_PREFIXES = ("train/", "val/", "test/")
TESTED_PREFIX = "hp/test/"  # where `amal fit` records the test of its best checkpoint
REFERENCE_PREFIX = "reference/"  # scalars computed from the run's data, logged once
TRAIN_SECONDS = "time/train_seconds"
HPARAMS_FILE = "hparams.yaml"


@dataclass(frozen=True)
class Series:
    """One metric of a run: a point per logged value, in order.

    ``epochs`` are Lightning's epoch numbers (0 for the first, as ``amal fit`` and
    ``diverged.json`` count them); ``seconds`` count from the start of the run; ``train_seconds``
    are the seconds spent inside training steps by the end of each point's epoch (empty if the
    run did not log ``time/train_seconds``).
    """

    metric: str
    steps: tuple[int, ...]
    epochs: tuple[int, ...]
    seconds: tuple[float, ...]
    values: tuple[float, ...]
    train_seconds: tuple[float, ...] = ()

    def x(self, axis: XAxis) -> tuple[float, ...]:
        """The points' positions on an ``epoch``, ``step``, ``time`` or ``train_seconds`` axis (empty if unknown)."""
        if axis == "train_seconds":
            return self.train_seconds if len(self.train_seconds) == len(self.values) else ()
        return {"epoch": self.epochs, "step": self.steps, "time": self.seconds}[axis]

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class RunLog:
    """What a run's event files hold: its epoch curves, the test of its best checkpoint, its pictures."""

    path: Path
    curves: dict[str, Series]
    tested: dict[str, float]  # e.g. {"test/loss": 24.1}; empty if the fit tested nothing
    images: dict[str, bytes]  # the latest PNG of each image tag (reconstructions, interpolation)
    references: dict[str, float] = field(default_factory=dict)  # e.g. {"train/loss": 21.9, "step_limit": 0.2}
    hyperparameters: dict[str, Any] = field(default_factory=dict)  # its hparams.yaml, {} if none

    @property
    def epochs(self) -> int:
        """How many epochs the run completed (from its ``train/*`` curves; 0 if none)."""
        ends = [series.epochs[-1] + 1 for name, series in self.curves.items() if name.startswith("train/") and series]
        return max(ends, default=0)


class _ExpectedPurge(logging.Filter):
    """TensorBoard's reader warns of the purge marker a resumed fit writes: here it is expected and handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("Detected out of order event.step")


_EXPECTED_PURGE = _ExpectedPurge()  # one instance: a logger holds a filter once, however often it is added


def read_run(log_dir: Union[str, Path]) -> RunLog:
    """Reads a run folder's event files (``logs/<experiment>/<run>``); one line of error if there are none."""
    logging.getLogger("tensorboard").addFilter(_EXPECTED_PURGE)
    path = Path(log_dir)
    if not path.is_dir():
        raise AmalError(f"{path}: no such run folder")
    if not any(path.glob("events.out.tfevents.*")):
        raise AmalError(f"{path}: no TensorBoard event files in this folder (is it a run folder, logs/EXP/RUN?)")
    events = EventAccumulator(str(path), size_guidance={SCALARS: 0, IMAGES: 0})
    try:
        events.Reload()
        start = events.FirstEventTimestamp()
    except Exception as error:  # a truncated or foreign file: tensorboard raises several types
        raise AmalError(f"{path}: cannot read its event files ({type(error).__name__}: {error})") from None
    tags = events.Tags()
    scalar_tags = tags.get(SCALARS, [])
    epoch_events = events.Scalars("epoch") if "epoch" in scalar_tags else []
    epoch_of_step = {event.step: int(event.value) for event in epoch_events}

    trained = resumed(events.Scalars(TRAIN_SECONDS)) if TRAIN_SECONDS in scalar_tags else []
    seconds_of_epoch = {epoch_of_step.get(event.step, event.step): float(event.value) for event in trained}

    curves: dict[str, Series] = {}
    for tag in scalar_tags:
        if not tag.startswith(CURVE_PREFIXES):
            continue
        points = resumed(events.Scalars(tag))
        epochs = tuple(epoch_of_step.get(event.step, event.step) for event in points)
        curves[tag] = Series(
            tag,
            tuple(event.step for event in points),
            epochs,
            tuple(event.wall_time - start for event in points),
            tuple(float(event.value) for event in points),
            tuple(seconds_of_epoch[epoch] for epoch in epochs) if all(e in seconds_of_epoch for e in epochs) else (),
        )
    curves = _without_final_test(curves)
    tested = {
        tag[len("hp/") :]: float(events.Scalars(tag)[-1].value) for tag in scalar_tags if tag.startswith(TESTED_PREFIX)
    }
    references = {
        tag[len(REFERENCE_PREFIX) :]: float(events.Scalars(tag)[-1].value)
        for tag in scalar_tags
        if tag.startswith(REFERENCE_PREFIX)
    }
    images = {tag: events.Images(tag)[-1].encoded_image_string for tag in tags.get(IMAGES, [])}
    return RunLog(path, curves, tested, images, references, read_hyperparameters(path / HPARAMS_FILE))


class _LenientLoader(yaml.SafeLoader):
    """A safe loader that reads a Python-tagged value (``!!python/name:...``) as its tag's text."""


_LenientLoader.add_multi_constructor("", lambda loader, suffix, node: suffix)


def read_hyperparameters(path: Path) -> dict[str, Any]:
    """A run's ``hparams.yaml`` (written when the fit ends), or {} if it has none or it cannot be read."""
    try:
        data = yaml.load(path.read_text(), Loader=_LenientLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def resumed(points: list[Any]) -> list[Any]:
    """The points in logging order, each dropping the earlier points logged at its step or after it.

    A run resumed from a checkpoint logs again from the step after it: the points the
    interrupted attempt had logged beyond that step belong to a history that was abandoned.
    """
    kept: list[Any] = []
    for point in points:
        while kept and kept[-1].step >= point.step:
            kept.pop()
        kept.append(point)
    return kept


def _without_final_test(curves: dict[str, Series]) -> dict[str, Series]:
    """The curves without the points logged after the last training epoch (the test after the fit)."""
    trained = [series.epochs[-1] for name, series in curves.items() if name.startswith("train/") and series]
    if not trained:  # not a fit (an `amal test` run): every point belongs
        return curves
    last = max(trained)
    kept = {}
    for name, series in curves.items():
        count = sum(1 for epoch in series.epochs if epoch <= last)
        points = (series.steps, series.epochs, series.seconds, series.values, series.train_seconds)
        kept[name] = Series(name, *(column[:count] for column in points))
    return kept
