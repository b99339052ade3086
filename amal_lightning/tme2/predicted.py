"""What a housing fit logs of theory (:mod:`amal_lightning.tme2.theory`): reference values at step 0,
and ``train/predicted_loss`` beside ``train/loss`` at every epoch; and ``train/full_loss``, one
definition of an epoch's training loss for every batch size.

``train/loss`` at epoch t is the mean of the epoch's batch losses, each taken before its own step: for
the full batch, the loss after t epochs (epoch 0: before the first step); for batches of one row, the
mean over 304 points of a moving descent. ``train/full_loss`` at epoch t is the loss on the whole
training split at the epoch's start, after t epochs of any batch size (epoch 0: before the first step),
measured by one more forward pass over the split: the curves of different batch sizes then compare
like with like, and the running mean of the steps stays beside it as ``train/loss``.

The expected loss of descent with batches of B rows follows from two exact recursions (independent
batches, rows drawn without replacement within a batch; the loader draws an epoch's batches from
one permutation, so successive batches are not quite independent). With e = w − w*, a step is
e ← A e − ε ξ, A = I − ε·H_B, ξ = ∇L_B(w*) (zero on average), so the mean m = E[e] and the second
moment P = E[e eᵀ] evolve by

    m ← (I − εH) m,
    P ← E[A P A] + ε²·(E[H_B m ξᵀ] + E[ξ mᵀ H_B]) + ε²·E[ξ ξᵀ],

and E[L(w)] − L* = ½·tr(HP). The batch moments are sums over the rows weighted by the chance that one
row (B/q) or two rows (B(B − 1)/(q(q − 1))) are in a batch. For the full batch P stays m mᵀ and the
curve is :func:`~amal_lightning.tme2.theory.predicted_gap`'s. An epoch's measured loss is the mean of
its batches' losses, each before its step, weighted by their sizes: so is the predicted one.
"""

from typing import Any, Optional

import torch
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from amal_lightning.base_module import EpochMetricsModule, log_epoch_points
from amal_lightning.tme2.theory import (
    Tensor,
    design,
    fastest_step,
    heavy_ball,
    least_squares,
    mean_square_limit,
    noise_floor,
    predicted_gap,
)

MAX_STEPS = 20_000  # a longer prediction costs more than a second at a fit's start; its curve stops there


def epoch_batches(rows: int, batch: Any) -> list[int]:
    """The sizes of an epoch's batches as the loaders cut them: full ones, then what is left."""
    size = rows if batch == "full" or not isinstance(batch, int) else min(batch, rows)
    full, rest = divmod(rows, size)
    return [size] * full + ([rest] if rest else [])


def expected_losses(x: Tensor, y: Tensor, w0: Tensor, step: float, batch: Any, epochs: int) -> list[float]:
    """E[train/loss] at each of ``epochs`` epochs of descent at ``step`` with batches of ``batch`` rows
    (``full`` or a number) from ``w0`` (weights then intercept), at most :data:`MAX_STEPS` steps in all."""
    rows = design(x)
    q = len(rows)
    solution = least_squares(x, y)
    residuals = rows @ solution - y.double().flatten()
    gradients = 2 * rows * residuals.unsqueeze(1)  # g_i, the rows' gradients at w*: they sum to 0
    total = rows.T @ rows
    hessian = 2 / q * total
    optimum = residuals.pow(2).mean().item()
    mean = w0.detach().cpu().double().flatten() - solution
    second = torch.outer(mean, mean)
    sizes = epoch_batches(q, batch)
    losses: list[float] = []
    for _ in range(min(epochs, MAX_STEPS // len(sizes))):
        epoch = 0.0
        for size in sizes:
            epoch += size * (optimum + 0.5 * torch.trace(hessian @ second).item())
            one = size / q
            two = size * (size - 1) / (q * (q - 1)) if q > 1 else 0.0
            spread = one - two  # 0 for the full batch: no noise
            own = rows.T @ ((rows @ second * rows).sum(1, keepdim=True) * rows)  # Σ M_i P M_i
            curvature = 4 / size**2 * (spread * own + two * total @ second @ total)  # E[H_B P H_B]
            cross = 2 / size**2 * spread * rows.T @ ((rows @ mean).unsqueeze(1) * gradients)  # E[H_B m ξᵀ]
            noise = spread / size**2 * gradients.T @ gradients  # E[ξ ξᵀ]
            second = (
                second - step * (hessian @ second + second @ hessian) + step**2 * (curvature + cross + cross.T + noise)
            )
            mean = mean - step * hessian @ mean
        losses.append(epoch / q)
    return losses


def descent_references(datamodule: Any, step: Optional[float]) -> dict[str, float]:
    """What theory says of descent on ``datamodule``'s training split with its batch size at ``step``:

    - ``step_fastest``: ε* = 2/(λ_min + λ_max), the fastest fixed step of full-batch descent, and ``rate_fastest``
      its rate per step, (κ − 1)/(κ + 1);
    - ``step_heavy_ball``, ``momentum_heavy_ball`` and ``rate_heavy_ball``: heavy-ball momentum's optimal step
      and β*, and its rate (√κ − 1)/(√κ + 1);
    - for a batch smaller than the split, ``step_limit_batch``, the mean-square stability limit of that
      batch size, and at ``step`` (when the model takes plain steps of a known size) ``train/noise_floor``,
      the excess training loss where constant-step descent settles on average.

    Empty unless the training split is a TensorDataset of features and one target per row.
    """
    train = getattr(datamodule, "train_set", None)
    if not isinstance(train, TensorDataset) or len(train.tensors) != 2 or len(train) < 2:
        return {}
    x, y = train.tensors
    if y.reshape(len(y), -1).shape[1] != 1:
        return {}
    steps, momentum = fastest_step(x), heavy_ball(x)
    values = {"step_fastest": steps.fastest, "rate_fastest": steps.fastest_rate}
    values.update(step_heavy_ball=momentum.step, momentum_heavy_ball=momentum.momentum, rate_heavy_ball=momentum.rate)
    batch = datamodule.hparams.get("batch_size") if hasattr(datamodule, "hparams") else None
    if isinstance(batch, int) and batch < len(x):
        values["step_limit_batch"] = mean_square_limit(x, batch)
        if step is not None:
            values["train/noise_floor"] = noise_floor(x, y, step, batch)
    return values


def predicted_losses(datamodule: Any, w0: Tensor, step: Optional[float], epochs: int) -> Optional[list[float]]:
    """The ``train/loss`` of full-batch descent at ``step`` from ``w0`` (weights then intercept) at each
    of the next ``epochs`` epochs: exact. None for mini-batches, whose loaders reshuffle the rows each
    epoch where :func:`expected_losses` assumes independent batches (:func:`simulate_epochs` measures
    the difference), an unknown step, several targets, no epoch bound, data other than a TensorDataset
    of features and targets.
    """
    train = getattr(datamodule, "train_set", None)
    if step is None or epochs <= 0 or not isinstance(train, TensorDataset) or len(train.tensors) != 2:
        return None
    x, y = train.tensors
    batch = datamodule.hparams.get("batch_size") if hasattr(datamodule, "hparams") else None
    if len(x) < 2 or y.reshape(len(y), -1).shape[1] != 1 or epoch_batches(len(x), batch) != [len(x)]:
        return None
    optimum = (design(x) @ least_squares(x, y) - y.double().flatten()).pow(2).mean().item()
    return (optimum + predicted_gap(x, y, w0.detach().cpu(), step, epochs - 1)).tolist()


class PredictsItsDescent(EpochMetricsModule):
    """A linear regression that logs ``train/predicted_loss`` beside ``train/loss`` each epoch of full-batch
    descent: what theory says the measured loss is (:func:`predicted_losses`). A subclass says where its
    descent starts and its step (:meth:`descent_start`).

    Computed once when a fit starts, from the weights it starts with: a resumed fit starts the curve
    again from its checkpoint's weights, which is exact too. Nothing is logged where theory says nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.predicted_curve: Optional[list[float]] = None
        self.predicted_from = 0  # the epoch the curve starts at
        self.full_loss: Optional[float] = None  # the loss on the whole training split at this epoch's start

    def descent_start(self) -> tuple[Tensor, Optional[float]]:
        """The weights then the intercept, flat, and the step size of plain descent (None if not plain)."""
        raise NotImplementedError

    def on_train_start(self) -> None:
        weights, step = self.descent_start()
        epochs = (self.trainer.max_epochs or 0) - self.current_epoch
        self.predicted_curve = predicted_losses(self.trainer.datamodule, weights, step, epochs)
        self.predicted_from = self.current_epoch

    def on_train_epoch_start(self) -> None:
        """The loss on the whole training split before this epoch's first step (``train/full_loss``)."""
        train = getattr(self.trainer.datamodule, "train_set", None)
        self.full_loss = None
        if isinstance(train, TensorDataset) and len(train.tensors) == 2 and len(train):
            features, targets = (tensor.to(self.device) for tensor in train.tensors)
            with torch.no_grad():
                self.full_loss = self.loss_of(self(features), targets).item()

    def loss_of(self, prediction: Tensor, target: Tensor) -> Tensor:
        """The loss the model descends, as its steps compute it: the mean squared error (TME2)."""
        return F.mse_loss(prediction, target)

    def _log_epoch(self, stage: str) -> None:
        super()._log_epoch(stage)
        if stage != "train":
            return
        points = {} if self.full_loss is None else {"train/full_loss": self.full_loss}
        index = self.current_epoch - self.predicted_from
        if self.predicted_curve is not None and 0 <= index < len(self.predicted_curve):
            points["train/predicted_loss"] = self.predicted_curve[index]
        if points:  # no callback watches them: straight to the loggers, in one call (one row of a CSV)
            log_epoch_points(self.trainer, points)


def simulate_epochs(
    x: Tensor, y: Tensor, w0: Tensor, step: float, batch: Any, epochs: int, runs: int = 20, reshuffle: bool = True
) -> tuple[Tensor, Tensor]:
    """``runs`` seeded runs of descent at once: per run, the last epoch's ``train/loss`` as a fit logs it
    (the size-weighted mean of its batches' losses, each before its step) and L(w) − L* after that epoch.

    ``reshuffle``: the batches of an epoch cut one permutation of the rows, as the loaders do (each row
    once an epoch); otherwise each batch is drawn on its own, as :func:`expected_losses` assumes. Both
    returned values are gaps above L*. What tells a noise floor from the way an epoch's loss is measured.
    """
    rows, target = design(x), y.double().flatten()
    solution = least_squares(x, y)
    optimum = (rows @ solution - target).pow(2).mean()
    generator = torch.Generator().manual_seed(0)
    weights = w0.detach().cpu().double().flatten().repeat(runs, 1)
    sizes = epoch_batches(len(rows), batch)
    logged = torch.zeros(runs, dtype=torch.float64)
    for _ in range(epochs):
        logged.zero_()
        order = torch.stack([torch.randperm(len(rows), generator=generator) for _ in range(runs)])
        start = 0
        for size in sizes:
            if reshuffle:
                chosen = order[:, start : start + size]
            else:
                chosen = torch.stack([torch.randperm(len(rows), generator=generator)[:size] for _ in range(runs)])
            start += size
            features, values = rows[chosen], target[chosen]
            residual = (features @ weights.unsqueeze(2)).squeeze(2) - values
            logged += size * residual.pow(2).mean(1)
            weights = weights - step * 2 / size * (features.transpose(1, 2) @ residual.unsqueeze(2)).squeeze(2)
    final = (weights @ rows.T - target).pow(2).mean(1)
    return logged / len(rows) - optimum, final - optimum
