"""A run's config and options as Python gives them, turned into the one command line LightningCLI parses.

:func:`amal_lightning.api.fit` takes its config as a YAML file or as a mapping of the same structure
(``{"model": {...}, "data": {...}, "trainer": {...}}``), and options as command-line words
(``"--trainer.max_epochs", "3"``) or as mappings of dotted option names without dashes
(``{"model.learning_rate": 0.1, "experiment": "x"}``). All of them go through the same parser as
``amal fit``'s own words, in the order given, so a misspelt key in a mapping is refused with the very
line ``amal fit`` prints for the misspelt option, and a later option overrides an earlier one.

A config given as a mapping has no file to name its run after: its experiment is the model's class
name in snake case (``TanhMLP`` → ``tanh_mlp``, as ``configs/tanh_mlp.yaml`` is named), or
``default`` without a model class; an ``experiment`` option (or key of the mapping) names it instead.
"""

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional, Union

from amal_lightning.errors import UsageError

PathLike = Union[str, Path]
Config = Union[PathLike, Mapping[str, Any], None]
# One option: a command-line word, a mapping of dotted option names to values, or a sequence of words.
Option = Union[str, int, float, Path, Mapping[str, Any], Sequence[Any]]
DEFAULT_EXPERIMENT = "default"
CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def option_text(value: Any) -> str:
    """A Python value as the command line spells it (``true``, ``null``, JSON for lists and mappings)."""
    if isinstance(value, (bool, list, tuple, dict)) or value is None:
        return json.dumps(list(value) if isinstance(value, tuple) else value, default=str)
    return str(value)


def mapping_words(options: Mapping[str, Any]) -> list[str]:
    """``{"model.learning_rate": 0.1}`` as ``["--model.learning_rate=0.1"]``: the words the parser reads."""
    words = []
    for key, value in options.items():
        if not isinstance(key, str) or not key or key.startswith("-"):
            raise UsageError(f"{key!r}: an option mapping's keys are option names without dashes (model.learning_rate)")
        words.append(f"--{key}={option_text(value)}")
    return words


def option_words(options: Sequence[Option]) -> list[str]:
    """The command-line words of ``options``, each a word, a mapping or a sequence of words, in order."""
    words: list[str] = []
    for option in options:
        if isinstance(option, Mapping):
            words += mapping_words(option)
        elif isinstance(option, (list, tuple)):
            words += option_words(option)
        else:
            words.append(str(option))
    return words


def snake_case(name: str) -> str:
    return CAMEL_BOUNDARY.sub("_", name).lower()


def default_experiment(config: Mapping[str, Any]) -> str:
    """The experiment of a config given as a mapping: its model's class name in snake case, else ``default``."""
    model = config.get("model")
    class_path = model.get("class_path") if isinstance(model, Mapping) else model
    if not isinstance(class_path, str) or not class_path:
        return DEFAULT_EXPERIMENT
    return snake_case(class_path.rsplit(".", 1)[-1]) or DEFAULT_EXPERIMENT


def config_words(config: Config) -> list[str]:
    """``--config FILE``, or the mapping as inline YAML (JSON is YAML) with its default experiment first."""
    if config is None:
        return []
    if isinstance(config, Mapping):
        named = [] if "experiment" in config else [f"--experiment={default_experiment(config)}"]
        return ["--config", json.dumps(dict(config), default=str), *named]
    return ["--config", str(config)]


def command_line(command: str, config: Config, options: Sequence[Option]) -> list[str]:
    """The words of ``amal COMMAND`` with this config and these options (after ``amal``)."""
    return [command, *config_words(config), *option_words(options)]


def option_pairs(words: Sequence[str]) -> list[tuple[str, Optional[str]]]:
    """``--name=value`` and ``--name value`` as (``name``, ``value``) pairs, dashes off; a flag's value is None."""
    pairs: list[tuple[str, Optional[str]]] = []
    index = 0
    while index < len(words):
        word = str(words[index])
        name, equals, value = word.partition("=")
        following = str(words[index + 1]) if index + 1 < len(words) else None
        if equals:
            pairs.append((name.lstrip("-"), value))
        elif following is not None and not following.startswith("--"):
            pairs.append((name.lstrip("-"), following))
            index += 1
        else:
            pairs.append((name.lstrip("-"), None))
        index += 1
    return pairs
