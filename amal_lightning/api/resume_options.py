"""The ``--model.*`` options that a checkpoint overrides, named in one line each.

Given ``--ckpt_path``, LightningCLI rebuilds the model from the hyperparameters saved in the
checkpoint, over the config and the command line: the weights are the checkpoint's, and so must be
the options that shape them. An option the user typed with a different value used to be dropped
without a word (``amal fit --config configs/autoencoder.yaml --ckpt_path last --model.latent_dim 16``
trained the checkpoint's 32-wide code). :func:`given_model_options` notes the values the command
line gave, before the checkpoint is read; :func:`overridden_lines` says, after, which of them the
checkpoint replaced, and by what.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from amal_lightning.words import option_of

MODEL_PREFIX = "--model."


def config_key(option: str) -> str:
    """Where a ``--model.X`` option lands in the parsed config: ``model.init_args.X`` (the options of a
    model's class), unless it names ``init_args`` or ``class_path`` itself."""
    rest = option.removeprefix(MODEL_PREFIX)
    return (
        f"model.{rest}"
        if rest.split(".")[0] in ("init_args", "class_path", "dict_kwargs")
        else f"model.init_args.{rest}"
    )


def given_model_options(words: Sequence[str], config: Any) -> dict[str, tuple[str, Any]]:
    """The ``--model.*`` options of ``words``, each with its key in ``config`` and the value parsed there."""
    given: dict[str, tuple[str, Any]] = {}
    for word in words:
        option = option_of(str(word))
        if not option.startswith(MODEL_PREFIX) or option.endswith(".class_path"):
            continue  # the model's class is checked against the checkpoint's on its own (checkpoint_files)
        key = config_key(option)
        value = config.get(key) if hasattr(config, "get") else None
        if value is not None:
            given[option] = (key, value)
    return given


def shown(value: Any) -> str:
    """A value as the command line writes it (a class's options as a plain mapping)."""
    as_dict = getattr(value, "as_dict", None)
    return str(as_dict() if callable(as_dict) else value)


def overridden_lines(given: dict[str, tuple[str, Any]], config: Any, checkpoint: Optional[Path]) -> list[str]:
    """One line for each given option whose value the checkpoint's hyperparameters replaced in ``config``."""
    lines = []
    for option, (key, value) in given.items():
        kept = config.get(key) if hasattr(config, "get") else None
        if kept is not None and shown(kept) != shown(value):
            name = key.rsplit(".", 1)[-1]
            lines.append(
                f"{option} {shown(value)} is not used: the model is {checkpoint}'s, whose {name} is {shown(kept)} "
                "(a checkpoint's model keeps the options it was trained with)"
            )
    return lines
