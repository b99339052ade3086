import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from amal_lightning.tme1 import MSE, Context, HandGradientRegression, Linear, linear, mse


@pytest.mark.parametrize(("q", "n", "p"), [(10, 5, 3), (1, 4, 2), (7, 3, 1), (1, 1, 1), (5, 13, 1)])
def test_linear_passes_gradcheck(q, n, p):
    generator = torch.Generator().manual_seed(q * 100 + n * 10 + p)
    X = torch.randn(q, n, dtype=torch.float64, generator=generator, requires_grad=True)
    W = torch.randn(n, p, dtype=torch.float64, generator=generator, requires_grad=True)
    b = torch.randn(p, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(linear, (X, W, b))


@pytest.mark.parametrize(("q", "p"), [(10, 5), (1, 3), (8, 1), (1, 1)])
def test_mse_passes_gradcheck(q, p):
    generator = torch.Generator().manual_seed(q * 10 + p)
    yhat = torch.randn(q, p, dtype=torch.float64, generator=generator, requires_grad=True)
    y = torch.randn(q, p, dtype=torch.float64, generator=generator, requires_grad=True)
    assert torch.autograd.gradcheck(mse, (yhat, y))


def test_mse_divides_by_the_batch_size_only():
    yhat = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    y = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    # squared errors: 1 + 4 + 4 + 9 + 4 + 0 = 22, over q = 3 rows (not over the 6 cells)
    assert mse(yhat, y).item() == pytest.approx(22 / 3)


def test_linear_computes_x_w_plus_b():
    X, W, b = torch.randn(4, 3), torch.randn(3, 2), torch.randn(2)
    torch.testing.assert_close(linear(X, W, b), X @ W + b)


def test_backward_called_by_hand_matches_autograd():
    X = torch.randn(6, 4, dtype=torch.float64)
    y = torch.randn(6, 2, dtype=torch.float64)
    W = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    mse(linear(X, W, b), y).backward()

    linear_ctx, mse_ctx = Context(), Context()
    loss = MSE.forward(mse_ctx, Linear.forward(linear_ctx, X, W.detach(), b.detach()), y)
    grad_yhat, _ = MSE.backward(mse_ctx, torch.ones_like(loss))
    _, grad_W, grad_b = Linear.backward(linear_ctx, grad_yhat)

    torch.testing.assert_close(grad_W, W.grad)
    torch.testing.assert_close(grad_b, b.grad)


def test_context_keeps_what_forward_saved():
    ctx = Context()
    a, b = torch.ones(2), torch.zeros(3)
    ctx.save_for_backward(a, b)
    assert ctx.saved_tensors[0] is a and ctx.saved_tensors[1] is b


def test_hand_gradient_regression_fits_several_outputs():
    """The course's random data: x 50×13, y 50×3, ε = 0.05, every gradient written by hand."""
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(50, 13, generator=generator), torch.randn(50, 3, generator=generator)
    model = HandGradientRegression(input_dim=13, output_dim=3, learning_rate=0.05)
    assert model.weight.shape == (13, 3) and model.bias.shape == (3,)
    # the same descent from the same start, with torch's own operations and autograd
    W, b = model.weight.detach().clone(), model.bias.detach().clone()
    for _ in range(5):
        W.requires_grad_(), b.requires_grad_()
        grad_W, grad_b = torch.autograd.grad((x @ W + b - y).pow(2).sum() / len(x), (W, b))
        W, b = (W - 0.05 * grad_W).detach(), (b - 0.05 * grad_b).detach()
    before = mse(model(x), y).item()

    trainer = L.Trainer(
        max_epochs=5, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    batches = DataLoader(TensorDataset(x, y), batch_size=50)  # one full batch per epoch
    trainer.fit(model, batches, batches)

    assert trainer.global_step == 5
    after = mse(model(x), y).item()
    assert after < before
    assert trainer.callback_metrics["val/loss"].item() == pytest.approx(after)  # the loss summed over 3 outputs
    torch.testing.assert_close(model.weight, W)
    torch.testing.assert_close(model.bias, b)
