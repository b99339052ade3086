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
from typing import Any, Union

from amal_lightning.runs.options import mapping_words

PathLike = Union[str, Path]
Config = Union[PathLike, Mapping[str, Any], None]
# One option: a command-line word, a mapping of dotted option names to values, or a sequence of words.
Option = Union[str, int, float, Path, Mapping[str, Any], Sequence[Any]]
DEFAULT_EXPERIMENT = "default"
CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


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


def default_experiment(config: Mapping[str, Any]) -> str:
    """The experiment of a config given as a mapping: its model's class name in snake case, else ``default``."""
    model = config.get("model")
    class_path = model.get("class_path") if isinstance(model, Mapping) else model
    if not isinstance(class_path, str) or not class_path:
        return DEFAULT_EXPERIMENT
    return CAMEL_BOUNDARY.sub("_", class_path.rsplit(".", 1)[-1]).lower() or DEFAULT_EXPERIMENT


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
