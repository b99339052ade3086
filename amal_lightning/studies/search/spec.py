"""A study file's ``search:`` block: the space Optuna searches, checked here before anything trains.

::

    search:
      params:
        model.optimizer.init_args.lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
        data.batch_size: {type: categorical, choices: [1, 8, 32, full]}
        model.hidden_dim: {type: int, low: 32, high: 512, log: true}
      n_trials: 20                 # trials in all, whatever the number of workers
      metric: best val/loss        # a summary.csv column: final …, best …, tested …
      direction: minimize          # or maximize
      sampler: tpe                 # the only one; seeded with seed (default 0)
      seed: 0
      pruner: none                 # or median (one seed per trial, one device)

Each key of ``params`` is an ``amal fit`` option without its dashes. Every error is one line naming
the study file and the key.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from amal_lightning.errors import AmalError
from amal_lightning.studies.variants import option_text

SEARCH_KEYS = ("params", "n_trials", "metric", "direction", "sampler", "seed", "pruner")
PARAM_KEYS = {"float": ("type", "low", "high", "log"), "int": ("type", "low", "high", "log")}
PARAM_KEYS["categorical"] = ("type", "choices")
METRIC_KINDS = ("final ", "best ", "tested ")


@dataclass(frozen=True)
class Param:
    """One searched option: ``float`` or ``int`` in [low, high] (``log``: uniform in its logarithm), or a choice."""

    key: str
    type: str
    low: Any = None
    high: Any = None
    log: bool = False
    choices: tuple = ()

    def describe(self) -> dict[str, Any]:
        """As written in the journal, to tell a changed search space."""
        if self.type == "categorical":
            return {"type": self.type, "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high, "log": self.log}

    def corners(self) -> list[Any]:
        """The values checked by ``amal fit``'s parser before anything trains: the ends, or every choice."""
        return list(self.choices) if self.type == "categorical" else [self.low, self.high]


@dataclass(frozen=True)
class SearchSpec:
    """What to search, how many trials, and what to minimize or maximize."""

    params: tuple[Param, ...]
    n_trials: int
    metric: str
    direction: str = "minimize"
    seed: int = 0
    pruner: str = "none"
    sampler: str = "tpe"

    def space(self) -> dict[str, Any]:
        """What a journal remembers of the search: a journal with another space is refused."""
        return {
            "params": {param.key: param.describe() for param in self.params},
            "metric": self.metric,
            "direction": self.direction,
        }

    @property
    def monitor(self) -> str:
        """The curve the pruner watches: the metric's curve (``val/loss`` of ``best val/loss``)."""
        return self.metric.split(" ", 1)[1]


def trial_options(params: dict[str, Any]) -> tuple[str, ...]:
    """A trial's parameters as ``amal fit`` options, in the search's order."""
    return tuple(f"--{key}={option_text(value)}" for key, value in params.items())


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def param_spec(where: str, key: Any, data: Any) -> Param:
    """One entry of ``params``, checked."""
    here = f"{where}, params, {key}"
    if not isinstance(key, str) or not key or key.startswith("-"):
        raise AmalError(f"{here}: expected an amal fit option without dashes, e.g. model.optimizer.init_args.lr")
    if not isinstance(data, dict) or data.get("type") not in PARAM_KEYS:
        raise AmalError(f"{here}: expected {{type: float|int|categorical, ...}}")
    unknown = [name for name in data if name not in PARAM_KEYS[data["type"]]]
    if unknown:
        raise AmalError(f"{here}: unknown key {unknown[0]!r} (known: {', '.join(PARAM_KEYS[data['type']])})")
    if data["type"] == "categorical":
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise AmalError(f"{here}: choices must be a non-empty list, e.g. [1, 8, 32, full]")
        if not all(choice is None or isinstance(choice, (bool, int, float, str)) for choice in choices):
            raise AmalError(f"{here}: each choice must be a number, a word, true, false or null")
        if len({repr(choice) for choice in choices}) != len(choices):
            raise AmalError(f"{here}: choices repeat ({choices})")
        return Param(key, "categorical", choices=tuple(choices))
    low, high, log = data.get("low"), data.get("high"), data.get("log", False)
    wanted = int if data["type"] == "int" else (int, float)
    for name, value in (("low", low), ("high", high)):
        if not is_number(value) or not isinstance(value, wanted):
            kind = "an integer" if data["type"] == "int" else "a number"
            raise AmalError(f"{here}: {name} must be {kind}, got {value!r}")
    if not isinstance(log, bool):
        raise AmalError(f"{here}: log must be true or false, got {log!r}")
    if low >= high:
        raise AmalError(f"{here}: low ({low}) must be below high ({high})")
    if log and low <= 0:
        raise AmalError(f"{here}: a log scale needs low > 0, got {low}")
    if data["type"] == "float":
        low, high = float(low), float(high)
    return Param(key, data["type"], low, high, log)


def search_spec(where: str, data: Any) -> SearchSpec:
    """A study file's ``search`` block, checked; ``where`` names the file."""
    here = f"{where}, search"
    if not isinstance(data, dict):
        raise AmalError(f"{here}: expected a mapping with {', '.join(SEARCH_KEYS)}")
    unknown = [key for key in data if key not in SEARCH_KEYS]
    if unknown:
        raise AmalError(f"{here}: unknown key {unknown[0]!r} (known: {', '.join(SEARCH_KEYS)})")
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise AmalError(f"{here}, params: expected options to search, e.g. {{data.batch_size: {{...}}}}")
    n_trials = data.get("n_trials")
    if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
        raise AmalError(f"{here}, n_trials: expected a positive number of trials, got {n_trials!r}")
    metric = data.get("metric")
    if not isinstance(metric, str) or not metric.startswith(METRIC_KINDS) or "/" not in metric:
        raise AmalError(f"{here}, metric: expected a summary column such as 'best val/loss', got {metric!r}")
    direction = data.get("direction", "minimize")
    if direction not in ("minimize", "maximize"):
        raise AmalError(f"{here}, direction: expected minimize or maximize, got {direction!r}")
    sampler = data.get("sampler", "tpe")
    if sampler != "tpe":
        raise AmalError(f"{here}, sampler: only tpe is offered, got {sampler!r}")
    pruner = data.get("pruner", "none")
    if pruner not in ("none", "median"):
        raise AmalError(f"{here}, pruner: expected median or none, got {pruner!r}")
    if pruner == "median" and not metric.startswith(("final val/", "best val/")):
        raise AmalError(f"{here}, pruner: the median pruner watches a validation curve; metric is {metric!r}")
    seed = data.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise AmalError(f"{here}, seed: expected an integer from 0 to 4294967295, got {seed!r}")
    checked = tuple(param_spec(here, key, value) for key, value in params.items())
    return SearchSpec(checked, n_trials, metric, direction, seed, pruner, sampler)


def reproduce(config: Path, common: tuple[str, ...], params: dict[str, Any], seed: Optional[int] = None) -> str:
    """The ``amal fit`` command that trains a trial again (one of its seeds)."""
    import shlex

    seeded = () if seed is None else (f"--seed_everything={seed}",)
    return shlex.join(["amal", "fit", "--config", str(config), *common, *trial_options(params), *seeded])
