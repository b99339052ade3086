"""TME2: regression with autograd, ``torch.optim`` and a small tanh network."""

from amal_lightning.tme2.regression import AutogradRegression, OptimRegression
from amal_lightning.tme2.tanh_mlp import TanhMLP

__all__ = ["AutogradRegression", "OptimRegression", "TanhMLP"]
