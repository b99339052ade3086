"""What a checkpoint file must be before ``amal`` trusts it.

A checkpoint names classes to import and holds hyperparameters that LightningCLI lays over the
config's. A damaged file, a checkpoint of another model, or weights of other shapes would
otherwise end in a long traceback after the run folder is made, or in a silently different
model (``amal fit --config classifier.yaml`` training an autoencoder). These checks read the file
with ``weights_only=True`` and import nothing but the config's own class.
"""

import importlib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from amal_lightning.errors import AmalError, first_line

if TYPE_CHECKING:
    import torch


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True``; one line of error if it is not a Lightning checkpoint."""
    if not path.is_file():
        raise AmalError(f"--ckpt_path {path}: no such file")
    import torch  # here: the run-folder policy that imports this module serves commands that train nothing

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        raise AmalError(f"{path}: not a readable checkpoint ({first_line(error)})") from None
    if not isinstance(checkpoint, dict):
        raise AmalError(f"{path}: not a Lightning checkpoint (no dictionary)")
    missing = [key for key in ("state_dict", "pytorch-lightning_version") if key not in checkpoint]
    if missing:
        raise AmalError(f"{path}: not a Lightning checkpoint (no {' or '.join(missing)})")
    return checkpoint


def check_checkpoint_model(path: Path, hyperparameters: Mapping[str, Any], model_class_path: str) -> None:
    """Fails with one line unless a checkpoint's model is the config's class, with options it accepts.

    LightningCLI imports the class named in a checkpoint and builds it with the checkpoint's
    hyperparameters over the config's: a checkpoint of another model would silently replace the
    config's (or import any installed module). This runs first, and imports nothing but the
    config's own class (already imported while the config was parsed).
    """
    module, _, name = model_class_path.rpartition(".")
    model_class = getattr(importlib.import_module(module), name)
    expected = f"{model_class.__module__}.{model_class.__qualname__}"
    recorded = hyperparameters.get("_class_path")
    if recorded is not None and recorded != expected and not _same_class(recorded, model_class):
        raise AmalError(f"{path}: a checkpoint of {recorded}, but the config's model is {expected}")
    accepted = set(inspect.signature(model_class).parameters)
    unknown = sorted(key for key in hyperparameters if not key.startswith("_") and key not in accepted)
    if unknown:
        raise AmalError(
            f"{path}: its hyperparameters {', '.join(unknown)} are not options of {model_class.__name__} "
            "(a checkpoint written by an earlier version of amal_lightning?)"
        )


def check_checkpoint_weights(path: Path, saved: Mapping[str, tuple[int, ...]], model: "torch.nn.Module") -> None:
    """Fails with one line unless a checkpoint's weights have the names and shapes of ``model``'s."""
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problems = [f"{key} missing" for key in expected if key not in saved]
    problems += [f"{key} unexpected" for key in saved if key not in expected]
    problems += [
        f"{key} is {list(saved[key])} here but {list(shape)} in the model"
        for key, shape in expected.items()
        if key in saved and saved[key] != shape
    ]
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise AmalError(f"{path}: its weights do not fit {type(model).__name__} ({shown})")


def _same_class(class_path: str, model_class: type) -> bool:
    """Whether ``class_path`` names ``model_class`` through a package that re-exports it (no import)."""
    module, _, name = class_path.rpartition(".")
    return name == model_class.__qualname__ and model_class.__module__.startswith(module + ".")
