"""What the options and files accept, checked before anything is built, read or trained.

Ranges are jsonargparse types in the constructors' signatures, so that LightningCLI refuses a bad
value as a usage error while parsing (a checkpoint's hyperparameters are parsed the same way).
What a type cannot say (a file that must be a regular file, a model too large for the memory) is
checked here and raised as an :class:`~amal_lightning.errors.AmalError`, which ``amal`` prints
as one line.
"""

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

from jsonargparse.typing import restricted_number_type

from amal_lightning.errors import AmalError, first_line

if TYPE_CHECKING:  # the models import this module; the commands that train nothing import no torch
    import torch
    from torch import nn

# A share of the rows (or images) held out for validation or testing: 0 turns that loop off,
# and some must be left to train on.
HeldOutFraction = restricted_number_type("HeldOutFraction", float, [(">=", 0), ("<", 1)], docstring="a share in [0, 1)")

# Training keeps four float32 numbers per parameter: the weight, its gradient and Adam's two moments.
TRAINING_BYTES_PER_PARAMETER = 16
GIB = 2**30


def shown(path: Union[str, Path]) -> str:
    """A path as a one-line message shows it: quoted, with escapes, if it holds a line break or other control."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def regular_file(path: Union[str, Path], option: str) -> Path:
    """``path`` if it is a regular file; otherwise an AmalError naming ``option`` and what is there.

    Checked with ``os.stat`` before anything opens it: opening a FIFO for reading blocks until a
    writer comes, which for a mistyped path is forever.
    """
    path, where = Path(path), f"{option} {shown(path)}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise AmalError(f"{where}: no such file") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL character in the path
        raise AmalError(f"{where}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    if stat.S_ISDIR(mode):
        raise AmalError(f"{where}: a folder, not a file")
    if not stat.S_ISREG(mode):
        raise AmalError(f"{where}: not a regular file (a FIFO, a socket or a device)")
    return path


def available_memory() -> int:
    """Bytes of memory this process may still use: the system's available memory, or its cgroup's limit if lower."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            limits.append(int(limit))
    except OSError:
        pass
    if not limits:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    return min(limits)


def check_memory(what: str, needed: int) -> None:
    """Fails with one line if ``needed`` bytes, what ``what`` takes, are more than the memory available now."""
    available = available_memory()
    if needed > available:
        raise AmalError(
            f"{what}: {needed / GIB:,.1f} GiB, more than the {available / GIB:,.1f} GiB of memory available"
        )


def linear_parameters(sizes: Sequence[int]) -> int:
    """The parameters of a stack of linear layers of these sizes, from the input's: weights and biases."""
    return sum((inner + 1) * outer for inner, outer in zip(sizes[:-1], sizes[1:], strict=True))


def check_model_size(model: "nn.Module", num_parameters: int) -> None:
    """Refuses a model whose training could not fit in memory, before a single weight is allocated.

    A per-layer bound would not do: a width that is fine for one layer is not for a stack of
    square layers, and the limit depends on the machine. The constructors count their parameters
    from their options instead (Python integers, which cannot overflow), and training needs
    :data:`TRAINING_BYTES_PER_PARAMETER` bytes for each; more than the memory available now is
    an AmalError naming the model's size options (its integer hyperparameters), instead of an
    allocation failure, or the kernel killing the process, while the layers are built. The model
    is built on the host first, so host memory is the bound even for a run on a GPU.
    """
    hparams = getattr(model, "hparams", {})
    sizes = ", ".join(
        f"{name} {value}" for name, value in hparams.items() if isinstance(value, int) and not isinstance(value, bool)
    )
    what = f"{type(model).__name__} ({sizes}) has {num_parameters:,} parameters to train"
    check_memory(what, num_parameters * TRAINING_BYTES_PER_PARAMETER)


def check_optimizer(
    optimizer: Callable[[Iterable["torch.Tensor"]], "torch.optim.Optimizer"], model: "nn.Module"
) -> None:
    """Builds the optimizer once over the model's parameters, so that its own checks fail in one line now.

    ``torch.optim`` checks its settings (a negative learning rate, betas outside [0, 1), a negative
    weight decay) only when it is built, in ``configure_optimizers`` once training has started.
    Building one holds no state yet (Adam's moments come with the first step), so this costs nothing.
    """
    try:
        optimizer(model.parameters())
    except ValueError as error:
        raise AmalError(f"model.optimizer: {first_line(error)}") from None
