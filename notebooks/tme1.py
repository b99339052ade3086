# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # TME1: hand-written gradients, and a gradient descent that calls them
#
# The lab's questions in order, with the code of `amal_lightning` (imported, never copied): the
# `Context`, the `Linear` and `MSE` Functions and their gradients, `gradcheck`, then gradient
# descent driven by calling `backward` by hand, first in a plain loop, then as a Lightning fit.
# Answers with their evidence: `docs/LABS.md`, TME1.
#
# Open it with `make notebook` (JupyterLab on `notebooks/`). Fits write their logs to `logs/` and
# their checkpoints to `checkpoints/` in the repository, as `amal fit` does; `tensorboard --logdir logs`
# shows them too.

# %% tags=["parameters"]
WORKDIR = ".."  # where logs/ and checkpoints/ go, and configs/ is read: the repository
STEPS = 200  # iterations of the hand-written descent, and epochs of the fits

# %%
import os

import matplotlib.pyplot as plt
import torch

from amal_lightning.api import fit
from amal_lightning.data.references import least_squares_references
from amal_lightning.runs.events import read_run
from amal_lightning.tme1.functions import MSE, Context, Linear, linear, mse

os.chdir(WORKDIR)
QUIET = {"trainer.enable_progress_bar": False, "trainer.enable_model_summary": False}
torch.manual_seed(0)

# %% [markdown]
# ## Q1–Q5: the Context, and the gradients of `Linear` and `MSE`
#
# `Context` stands for the `ctx` that autograd passes: `forward` saves in it what `backward` needs.
# For `Linear(X, W, b) = X W + b` (X is q×n, W n×p, b of shape p) and an incoming gradient G = ∂L/∂Y
# (q×p): ∂L/∂X = G Wᵀ, ∂L/∂W = Xᵀ G and ∂L/∂b = the sum of G's rows. For `MSE(ŷ, y) = ‖ŷ − y‖²/q`:
# ∂/∂ŷ = 2(ŷ − y)/q and ∂/∂y = −2(ŷ − y)/q. `backward` returns one gradient per input of `forward`.

# %%
ctx = Context()
X, W, b = torch.randn(4, 3), torch.randn(3, 2), torch.randn(2)
Y = Linear.forward(ctx, X, W, b)
grad_X, grad_W, grad_b = Linear.backward(ctx, torch.ones_like(Y))
print("shapes:", tuple(grad_X.shape), tuple(grad_W.shape), tuple(grad_b.shape))
print("∂L/∂b is the sum of G's rows:", grad_b.tolist())

# %% [markdown]
# ## Q6: `gradcheck`
#
# `torch.autograd.gradcheck` compares each hand-written `backward` with finite differences, in
# float64 (in float32 the differences are too coarse to agree).

# %%
yhat = torch.randn(10, 5, dtype=torch.float64, requires_grad=True)
y = torch.randn(10, 5, dtype=torch.float64, requires_grad=True)
print("MSE passes gradcheck:", torch.autograd.gradcheck(mse, (yhat, y)))
X = torch.randn(10, 5, dtype=torch.float64, requires_grad=True)
W = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
b = torch.randn(3, dtype=torch.float64, requires_grad=True)
print("Linear passes gradcheck:", torch.autograd.gradcheck(linear, (X, W, b)))

# %% [markdown]
# ## Q7: gradient descent, `backward` called by hand
#
# The course's data (`x` 50×13, `y` 50×3, random) and step ε = 0.05. Each iteration builds fresh
# Contexts, runs the two `forward`s, then the two `backward`s in reverse order, and moves the
# weights against their gradients. No autograd is involved. The dashed line is the least-squares
# optimum of the same data: the lowest loss any linear model reaches, where the descent must end.

# %%
x, y = torch.randn(50, 13), torch.randn(50, 3)
weights, bias = torch.randn(13, 3) * 0.01, torch.zeros(3)
losses = []
for _ in range(STEPS):
    linear_ctx, mse_ctx = Context(), Context()
    loss = MSE.forward(mse_ctx, Linear.forward(linear_ctx, x, weights, bias), y)
    grad_yhat, _ = MSE.backward(mse_ctx, torch.tensor(1.0))
    _, grad_weights, grad_bias = Linear.backward(linear_ctx, grad_yhat)
    weights -= 0.05 * grad_weights
    bias -= 0.05 * grad_bias
    losses.append(loss.item())
optimum = least_squares_references((x, y), sum_outputs=True)["train"]

figure, axes = plt.subplots(figsize=(6, 3.5))
axes.plot(losses, label="hand-written descent, ε = 0.05")
axes.axhline(optimum, linestyle="--", color="gray", label=f"least-squares optimum {optimum:.3f}")
axes.set(xlabel="iteration", ylabel="MSE (summed over the 3 outputs)", yscale="log")
axes.legend()
plt.show()
print(f"last loss {losses[-1]:.4f}, optimum {optimum:.4f}")

# %% [markdown]
# ## The same descent as a Lightning fit
#
# `HandGradientRegression` (`amal_lightning/tme1/gradient_descent.py`) runs exactly these lines in its
# `training_step`, under Lightning's manual optimization; `configs/tme1_random.yaml` trains it on
# random data of the course's shape, with validation and test rows. `fit` returns what the run did;
# its TensorBoard files hold the curves and the reference values computed from the data.

# %%
outcome = fit("configs/tme1_random.yaml", {"trainer.max_epochs": STEPS, **QUIET})
print(outcome.status, "-", outcome.reason, "- tested:", outcome.test_metrics)
run = read_run(outcome.log_dir)
figure, axes = plt.subplots(figsize=(6, 3.5))
for name in ("train/loss", "val/loss"):
    series = run.curves[name]
    axes.plot(series.epochs, series.values, label=name)
axes.axhline(run.references["train/loss"], linestyle="--", color="gray", label="least squares (train)")
axes.set(xlabel="epoch", ylabel="MSE", yscale="log")
axes.legend()
plt.show()

# %% [markdown]
# ## The step size on the housing data
#
# On the standardized housing features, full-batch descent converges if and only if ε < 2/λ_max of
# the loss's Hessian, which every linear fit computes from its training rows
# (`reference/step_limit`); `amal_lightning/tme2/theory.py` also predicts the whole curve, which the
# fit logs as `train/predicted_loss`. Here at 90 % of the limit: the measured loss follows it.

# %%
outcome = fit("configs/tme1_gradient_descent.yaml", {"trainer.max_epochs": STEPS // 4, **QUIET})
run = read_run(outcome.log_dir)
limit = run.references["step_limit"]
outcome = fit(
    "configs/tme1_gradient_descent.yaml",
    {"trainer.max_epochs": STEPS // 4, "model.learning_rate": 0.9 * limit, "experiment": "tme1_at_the_limit", **QUIET},
)
run = read_run(outcome.log_dir)
figure, axes = plt.subplots(figsize=(6, 3.5))
measured, predicted = run.curves["train/loss"], run.curves["train/predicted_loss"]
axes.plot(measured.epochs, measured.values, label="measured train/loss")
axes.plot(predicted.epochs, predicted.values, linestyle="-.", label="predicted by theory")
axes.axhline(run.references["train/loss"], linestyle="--", color="gray", label="least squares")
axes.set(xlabel="epoch", ylabel="MSE", yscale="log", title=f"ε = 0.9 × 2/λ_max = {0.9 * limit:.4f}")
axes.legend()
plt.show()
