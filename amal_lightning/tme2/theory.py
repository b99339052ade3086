"""What theory predicts for gradient descent on the housing regression, from the training rows alone.

The linear model's loss is a quadratic: with X̃ the q training rows and a column of ones (the
intercept), L(w) = ‖X̃w − y‖²/q has the Hessian H = (2/q)·X̃ᵀX̃ = Σᵢ λᵢ vᵢvᵢᵀ and its minimum L* at
the least-squares solution w*. Everything below follows from H, the residuals at w* and the step ε
(all in float64, on the CPU):

- **full-batch descent** w ← w − ε∇L moves each eigen-direction by (1 − ελᵢ) per step, so
  L(t) − L* = ½ Σᵢ λᵢ aᵢ² (1 − ελᵢ)^{2t} with w₀ − w* = Σᵢ aᵢvᵢ (:func:`predicted_gap`): exact,
  not a bound. It converges iff ε < 2/λ_max; the fixed step with the fastest worst-case rate is
  ε* = 2/(λ_min + λ_max), rate (κ − 1)/(κ + 1) per step in distance (:func:`fastest_step`);
- **heavy-ball momentum** w ← w − ε∇L + β(w − w_prev) (torch.optim.SGD's momentum, dampening 0) is a
  linear recursion on (w, w_prev) too: at ε = 4/(√λ_max + √λ_min)² and β* = ((√κ − 1)/(√κ + 1))² every
  direction contracts at (√κ − 1)/(√κ + 1) per step, the square root of κ in place of κ (:func:`heavy_ball`);
- **mini-batch and stochastic descent** (batches of B rows drawn without replacement) replace H by
  a random H_B, so the error e = w − w* follows e ← A e with A = I − ε·H_B (plus noise). Its second
  moment E[e eᵀ] evolves by the linear map E[A ⊗ A], and the iteration is mean-square stable iff that
  map's spectral radius is below 1 (:func:`mean_square_radius`, :func:`mean_square_limit`). An
  unbiased gradient says nothing about this: the criterion is about the second moment. A typical
  run follows the top Lyapunov exponent E[log‖Ae‖/‖e‖] instead (:func:`lyapunov_exponent`), which
  turns positive at a larger step: between the two, runs neither settle nor all diverge;
- **the noise floor of a constant step**: at w* the per-row gradients gᵢ = 2x̃ᵢrᵢ have covariance
  Σ₁ = (1/q)·Σᵢ gᵢgᵢᵀ, and a batch of B drawn without replacement Σ_B = Σ₁/B·(q − B)/(q − 1). The
  stationary covariance P of w solves P = A P Aᵀ + ε²Σ_B with A = I − εH, and the expected excess
  loss is ½·tr(HP) (:func:`noise_floor`), about (ε/4)·tr(Σ_B) for a small ε. A decaying step removes it.

Derivations: Polyak (1987), *Introduction to Optimization*, ch. 1 and 4; the mean-square criterion
for a random linear iteration is that of e.g. Bach and Moulines (2011) for least squares.
"""

from dataclasses import dataclass

import torch

from amal_lightning.data.references import design

Tensor = torch.Tensor


def hessian(x: Tensor) -> Tensor:
    """H = (2/q)·X̃ᵀX̃, the Hessian of the mean squared error over the q rows ``x``."""
    rows = design(x)
    return 2 / len(rows) * rows.T @ rows


@dataclass(frozen=True)
class Steps:
    """The step sizes that full-batch descent's theory names, and its rates."""

    limit: float  # 2/λ_max: converges below it, diverges above it
    fastest: float  # ε* = 2/(λ_min + λ_max)
    fastest_rate: float  # (κ − 1)/(κ + 1): the distance to w* shrinks by this per step at ε*
    condition_number: float  # κ = λ_max/λ_min


def fastest_step(x: Tensor) -> Steps:
    """The limit 2/λ_max, the fastest fixed step ε* and its rate, for full-batch descent on ``x``'s rows."""
    eigenvalues = torch.linalg.eigvalsh(hessian(x))
    low, high = eigenvalues[0].item(), eigenvalues[-1].item()
    kappa = high / low
    return Steps(2 / high, 2 / (low + high), (kappa - 1) / (kappa + 1), kappa)


@dataclass(frozen=True)
class HeavyBall:
    """Heavy-ball momentum's optimal settings for full-batch descent, and its rate."""

    step: float  # ε = 4/(√λ_max + √λ_min)²
    momentum: float  # β* = ((√κ − 1)/(√κ + 1))²
    rate: float  # (√κ − 1)/(√κ + 1): the distance to w* shrinks by about this per step


def heavy_ball(x: Tensor) -> HeavyBall:
    """Polyak's optimal step and momentum for the quadratic of ``x``'s rows, and the rate they give."""
    eigenvalues = torch.linalg.eigvalsh(hessian(x))
    low, high = eigenvalues[0].item() ** 0.5, eigenvalues[-1].item() ** 0.5
    rate = (high - low) / (high + low)
    return HeavyBall(4 / (high + low) ** 2, rate**2, rate)


def measured_rate(gaps: list[float], first: int, last: int) -> float:
    """The rate per step in distance that a gap curve L(t) − L* shows between steps ``first`` and ``last``:
    the gap is quadratic in the distance, so (gap_last/gap_first)^(1/(2·(last − first)))."""
    return (gaps[last] / gaps[first]) ** (1 / (2 * (last - first)))


def least_squares(x: Tensor, y: Tensor) -> Tensor:
    """w* (weights, then the intercept) minimizing ‖X̃w − y‖²; minimal norm if X̃ is rank-deficient."""
    return torch.linalg.lstsq(design(x), y.double().reshape(len(y), 1), driver="gelsd").solution.flatten()


def predicted_gap(x: Tensor, y: Tensor, w0: Tensor, step: float, steps: int) -> Tensor:
    """L(t) − L* for t = 0 … ``steps`` of full-batch descent from ``w0`` (weights then intercept) at ``step``."""
    eigenvalues, vectors = torch.linalg.eigh(hessian(x))
    a = vectors.T @ (w0.double().flatten() - least_squares(x, y))
    t = torch.arange(steps + 1, dtype=torch.float64).unsqueeze(1)
    return (0.5 * eigenvalues * a**2 * (1 - step * eigenvalues) ** (2 * t)).sum(1)


def _moments(x: Tensor, batch: int) -> tuple[Tensor, Tensor]:
    """E[H_B] and E[H_B ⊗ H_B] for batches of ``batch`` of the rows drawn without replacement."""
    rows = design(x)
    q, d = rows.shape
    batch = min(batch, q)
    outer = torch.einsum("ni,nj->nij", rows, rows)  # M_i = x̃ᵢx̃ᵢᵀ
    total = outer.sum(0)
    # Σᵢ Mᵢ ⊗ Mᵢ, as a (d², d²) matrix acting on vec(e eᵀ)
    own = torch.einsum("nij,nkl->ikjl", outer, outer).reshape(d * d, d * d)
    both = torch.kron(total, total)
    p_one = batch / q
    p_two = batch * (batch - 1) / (q * (q - 1)) if q > 1 else 0.0
    mean = 2 / batch * p_one * total
    second = (2 / batch) ** 2 * (p_one * own + p_two * (both - own))
    return mean, second


def mean_square_radius(x: Tensor, step: float, batch: int) -> float:
    """The spectral radius of E[A ⊗ A], A = I − ε·H_B: below 1, descent with batches of ``batch`` rows is
    mean-square stable at ``step``; above, the error's second moment grows."""
    mean, second = _moments(x, batch)
    d = mean.shape[0]
    identity = torch.eye(d, dtype=torch.float64)
    operator = torch.kron(identity, identity) - step * (torch.kron(mean, identity) + torch.kron(identity, mean))
    operator = operator + step**2 * second
    # A is symmetric, so A ⊗ A and its mean are: their eigenvalues are real
    return torch.linalg.eigvalsh(operator).abs().max().item()


def mean_square_limit(x: Tensor, batch: int, tolerance: float = 1e-4) -> float:
    """The largest step at which descent with batches of ``batch`` rows is mean-square stable (bisection)."""
    low, high = 0.0, fastest_step(x).limit * 1.01  # no batch is stable beyond the full batch's limit
    while high - low > tolerance * high:
        middle = (low + high) / 2
        low, high = (middle, high) if mean_square_radius(x, middle, batch) < 1 else (low, middle)
    return low


def lyapunov_exponent(x: Tensor, step: float, batch: int, steps: int = 3000, trials: int = 20, seed: int = 0) -> float:
    """The mean growth per step of log‖e‖ under e ← (I − ε·H_B)e, batches drawn at random (seeded Monte Carlo).

    What a typical run does, where :func:`mean_square_radius` says what the mean of ‖e‖² does: the
    second moment can grow (a few unlucky runs dominate it) while almost every run still contracts.
    Below 0, a typical run's error shrinks; above, it grows geometrically: a diverging run.
    """
    rows = design(x)
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(trials):
        error = torch.randn(rows.shape[1], dtype=torch.float64, generator=generator)
        error /= error.norm()
        for _ in range(steps):
            chosen = rows[torch.randperm(len(rows), generator=generator)[:batch]]
            error = error - step * 2 / len(chosen) * chosen.T @ (chosen @ error)
            norm = error.norm()
            total += norm.log().item()
            error /= norm
    return total / (steps * trials)


def noise_floor(x: Tensor, y: Tensor, step: float, batch: int) -> float:
    """½·tr(HP), P solving P = A P Aᵀ + ε²Σ_B: the excess loss where constant-step descent settles on average."""
    rows = design(x)
    q = len(rows)
    batch = min(batch, q)
    residuals = rows @ least_squares(x, y) - y.double().flatten()
    gradients = 2 * rows * residuals.unsqueeze(1)  # per row, at w*
    covariance = gradients.T @ gradients / q / batch * ((q - batch) / (q - 1) if q > 1 else 0.0)
    eigenvalues, vectors = torch.linalg.eigh(hessian(x))
    rotated = vectors.T @ covariance @ vectors
    factors = 1 - step * eigenvalues
    stationary = step**2 * rotated / (1 - torch.outer(factors, factors))
    return 0.5 * (eigenvalues * stationary.diagonal()).sum().item()
