"""How a run's options are spelt on the command line: ``{"model.learning_rate": 0.1}`` as ``--model.learning_rate=0.1``.

A run started from Python (:func:`amal_lightning.api.fit`) or a study's variant holds its options as a
mapping of dotted option names to values; LightningCLI's parser reads them as these words, so that a
mapping and the words ``amal fit`` is given are refused, or accepted, alike. Torch-free: a study's
summary spells its variants' options with it too.
"""

import json
from collections.abc import Mapping
from typing import Any

from amal_lightning.errors import UsageError


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
