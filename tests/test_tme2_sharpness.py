"""The sharpness of a model: power iteration on Hessian-vector products finds the quadratic's largest eigenvalue."""

import pytest
import torch

from amal_lightning.tme2 import sharpness, theory
from tests.test_tme2_theory import small_problem


def test_a_linear_model_s_sharpness_is_the_largest_eigenvalue_of_its_quadratic():
    x, y = (tensor.float() for tensor in small_problem(rows=30, features=4, seed=3))
    model = torch.nn.Linear(4, 1)
    expected = torch.linalg.eigvalsh(theory.hessian(x.double()))[-1].item()
    assert sharpness.top_hessian_eigenvalue(model, x, y) == pytest.approx(expected, rel=1e-3)
