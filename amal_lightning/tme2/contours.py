"""The picture every optimization course draws: the loss's contours and the paths descent takes through them.

The housing loss is a quadratic (:mod:`amal_lightning.tme2.theory`), so in the plane through the
optimum w* spanned by two eigenvectors v₁, v₂ of its Hessian it is exactly
L(w* + a·v₁ + b·v₂) = L* + ½(λ₁a² + λ₂b²): ellipses whose axes' ratio is √(λ₁/λ₂). The paths are
the iterates of full-batch descent computed in float64 (not a fit's run: the same recursion, every
step), projected on that plane: descent at its fastest step ε* on the raw features and on the
standardized ones, and heavy-ball momentum at Polyak's settings on the standardized ones. Each panel
is the plane of its own features' Hessian's two leading eigenvectors (the directions the step size
must respect: 2/λ_max), and says how many steps its paths take and where they end.

``python -m amal_lightning.tme2.contours docs/figures/tme2_contours.png`` draws it for the bundled
housing data's default split.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from amal_lightning.png import write_png
from amal_lightning.tme2.theory import Tensor, design, fastest_step, heavy_ball, hessian, least_squares

STEPS = 60  # the steps each path takes: enough for momentum to settle, and for plain descent to show its zig-zag


def descent_path(x: Tensor, y: Tensor, step: float, momentum: float = 0.0, steps: int = STEPS) -> Tensor:
    """The iterates w₀ … w_steps (weights then intercept) of full-batch descent from zero, with heavy-ball
    ``momentum`` β: w ← w − ε∇L + β(w − w_prev), as torch.optim.SGD steps with momentum (dampening 0)."""
    rows, target = design(x), y.double().flatten()
    w = previous = torch.zeros(rows.shape[1], dtype=torch.float64)
    path = [w]
    for _ in range(steps):
        gradient = 2 / len(rows) * rows.T @ (rows @ w - target)
        w, previous = w - step * gradient + momentum * (w - previous), w
        path.append(w)
    return torch.stack(path)


def plane(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(w*, the two leading eigenvalues of the Hessian, their eigenvectors as two columns)."""
    eigenvalues, vectors = torch.linalg.eigh(hessian(x))
    return least_squares(x, y), eigenvalues[-2:].flip(0), vectors[:, -2:].flip(1)


def draw_panel(axes: Axes, x: Tensor, y: Tensor, paths: dict[str, Tensor], title: str) -> None:
    """The contours of L − L* in the leading plane of ``x``'s Hessian and each path projected on it."""
    optimum, eigenvalues, vectors = plane(x, y)
    projected = {name: ((path - optimum) @ vectors).numpy() for name, path in paths.items()}
    reach = max(np.abs(points).max() for points in projected.values()) * 1.1
    grid = np.linspace(-reach, reach, 201)
    a, b = np.meshgrid(grid, grid)
    gap = 0.5 * (eigenvalues[0].item() * a**2 + eigenvalues[1].item() * b**2)
    levels = np.geomspace(max(gap.max() * 1e-4, 1e-12), gap.max(), 12)
    axes.contour(a, b, gap, levels=levels, colors="0.6", linewidths=0.7)
    for index, (name, points) in enumerate(projected.items()):
        axes.plot(points[:, 0], points[:, 1], marker=".", markersize=3, linewidth=1.0, color=f"C{index}", label=name)
    axes.plot([0], [0], marker="*", markersize=10, color="black", linestyle="", label="w*, least squares")
    axes.set_xlabel(f"along v₁ (λ₁ = {eigenvalues[0].item():.4g})")
    axes.set_ylabel(f"along v₂ (λ₂ = {eigenvalues[1].item():.4g})")
    axes.set_aspect("equal", adjustable="datalim")  # the ellipses' true shape: their axes' ratio is √(λ₁/λ₂)
    axes.set_title(title, fontsize="medium")
    axes.legend(fontsize="x-small", loc="best")


def contour_figure(raw: tuple[Tensor, Tensor], standardized: tuple[Tensor, Tensor], steps: int = STEPS) -> Figure:
    """Two panels: descent at ε* on the raw features; at ε* and with heavy-ball momentum on the standardized."""
    figure = Figure(figsize=(11.0, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    raw_step = fastest_step(raw[0]).fastest
    draw_panel(left, *raw, {f"descent, ε* = {raw_step:.3g}": descent_path(*raw, raw_step, steps=steps)}, "raw features")
    plain, ball = fastest_step(standardized[0]), heavy_ball(standardized[0])
    paths = {
        f"descent, ε* = {plain.fastest:.3g} (rate {plain.fastest_rate:.3f})": descent_path(
            *standardized, plain.fastest, steps=steps
        ),
        f"heavy ball, ε {ball.step:.3g}, β* {ball.momentum:.3f} (rate {ball.rate:.3f})": descent_path(
            *standardized, ball.step, ball.momentum, steps
        ),
    }
    draw_panel(right, *standardized, paths, "standardized features")
    figure.suptitle(
        f"Housing loss contours (L − L*) in the plane of the Hessian's two leading eigenvectors, {steps} steps"
    )
    return figure


def main(path: Path) -> None:
    """Draws the figure for the bundled housing data's default split into ``path``."""
    from amal_lightning.data import HousingDataModule

    splits = []
    for standardize in (False, True):
        data = HousingDataModule(standardize=standardize)
        data.setup("fit")
        splits.append(tuple(tensor.double() for tensor in data.train_set.tensors))
    write_png(contour_figure(*splits), path, dpi=150)
    print(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", type=Path, nargs="?", default=Path("tme2_contours.png"), help="the PNG to write")
    main(parser.parse_args().path)
