"""The contour figure of the housing loss: its paths are descent's iterates, drawn in its Hessian's leading plane."""

import pytest
import torch

from amal_lightning.tme2 import contours, theory
from tests.test_tme2_theory import small_problem


def test_a_descent_path_is_the_iteration_theory_predicts():
    x, y = small_problem(rows=20, features=3)
    path = contours.descent_path(x, y, 0.05, steps=30)
    optimum = theory.least_squares(x, y)
    gaps = [(theory.design(x) @ w - y.flatten()).pow(2).mean().item() for w in path]
    floor = (theory.design(x) @ optimum - y.flatten()).pow(2).mean().item()
    predicted = theory.predicted_gap(x, y, torch.zeros(4, dtype=torch.float64), 0.05, 30)
    assert [gap - floor for gap in gaps] == pytest.approx(predicted.tolist(), rel=1e-9, abs=1e-12)


def test_the_figure_draws_contours_and_each_path_in_both_panels():
    raw = small_problem(rows=20, features=3, seed=2)
    scaled = (raw[0] / raw[0].std(0), raw[1])
    figure = contours.contour_figure(raw, scaled, steps=10)
    left, right = figure.axes
    assert left.collections and right.collections  # the contour lines
    names = [line.get_label() for line in right.get_lines()]
    assert any(name.startswith("descent, ε*") for name in names) and any(
        name.startswith("heavy ball") for name in names
    )
    (path,) = [line for line in left.get_lines() if line.get_label().startswith("descent")]
    assert len(path.get_xdata()) == 11 and path.get_xdata()[0] != 0  # from w = 0, which is not w*
