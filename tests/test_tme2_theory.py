"""TME2's theory of gradient descent on a quadratic, checked against brute force and the housing split."""

import itertools

import pytest
import torch

from amal_lightning.data import HousingDataModule
from amal_lightning.tme2 import theory


def small_problem(rows: int = 6, features: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, features, generator=generator, dtype=torch.float64)
    y = x @ torch.randn(features, 1, generator=generator, dtype=torch.float64) + 0.3 * torch.randn(
        rows, 1, generator=generator, dtype=torch.float64
    )
    return x, y


def loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> float:
    return (theory.design(x) @ w - y.flatten()).pow(2).mean().item()


def test_the_predicted_gap_is_what_full_batch_descent_does_step_by_step():
    x, y = small_problem()
    w0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    step, steps = 0.3, 25
    optimum = loss(x, y, theory.least_squares(x, y))
    w, gaps = w0.clone(), []
    for _ in range(steps + 1):
        gaps.append(loss(x, y, w) - optimum)
        gradient = 2 / len(x) * theory.design(x).T @ (theory.design(x) @ w - y.flatten())
        w = w - step * gradient
    assert theory.predicted_gap(x, y, w0, step, steps).tolist() == pytest.approx(gaps, rel=1e-9, abs=1e-12)


def test_the_fastest_step_of_an_orthogonal_design():
    # Centred, orthogonal columns: H = diag(9, 1, 2) (see test_references), λ_min 1, λ_max 9.
    x = torch.tensor([[3.0, 0.0], [-3.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    steps = theory.fastest_step(x)
    assert steps.limit == pytest.approx(2 / 9) and steps.fastest == pytest.approx(2 / 10)
    assert steps.condition_number == pytest.approx(9) and steps.fastest_rate == pytest.approx(8 / 10)


def brute_force_radius(x: torch.Tensor, step: float, batch: int) -> float:
    """E[A ⊗ A] averaged over every batch of ``batch`` distinct rows."""
    rows = theory.design(x)
    d = rows.shape[1]
    subsets = list(itertools.combinations(range(len(rows)), batch))
    mean = torch.zeros(d * d, d * d, dtype=torch.float64)
    for subset in subsets:
        chosen = rows[list(subset)]
        a = torch.eye(d, dtype=torch.float64) - step * 2 / batch * chosen.T @ chosen
        mean += torch.kron(a, a) / len(subsets)
    return torch.linalg.eigvals(mean).abs().max().item()


@pytest.mark.parametrize(("step", "batch"), [(0.05, 1), (0.4, 1), (0.2, 2), (0.6, 3), (0.3, 6)])
def test_the_mean_square_radius_is_the_average_over_every_batch(step, batch):
    x, _ = small_problem()
    assert theory.mean_square_radius(x, step, batch) == pytest.approx(brute_force_radius(x, step, batch), rel=1e-9)


def test_the_whole_batch_is_deterministic_descent_squared():
    x, _ = small_problem()
    eigenvalues = torch.linalg.eigvalsh(theory.hessian(x))
    step = 0.37
    expected = (1 - step * eigenvalues).abs().max().item() ** 2
    assert theory.mean_square_radius(x, step, len(x)) == pytest.approx(expected, rel=1e-9)


def brute_force_floor(x: torch.Tensor, y: torch.Tensor, step: float, batch: int) -> float:
    """½·tr(HP), P iterated to its fixed point P = A P Aᵀ + ε²Σ_B, Σ_B averaged over every batch."""
    rows = theory.design(x)
    residuals = rows @ theory.least_squares(x, y) - y.flatten()
    subsets = list(itertools.combinations(range(len(rows)), batch))
    noise = torch.zeros(rows.shape[1], rows.shape[1], dtype=torch.float64)
    for subset in subsets:
        gradient = 2 * (rows[list(subset)] * residuals[list(subset)].unsqueeze(1)).mean(0)
        noise += torch.outer(gradient, gradient) / len(subsets)
    h = theory.hessian(x)
    a = torch.eye(len(h), dtype=torch.float64) - step * h
    p = torch.zeros_like(h)
    for _ in range(20_000):
        p = a @ p @ a.T + step**2 * noise
    return 0.5 * torch.trace(h @ p).item()


@pytest.mark.parametrize(("step", "batch"), [(0.05, 1), (0.1, 2), (0.2, 4)])
def test_the_noise_floor_solves_the_stationary_covariance(step, batch):
    x, y = small_problem()
    assert theory.noise_floor(x, y, step, batch) == pytest.approx(brute_force_floor(x, y, step, batch), rel=1e-6)
    assert theory.noise_floor(x, y, step, len(x)) == pytest.approx(0, abs=1e-12)  # the full batch has no noise


def test_the_housing_split_has_the_numbers_the_lab_quotes():
    data = HousingDataModule()
    data.setup("fit")
    x, y = data.train_set.tensors
    steps = theory.fastest_step(x)
    assert steps.limit == pytest.approx(0.16202, abs=1e-5) and steps.fastest == pytest.approx(0.16042, abs=1e-5)
    assert steps.condition_number == pytest.approx(100.05, abs=0.01)
    radius = {(batch, step): theory.mean_square_radius(x, step, batch) for batch, step in [(1, 0.01), (1, 0.02)]}
    assert radius[1, 0.01] < 1 < radius[1, 0.02]
    assert 0.0185 < theory.mean_square_limit(x, 1) < 0.0186  # between 0.015 and 0.02, as the sweep shows
    assert 0.155 < theory.mean_square_limit(x, 32) < steps.limit  # just below the full batch's limit
    assert theory.noise_floor(x, y, 0.01, 32) == pytest.approx(0.107, abs=5e-4)
    assert theory.noise_floor(x, y, 0.003, 1) == pytest.approx(1.121, abs=5e-4)


def test_a_mini_batch_fit_logs_its_batch_limit_and_noise_floor(workdir):
    from amal_lightning.api import fit
    from tests.helpers import CONFIGS, TEST_SETTINGS
    from tests.test_references import scalars

    options = ["--trainer.max_epochs", "2", "--data.batch_size", "32", "--model.optimizer.init_args.lr", "0.01"]
    outcome = fit(str(CONFIGS / "regression_minibatch.yaml"), *options, *(f"{k}={v}" for k, v in TEST_SETTINGS.items()))
    curves = scalars(outcome.log_dir)
    logged = {name: points[0][1] for name, points in curves.items() if name.startswith("reference/")}
    assert logged["reference/step_fastest"] == pytest.approx(0.16042, abs=1e-5)
    assert 0.155 < logged["reference/step_limit_batch"] < logged["reference/step_limit"]
    assert logged["reference/train/noise_floor"] == pytest.approx(0.107, abs=5e-4)
    # epoch t's train/full_loss: the whole split's loss after t epochs; train/loss: the mean over the steps
    whole, running = [value for _, value in curves["train/full_loss"]], [value for _, value in curves["train/loss"]]
    assert len(whole) == len(running) == 2 and whole[1] < running[0] < whole[0]  # the steps descend within epoch 0


def test_the_whole_split_s_loss_at_epoch_0_is_before_the_first_step_and_the_full_batch_s_own(workdir):
    from amal_lightning.api import fit
    from tests.helpers import CONFIGS, TEST_SETTINGS
    from tests.test_references import scalars

    options = ["--trainer.max_epochs", "3", "--data.batch_size", "full", "--model.optimizer.init_args.lr", "0.01"]
    settings = [f"{k}={v}" for k, v in TEST_SETTINGS.items()]
    outcome = fit(
        str(CONFIGS / "regression_minibatch.yaml"), *options, *settings, "--seed_everything=0", "--test=false"
    )
    logged = scalars(outcome.log_dir)
    whole, running = [value for _, value in logged["train/full_loss"]], [value for _, value in logged["train/loss"]]
    assert running == pytest.approx(whole, rel=1e-6) and whole[0] > whole[1] > whole[2]  # one step, after its loss
    data = HousingDataModule()
    data.setup("fit")
    features, targets = data.train_set.tensors
    torch.manual_seed(0)
    start = torch.nn.Linear(13, 1)  # the weights the fit started from (seed_everything 0)
    assert whole[0] == pytest.approx(torch.nn.functional.mse_loss(start(features), targets).item(), rel=1e-5)


@pytest.mark.parametrize("config", ["regression.yaml", "tme1_gradient_descent.yaml"])
def test_a_full_batch_fit_follows_its_predicted_curve_within_one_percent(workdir, config):
    from amal_lightning.api import fit
    from tests.helpers import CONFIGS, TEST_SETTINGS
    from tests.test_references import scalars

    options = ["--trainer.max_epochs", "60", "--model.learning_rate", "0.05", "--data.test_each_epoch", "false"]
    outcome = fit(str(CONFIGS / config), *options, *(f"{k}={v}" for k, v in TEST_SETTINGS.items()))
    logged = scalars(outcome.log_dir)
    measured, predicted = logged["train/loss"], logged["train/predicted_loss"]
    assert len(predicted) == len(measured) == 60 and [s for s, _ in predicted] == [s for s, _ in measured]
    for (_, value), (_, theory_says) in zip(measured, predicted, strict=True):
        assert value == pytest.approx(theory_says, rel=0.01)
    assert measured[-1][1] < 0.2 * measured[0][1]  # it did descend: the agreement is not that of a flat line


def test_only_a_linear_full_batch_fit_logs_a_predicted_curve(workdir):
    from amal_lightning.api import fit
    from tests.helpers import CONFIGS, TEST_SETTINGS
    from tests.test_references import scalars

    settings = [f"{k}={v}" for k, v in TEST_SETTINGS.items()]
    for config in ("regression_minibatch.yaml", "tanh_mlp.yaml"):
        outcome = fit(str(CONFIGS / config), "--trainer.max_epochs", "2", *settings)
        assert "train/predicted_loss" not in scalars(outcome.log_dir), config


def test_a_simulated_full_batch_is_the_predicted_curve_and_reshuffling_differs_from_independent_batches():
    from amal_lightning.tme2.predicted import expected_losses, simulate_epochs

    x, y = small_problem(rows=8)
    w0 = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    logged, final = simulate_epochs(x, y, w0, 0.2, "full", epochs=5, runs=3)
    optimum = expected_losses(x, y, w0, 0.2, "full", 6)
    gap = theory.predicted_gap(x, y, w0, 0.2, 5)
    assert logged.tolist() == pytest.approx([gap[4].item()] * 3) and final.tolist() == pytest.approx(
        [gap[5].item()] * 3
    )
    assert optimum[4] - optimum[5] == pytest.approx(gap[4].item() - gap[5].item())
    reshuffled = simulate_epochs(x, y, w0, 0.1, 1, epochs=30, runs=200)[1].mean().item()
    independent = simulate_epochs(x, y, w0, 0.1, 1, epochs=30, runs=200, reshuffle=False)[1].mean().item()
    assert reshuffled < independent  # each row once an epoch: the rows' gradients at w* cancel over it


@pytest.mark.parametrize(("batch", "step"), [(2, 0.1), (1, 0.05), ("full", 0.2)])
def test_the_expected_epoch_losses_are_the_mean_of_many_random_runs(batch, step):
    from amal_lightning.tme2.predicted import epoch_batches, expected_losses

    x, y = small_problem(rows=7)
    rows, target = theory.design(x), y.flatten()
    w0 = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    epochs, runs = 6, 4000
    generator = torch.Generator().manual_seed(1)
    w = w0.repeat(runs, 1)  # every run at once, each with its own batches
    measured = []
    for _ in range(epochs):
        epoch = torch.zeros(runs, dtype=torch.float64)
        for size in epoch_batches(len(rows), batch):
            chosen = torch.stack([torch.randperm(len(rows), generator=generator)[:size] for _ in range(runs)])
            xb, yb = rows[chosen], target[chosen]  # (runs, size, d), (runs, size)
            residual = (xb @ w.unsqueeze(2)).squeeze(2) - yb
            epoch += size * residual.pow(2).mean(1)
            w = w - step * 2 / size * (xb.transpose(1, 2) @ residual.unsqueeze(2)).squeeze(2)
        measured.append((epoch / len(rows)).mean().item())
    expected = expected_losses(x, y, w0, step, batch, epochs)
    assert expected == pytest.approx(measured, rel=0.03)


def test_an_epoch_is_cut_into_full_batches_and_the_rest():
    from amal_lightning.tme2.predicted import epoch_batches

    assert epoch_batches(304, 32) == [32] * 9 + [16] and epoch_batches(304, "full") == [304]
    assert epoch_batches(5, 8) == [5]


def test_the_predicted_curve_is_drawn_dash_dot_and_as_a_gap_above_the_optimum(workdir):
    from amal_lightning.api import fit
    from amal_lightning.command_line.main import main
    from amal_lightning.studies.figures.plotted import line_style, measured
    from tests.helpers import CONFIGS, TEST_SETTINGS

    assert line_style("train/predicted_loss") == "-." and line_style("train/loss") == "-"
    assert measured("train/predicted_loss") == "train/loss" and measured("val/loss") == "val/loss"
    outcome = fit(
        str(CONFIGS / "regression.yaml"), {"trainer.max_epochs": 30}, *(f"{k}={v}" for k, v in TEST_SETTINGS.items())
    )
    words = [str(outcome.log_dir), "--metric", "train/loss", "--metric", "train/predicted_loss", "--y", "gap"]
    try:
        main(["plot", *words, "-o", "gap.png"])
    except SystemExit as ended:
        assert ended.code in (0, None)
    from PIL import Image

    assert Image.open("gap.png").size[0] > 300


def test_heavy_ball_at_its_optimal_settings_contracts_at_the_square_root_rate():
    x, y = small_problem(rows=40, features=3, seed=1)
    x[:, 0] *= 10  # κ in the hundreds, as on the housing data: a rate near 0.8, far from float64's floor in 60 steps
    settings, plain = theory.heavy_ball(x), theory.fastest_step(x)
    kappa = plain.condition_number
    assert settings.rate == pytest.approx((kappa**0.5 - 1) / (kappa**0.5 + 1)) and settings.rate < plain.fastest_rate
    assert settings.momentum == pytest.approx(settings.rate**2)
    optimum = theory.least_squares(x, y)
    rows, target = theory.design(x), y.flatten()
    w = previous = torch.zeros(4, dtype=torch.float64)
    distances = []
    for _ in range(60):  # w ← w − ε∇L + β(w − w_prev), as torch.optim.SGD's momentum steps
        gradient = 2 / len(rows) * rows.T @ (rows @ w - target)
        w, previous = w - settings.step * gradient + settings.momentum * (w - previous), w
        distances.append((w - optimum).norm().item())
    # at β* the extreme directions' roots are double: a factor t beside the rate (3 % over these 40 steps)
    assert (distances[-1] / distances[19]) ** (1 / 40) == pytest.approx(settings.rate, rel=0.05)
    gaps = [d**2 for d in distances]
    assert theory.measured_rate(gaps, 19, 59) == pytest.approx(settings.rate, rel=0.05)


def test_a_decaying_step_is_eps_over_one_plus_t_over_tau_and_theory_s_constant_step_is_not_claimed():
    from amal_lightning.tme2 import OptimRegression

    model = OptimRegression(optimizer=lambda parameters: torch.optim.SGD(parameters, lr=0.1), step_decay_epochs=2)
    configured = model.configure_optimizers()
    decay = configured["lr_scheduler"]["scheduler"]
    steps = []
    for _ in range(3):
        steps.append(configured["optimizer"].param_groups[0]["lr"])
        decay.step()
    assert steps == pytest.approx([0.1, 0.1 / 1.5, 0.1 / 2])
    assert model.plain_step() is None
    constant = OptimRegression(optimizer=lambda parameters: torch.optim.SGD(parameters, lr=0.1))
    assert constant.plain_step() == 0.1 and isinstance(constant.configure_optimizers(), torch.optim.SGD)
