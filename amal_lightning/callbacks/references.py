"""Reference values beside a run's curves: what the data itself allows, logged once at step 0.

At the start of each fit, from the data the run trains on (computed on the CPU, in float64), on
global rank zero, to the TensorBoard logger, each scalar once at step 0 (the study figures read them
under these names):

- a regression model (TME1, TME2) on a datamodule whose splits are TensorDatasets of features X
  and targets y (the housing table, the random regression):

  - ``reference/train/loss``, ``reference/val/loss``, ``reference/test/loss``: the MSE on each
    split of the least-squares solution w* (with an intercept) fitted on the training split, in the
    unit of the model's ``train/loss`` (mean over rows and outputs, ``F.mse_loss``; TME1's hand-written
    MSE sums over the outputs). On the training split it is the floor of a linear model's training
    loss: no linear model does better, and a full-batch descent that converges ends there. On the
    held-out splits it is where the linear optimum lands, not a floor;
  - ``reference/step_limit`` (linear models only): 2/λ_max(H), H the Hessian of that loss,
    (2/q)·X̃ᵀX̃ on the q training rows, X̃ with a column of ones for the intercept (divided by the
    p outputs where the loss averages over them). Full-batch gradient descent (plain steps
    w ← w − ε∇L: the models' ``learning_rate``, or SGD without momentum) converges for every step
    size ε below it and diverges above it; mini-batch descent has no such sharp limit.

- a classifier on MNIST: ``reference/val/acc`` and ``reference/test/acc``, chance: the frequency of
  the split's most common digit, what always answering that digit scores (about 0.1);
- the autoencoder on MNIST: ``reference/val/mse`` and ``reference/test/mse``, the reconstruction MSE
  per pixel (the unit of its ``test/mse``) of PCA with as many components as the code (the last entry
  of ``latent_dim``), fitted on the training images centred by their mean. It is the best any LINEAR
  code of that size can do (Baldi and Hornik, 1989): the reference a ReLU/sigmoid autoencoder is
  compared with, not a floor for it, which may well go below it. (PCA's reconstructions are not
  clipped to [0, 1].)

A fit resumed in its own run logs nothing: its event files hold the values already.

Cheap: a housing fit pays for a 14×14 solve (a few milliseconds); the autoencoder for one 784×784
Gram matrix of the training images and its eigendecomposition: under a second on the bundled sample,
3 to 4.5 s on MNIST's 55,000 training images on two busy cores (the Gram matrix, 68 GFLOP in float64;
the eigendecomposition is 0.25 s), a fraction of that on a machine with more cores.
It does nothing, and costs nothing, for a model or data it does not know, or without a TensorBoard
logger; a failure is a warning, never a failed run.
"""

from collections.abc import Mapping
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import TensorDataset

from amal_lightning.callbacks.pictures import find_tensorboard

PREFIX = "reference/"
SPLITS = ("train", "val", "test")
CHUNK = 8192  # rows converted to float64 at a time: 50 MB of MNIST images


def _design(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64 with a column of ones for the intercept."""
    x = x.double().flatten(1)
    return torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], dim=1)


Split = tuple[torch.Tensor, torch.Tensor]


def least_squares_references(
    train: Split, val: Optional[Split] = None, test: Optional[Split] = None, sum_outputs: bool = False
) -> dict[str, float]:
    """The MSE on each split of the least-squares fit (with intercept) of ``train``: ``{"train": …, …}``.

    Each split is ``(x, y)``; the MSE is the squared error averaged over rows and outputs
    (``F.mse_loss``), or summed over outputs and averaged over rows with ``sum_outputs`` (TME1's
    ``MSE``). An empty or missing split is left out.
    """
    x, y = train
    targets = y.double().reshape(len(y), -1)
    solution = torch.linalg.lstsq(_design(x), targets, driver="gelsd").solution  # minimal norm if rank-deficient
    results = {}
    for name, split in zip(SPLITS, (train, val, test), strict=True):
        if split is None or len(split[0]) == 0:
            continue
        features, values = split
        residual = _design(features) @ solution - values.double().reshape(len(values), -1)
        divisor = len(residual) * (1 if sum_outputs else residual.shape[1])
        results[name] = residual.pow(2).sum().item() / divisor
    return results


def step_size_limit(x: torch.Tensor, num_outputs_averaged: int = 1) -> float:
    """2/λ_max(H) for full-batch gradient descent on ``‖X̃w − y‖²/(q·m)``, H = (2/(q·m))·X̃ᵀX̃.

    ``x`` holds the q training rows; X̃ adds a column of ones for the intercept; m is the number of
    outputs the loss averages over (1 where it sums over them). Descent with a step ε converges
    if and only if ε is below this limit.
    """
    design = _design(x)
    hessian = 2 / (len(design) * num_outputs_averaged) * (design.T @ design)
    return 2 / torch.linalg.eigvalsh(hessian)[-1].item()


def chance(labels: torch.Tensor) -> float:
    """The frequency of the most common label: the accuracy of always answering it."""
    labels = labels.flatten().long().cpu()
    return torch.bincount(labels - labels.min()).max().item() / len(labels)


def _unit(chunk: torch.Tensor) -> torch.Tensor:
    """Images as float64 in [0, 1]: uint8 ones are divided by 255, others taken as they are."""
    chunk = chunk.cpu().flatten(1)
    return chunk.double() / 255 if chunk.dtype == torch.uint8 else chunk.double()


def pca_mses(train_images: torch.Tensor, splits: Mapping[str, torch.Tensor], k: int) -> dict[str, float]:
    """Per split, the MSE per pixel of its images' reconstruction by the top ``k`` principal components.

    The components are the eigenvectors of the covariance of ``train_images`` (centred by their
    mean) with the ``k`` largest eigenvalues; an image x becomes μ + VVᵀ(x − μ). Images are uint8
    (divided by 255) or floats in [0, 1]. Empty splits are left out.
    """
    count, dim = len(train_images), train_images[0].numel()
    total, gram = torch.zeros(dim, dtype=torch.float64), torch.zeros(dim, dim, dtype=torch.float64)
    for chunk in train_images.split(CHUNK):
        chunk = _unit(chunk)
        total += chunk.sum(0)
        gram += chunk.T @ chunk
    mean = total / count
    covariance = gram / count - torch.outer(mean, mean)
    vectors = torch.linalg.eigh(covariance).eigenvectors  # eigenvalues ascending
    k = max(0, min(k, dim))
    # The residual's energy, without cancellation: ‖x − μ‖² − ‖Vᵀ(x − μ)‖² for a few components,
    # else ‖Uᵀ(x − μ)‖² with U the dim − k components left out (VVᵀ + UUᵀ = I).
    kept, left_out = vectors[:, dim - k :], vectors[:, : dim - k]
    results = {}
    for name, images in splits.items():
        if len(images) == 0:
            continue
        energy = 0.0
        for chunk in images.split(CHUNK):
            centred = _unit(chunk) - mean
            if k <= dim // 2:
                energy += (centred.pow(2).sum() - (centred @ kept).pow(2).sum()).item()
            else:
                energy += (centred @ left_out).pow(2).sum().item()
        results[name] = energy / (len(images) * dim)
    return results


def pca_mse(train_images: torch.Tensor, images: torch.Tensor, k: int) -> float:
    """The MSE per pixel of ``images`` reconstructed by the top ``k`` principal components of ``train_images``."""
    return pca_mses(train_images, {"images": images}, k)["images"]


def _splits(datamodule: Any) -> dict[str, Any]:
    return {name: getattr(datamodule, f"{name}_set", None) for name in SPLITS}


def regression_references(model: L.LightningModule, datamodule: Any) -> dict[str, float]:
    """The least-squares losses and, for a linear model, the step-size limit (empty for other data)."""
    from amal_lightning.tme1 import HandGradientRegression
    from amal_lightning.tme2 import AutogradRegression, OptimRegression

    splits = _splits(datamodule)
    if not all(isinstance(split, TensorDataset) and len(split.tensors) == 2 for split in splits.values()):
        return {}
    if len(splits["train"]) == 0:
        return {}
    sum_outputs = isinstance(model, HandGradientRegression)  # TME1's MSE sums over the outputs
    tensors = [split.tensors for split in splits.values()]
    losses = least_squares_references(*tensors, sum_outputs=sum_outputs)
    values = {f"{name}/loss": loss for name, loss in losses.items()}
    linear = isinstance(model, (HandGradientRegression, AutogradRegression)) or (
        isinstance(model, OptimRegression) and len(model.layer_sizes()) == 2
    )
    if linear:
        x, y = tensors[0]
        outputs = 1 if sum_outputs else y.reshape(len(y), -1).shape[1]
        values["step_limit"] = step_size_limit(x, outputs)
    return values


def reference_values(model: L.LightningModule, datamodule: Any) -> dict[str, float]:
    """The reference values for ``model`` trained on ``datamodule``, named without the prefix (none if unknown)."""
    from amal_lightning.data.digits import MNISTDigits
    from amal_lightning.tme1 import HandGradientRegression
    from amal_lightning.tme2 import AutogradRegression, OptimRegression
    from amal_lightning.tme3 import Autoencoder
    from amal_lightning.tme3.classifier_base import MNISTClassifier

    if isinstance(model, (HandGradientRegression, AutogradRegression, OptimRegression)):
        return regression_references(model, datamodule)
    splits = _splits(datamodule)
    if not all(isinstance(split, MNISTDigits) for split in splits.values()):
        return {}
    held_out = {name: split for name, split in splits.items() if name != "train" and len(split) > 0}
    if isinstance(model, MNISTClassifier):
        return {f"{name}/acc": chance(split.labels) for name, split in held_out.items() if split.labels is not None}
    if isinstance(model, Autoencoder) and len(splits["train"]) > 0:
        latent = model.hparams.latent_dim
        k = latent[-1] if isinstance(latent, list) else latent
        images = {name: split.images for name, split in held_out.items()}
        return {f"{name}/mse": mse for name, mse in pca_mses(splits["train"].images, images, k).items()}
    return {}


class ReferenceValues(L.Callback):
    """Logs, once at step 0 of a fit, the reference values of :mod:`amal_lightning.callbacks.references`.

    Args:
        skip: log nothing: a fit resumed in its own run, whose event files hold them already.
    """

    def __init__(self, skip: bool = False) -> None:
        super().__init__()
        self.skip = skip
        self.logged: dict[str, float] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.skip or not trainer.is_global_zero:
            return
        tensorboard = find_tensorboard(trainer)
        if tensorboard is None or trainer.datamodule is None:
            return
        try:
            values = reference_values(pl_module, trainer.datamodule)
            if values:
                tensorboard.log_metrics({f"{PREFIX}{name}": value for name, value in values.items()}, step=0)
        except Exception as error:  # noqa: BLE001 - a reference is a side output: never a failed run
            rank_zero_warn(f"Reference values not logged: {type(error).__name__}: {error}")
            return
        self.logged = {f"{PREFIX}{name}": value for name, value in values.items()}
