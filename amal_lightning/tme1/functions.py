"""TME1: a linear layer and the mean squared error with hand-written gradients.

Shapes follow the course: ``X`` is q×n (q examples), ``W`` is n×p, ``b`` has shape (p,).
Both Functions work with autograd (``linear(X, W, b)``) and can also be driven by hand
with a :class:`Context`, as the gradient-descent module does.
"""

import torch
from torch.autograd import Function


class Context:
    """Stands in for the ``ctx`` that autograd passes, so ``forward``/``backward`` can be called by hand."""

    def __init__(self) -> None:
        self._saved_tensors: tuple[torch.Tensor, ...] = ()

    def save_for_backward(self, *tensors: torch.Tensor) -> None:
        self._saved_tensors = tensors

    @property
    def saved_tensors(self) -> tuple[torch.Tensor, ...]:
        return self._saved_tensors


class Linear(Function):
    """``X @ W + b``."""

    @staticmethod
    def forward(ctx, X: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(X, W)
        return X @ W + b

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        X, W = ctx.saved_tensors
        return grad_output @ W.T, X.T @ grad_output, grad_output.sum(0)


class MSE(Function):
    """``||yhat - y||² / q``: the squared error summed over outputs, averaged over the q examples."""

    @staticmethod
    def forward(ctx, yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(yhat, y)
        return (yhat - y).pow(2).sum() / yhat.shape[0]

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        yhat, y = ctx.saved_tensors
        grad_yhat = grad_output * 2 * (yhat - y) / yhat.shape[0]
        return grad_yhat, -grad_yhat


linear = Linear.apply
mse = MSE.apply
