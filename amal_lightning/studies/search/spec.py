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

Each key of ``params`` is an ``amal fit`` option without its dashes. The block is read as a
:class:`SearchBlock` (:mod:`amal_lightning.studies.validation`), every error one line naming the
study file and the key; the reference of its keys is docs/STUDIES.md.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, StrictBool, StrictFloat, StrictInt, ValidationInfo, field_validator, model_validator

from amal_lightning.studies.validation import FileModel, validated
from amal_lightning.studies.variants import option_text
from amal_lightning.words import option_of

METRIC = r"^(final|best|tested) .*/"  # a summary column of a curve: best val/loss
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Choice = Annotated[
    Union[None, StrictBool, StrictInt, StrictFloat, str], Field(description="a number, a word, true, false or null")
]


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


class NumberRange(FileModel):
    """What a float and an int parameter check alike: an interval, and a positive one on a log scale."""

    @model_validator(mode="after")
    def ordered(self) -> "NumberRange":
        """An empty interval leaves nothing to sample; a log scale has no logarithm of 0 or less."""
        low, high, log = self.low, self.high, self.log  # type: ignore[attr-defined]
        if low >= high:
            raise ValueError(f"low ({low}) must be below high ({high})")
        if log and low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {low}")
        return self


class FloatParam(NumberRange):
    """A float option searched in [low, high]: uniformly, or uniformly in its logarithm (``log``)."""

    type: Literal["float"]
    low: Number = Field(description="the lowest value, a number")
    high: Number = Field(description="the highest value, a number above low")
    log: StrictBool = Field(False, description="true or false: uniform in the logarithm (low > 0)")


class IntParam(NumberRange):
    """An integer option searched in [low, high]: uniformly, or uniformly in its logarithm (``log``)."""

    type: Literal["int"]
    low: StrictInt = Field(description="the lowest value, an integer")
    high: StrictInt = Field(description="the highest value, an integer above low")
    log: StrictBool = Field(False, description="true or false: uniform in the logarithm (low > 0)")


class CategoricalParam(FileModel):
    """An option that takes one of ``choices``."""

    type: Literal["categorical"]
    choices: list[Choice] = Field(
        min_length=1, description="a non-empty list of numbers, words, true, false or null, e.g. [1, 8, 32, full]"
    )

    @field_validator("choices")
    @classmethod
    def distinct(cls, choices: list[Any]) -> list[Any]:
        """A repeated choice would be sampled twice as often as the others."""
        if len({repr(choice) for choice in choices}) != len(choices):
            raise ValueError(f"choices repeat ({choices})")
        return choices


ParamBlock = Annotated[
    Union[FloatParam, IntParam, CategoricalParam],
    Field(discriminator="type", description="a searched option: {type: float|int|categorical, ...}"),
]


class SearchBlock(FileModel):
    """A study file's search: the options Optuna searches, how many trials, and what it optimizes."""

    params: dict[str, ParamBlock] = Field(
        min_length=1, description="the options to search, e.g. {data.batch_size: {type: categorical, ...}}"
    )
    n_trials: StrictInt = Field(gt=0, description="a positive number of trials")
    metric: str = Field(pattern=METRIC, description="a summary column such as 'best val/loss'")
    direction: Literal["minimize", "maximize"] = Field("minimize", description="minimize or maximize")
    sampler: Literal["tpe"] = Field("tpe", description="tpe, the only sampler offered (seeded with seed)")
    seed: StrictInt = Field(0, ge=0, lt=2**32, description="an integer from 0 to 4294967295")
    pruner: Literal["none", "median"] = Field("none", description="median or none")

    @field_validator("params")
    @classmethod
    def options(cls, params: dict[str, Any]) -> dict[str, Any]:
        """A key is the option's dotted name, as in a variant's options (the dashes are the command line's)."""
        dashed = next((key for key in params if not key or key.startswith("-")), None)
        if dashed is not None:
            raise ValueError(f"{dashed!r}: expected an amal fit option without dashes, e.g. model.hidden_dim")
        return params

    @field_validator("pruner")
    @classmethod
    def watched(cls, pruner: str, info: ValidationInfo) -> str:
        """The median pruner compares the curve it watches epoch by epoch: a validation curve."""
        metric = info.data.get("metric", "")
        if pruner == "median" and metric and not metric.startswith(("final val/", "best val/")):
            raise ValueError(f"the median pruner watches a validation curve; metric is {metric!r}")
        return pruner

    def spec(self) -> "SearchSpec":
        """The search as the trials and the journal use it."""
        params = tuple(
            Param(key, "categorical", choices=tuple(param.choices))
            if isinstance(param, CategoricalParam)
            else Param(key, param.type, param.low, param.high, param.log)
            for key, param in self.params.items()
        )
        return SearchSpec(params, self.n_trials, self.metric, self.direction, self.seed, self.pruner, self.sampler)


def search_spec(where: str, data: Any) -> SearchSpec:
    """A study file's ``search`` block, checked; ``where`` names the file."""
    return validated(SearchBlock, f"{where}, search", data).spec()


def merged_options(words: Sequence[str]) -> list[str]:
    """``words`` with each option given once: the last ``--name=value`` or ``--name value`` of a name, where it
    stands, as the parser would take it. An option whose place matters is kept every time: ``--config``, an
    appended class (``--trainer.callbacks+=NAME``) and the options of such a list, which reach the last one."""
    items: list[tuple[Optional[str], list[str]]] = []  # (the option's name, or None for a word of no option)
    index = 0
    while index < len(words):
        word = words[index]
        name = option_of(word) if word.startswith("--") else None
        paired = name is not None and "=" not in word and index + 1 < len(words)
        taken = [word, words[index + 1]] if paired and not words[index + 1].startswith("--") else [word]
        items.append((name, taken))
        index += len(taken)
    appended = {name.removesuffix("+") for name, _ in items if name is not None and name.endswith("+")}

    def placed(name: str) -> bool:
        listed = name.removesuffix("+")
        return name == "--config" or any(listed == own or listed.startswith(f"{own}.") for own in appended)

    last = {name: position for position, (name, _) in enumerate(items) if name is not None and not placed(name)}
    kept = [
        taken for position, (name, taken) in enumerate(items) if name is None or last.get(name, position) == position
    ]
    return [word for taken in kept for word in taken]


def reproduce(config: Path, common: tuple[str, ...], params: dict[str, Any], seed: Optional[int] = None) -> str:
    """The ``amal fit`` command that trains a trial again (one of its seeds), each option once
    (``-- --trainer.max_epochs 2`` given to ``amal study`` replaces the file's ``--trainer.max_epochs=5``)."""
    import shlex

    seeded = () if seed is None else (f"--seed_everything={seed}",)
    words = merged_options([*common, *trial_options(params), *seeded])
    return shlex.join(["amal", "fit", "--config", str(config), *words])
