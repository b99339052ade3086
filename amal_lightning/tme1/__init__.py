"""TME1: hand-written autograd Functions and gradient descent driven by their ``backward``."""

from amal_lightning.tme1.functions import MSE, Context, Linear, linear, mse
from amal_lightning.tme1.gradient_descent import HandGradientRegression

__all__ = ["MSE", "Context", "HandGradientRegression", "Linear", "linear", "mse"]
