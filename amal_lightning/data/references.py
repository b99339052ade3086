"""What the data itself allows, computed from the data a run trains on (on the CPU, in float64).

The labs' models say which of these values apply to them (their ``reference_values``, which
:class:`~amal_lightning.callbacks.references.ReferenceValues` logs at step 0 of a fit):

- :func:`least_squares_references`: the MSE on each split of the least-squares solution w* (with an
  intercept) fitted on the training split. On the training split it is the floor of a linear model's
  training loss; on the held-out splits it is where the linear optimum lands, not a floor;
- :func:`step_size_limit`: 2/λ_max(H), H the Hessian of that loss, (2/q)·X̃ᵀX̃ on the q training
  rows, X̃ with a column of ones for the intercept. Full-batch gradient descent converges for every
  step size below it and diverges above it; mini-batch descent has no such sharp limit;
- :func:`chance`: the frequency of the split's most common label, what always answering it scores;
- :func:`pca_mses`: the reconstruction MSE per pixel of PCA with k components, the best any LINEAR
  code of that size can do (Baldi and Hornik, 1989).

Cheap: a housing fit pays for a 14×14 solve (a few milliseconds); PCA for one 784×784 Gram matrix
of the training images and its eigendecomposition (under a second on the bundled sample, 3 to 4.5 s
on MNIST's 55,000 training images on two busy cores).
"""

from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch.utils.data import TensorDataset

from amal_lightning.data.digits import MNISTDigits

SPLITS = ("train", "val", "test")
CHUNK = 8192  # rows converted to float64 at a time: 50 MB of MNIST images


def design(x: torch.Tensor) -> torch.Tensor:
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
    solution = torch.linalg.lstsq(design(x), targets, driver="gelsd").solution  # minimal norm if rank-deficient
    results = {}
    for name, split in zip(SPLITS, (train, val, test), strict=True):
        if split is None or len(split[0]) == 0:
            continue
        features, values = split
        residual = design(features) @ solution - values.double().reshape(len(values), -1)
        divisor = len(residual) * (1 if sum_outputs else residual.shape[1])
        results[name] = residual.pow(2).sum().item() / divisor
    return results


def step_size_limit(x: torch.Tensor, num_outputs_averaged: int = 1) -> float:
    """2/λ_max(H) for full-batch gradient descent on ``‖X̃w − y‖²/(q·m)``, H = (2/(q·m))·X̃ᵀX̃.

    ``x`` holds the q training rows; X̃ adds a column of ones for the intercept; m is the number of
    outputs the loss averages over (1 where it sums over them). Descent with a step ε converges
    if and only if ε is below this limit.
    """
    rows = design(x)
    hessian = 2 / (len(rows) * num_outputs_averaged) * (rows.T @ rows)
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


def _splits(datamodule: Any) -> dict[str, Any]:
    return {name: getattr(datamodule, f"{name}_set", None) for name in SPLITS}


def regression_references(datamodule: Any, *, sum_outputs: bool = False, linear: bool = True) -> dict[str, float]:
    """``{split}/loss`` of the least-squares fit and, for a ``linear`` model, ``step_limit``.

    Empty unless every split of ``datamodule`` is a TensorDataset of features and targets (the housing
    table, the random regression). ``sum_outputs``: the model's MSE sums over the outputs (TME1's).
    """
    splits = _splits(datamodule)
    if not all(isinstance(split, TensorDataset) and len(split.tensors) == 2 for split in splits.values()):
        return {}
    if len(splits["train"]) == 0:
        return {}
    tensors = [split.tensors for split in splits.values()]
    losses = least_squares_references(*tensors, sum_outputs=sum_outputs)
    values = {f"{name}/loss": loss for name, loss in losses.items()}
    if linear:
        x, y = tensors[0]
        outputs = 1 if sum_outputs else y.reshape(len(y), -1).shape[1]
        values["step_limit"] = step_size_limit(x, outputs)
    return values


def _digit_splits(datamodule: Any) -> Optional[dict[str, MNISTDigits]]:
    splits = _splits(datamodule)
    return splits if all(isinstance(split, MNISTDigits) for split in splits.values()) else None


def chance_references(datamodule: Any) -> dict[str, float]:
    """``{split}/acc`` of chance on the held-out digit splits (empty for other data)."""
    splits = _digit_splits(datamodule)
    if splits is None:
        return {}
    return {
        f"{name}/acc": chance(split.labels)
        for name, split in splits.items()
        if name != "train" and len(split) > 0 and split.labels is not None
    }


def pca_references(datamodule: Any, k: int) -> dict[str, float]:
    """``{split}/mse`` of PCA with ``k`` components fitted on the training digits (empty for other data)."""
    splits = _digit_splits(datamodule)
    if splits is None or len(splits["train"]) == 0:
        return {}
    images = {name: split.images for name, split in splits.items() if name != "train" and len(split) > 0}
    return {f"{name}/mse": mse for name, mse in pca_mses(splits["train"].images, images, k).items()}
