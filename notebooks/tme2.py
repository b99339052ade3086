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
# # TME2: autograd, batch against mini-batch against stochastic descent, `torch.optim`, a tanh network
#
# The lab's questions in order, on the Boston housing data (506 rows, 13 features, standardized on
# the training split: 304 train, 101 validation, 101 test), with the code of `amal_lightning`.
# Every number that theory predicts is printed or drawn beside the measurement: the formulas are
# in `amal_lightning/tme2/theory.py`. Answers with five seeds and their intervals: `docs/LABS.md`, TME2.

# %% tags=["parameters"]
WORKDIR = ".."  # where logs/ and checkpoints/ go, and configs/ is read: the repository
EPOCHS = 50  # epochs of each fit of Q1
Q2_EPOCHS = 500  # epochs of the two fits of Q2 (full batch, SGD at ε = 0.01: slower to settle)

# %%
import os

import matplotlib.pyplot as plt

from amal_lightning.api import fit
from amal_lightning.data import HousingDataModule
from amal_lightning.runs.events import read_run
from amal_lightning.tme2 import theory

os.chdir(WORKDIR)
QUIET = {"trainer.enable_progress_bar": False, "trainer.enable_model_summary": False}

# %% [markdown]
# ## Q1: batch gradient descent with autograd
#
# `AutogradRegression` (`amal_lightning/tme2/regression.py`) computes the loss, calls
# `manual_backward`, then moves each weight by `−ε · grad` **inside `torch.no_grad()`** (the update
# is not part of the model: recorded by autograd it would make the weights nodes of an ever-growing
# graph) and **sets the gradients back to `None`** (`backward` adds to `.grad`, it does not
# overwrite it). The fit logs the training, validation and test losses each epoch, and the exact
# curve theory predicts for full-batch descent from the same starting weights.

# %%
outcome = fit("configs/regression.yaml", {"trainer.max_epochs": EPOCHS, **QUIET})
run = read_run(outcome.log_dir)
figure, axes = plt.subplots(figsize=(6, 3.5))
for name, style in (("train/loss", "-"), ("train/predicted_loss", "-."), ("val/loss", "-"), ("test/loss", "-")):
    series = run.curves[name]
    axes.plot(series.epochs, series.values, linestyle=style, label=name)
axes.axhline(run.references["train/loss"], linestyle="--", color="gray", label="least squares (train)")
axes.set(xlabel="epoch", ylabel="MSE (k$²)", yscale="log")
axes.legend()
plt.show()
print(f"best checkpoint tested: {outcome.test_metrics}")

# %% [markdown]
# ## What theory says of the step size, for each batch size
#
# Computed from the 304 training rows alone: the full batch's limit 2/λ_max and its fastest step
# ε* = 2/(λ_min + λ_max); for batches of B rows, the largest step at which the error's second moment
# stops growing (mean-square stability) and the noise floor of a constant step, the excess loss
# where descent settles on average.

# %%
data = HousingDataModule()
data.setup("fit")
x, y = data.train_set.tensors
steps = theory.fastest_step(x)
print(f"full batch: limit 2/λ_max = {steps.limit:.4f}, fastest ε* = {steps.fastest:.4f}")
print(f"condition number κ = {steps.condition_number:.1f}, rate at ε*: {steps.fastest_rate:.3f} a step")
for batch, step in ((32, 0.01), (1, 0.003)):
    limit = theory.mean_square_limit(x, batch)
    floor = theory.noise_floor(x, y, step, batch)
    print(f"batches of {batch:>2}: mean-square limit {limit:.4f}; noise floor at ε = {step}: {floor:.3f}")

# %% [markdown]
# ## Q1: batch, mini-batch and stochastic descent compared
#
# One linear model (`OptimRegression`, `torch.optim.SGD`), the same split and seed, each batch size
# at the step the step-size sweep found best for it (`configs/studies/tme2_step_size.yaml`), the
# same number of epochs: every variant sees every row once an epoch. `docs/LABS.md` has the same
# comparison over five seeds, per second of training too.

# %%
variants = {"full batch, ε 0.155": ("full", 0.155), "32 rows, ε 0.01": (32, 0.01), "1 row, ε 0.003": (1, 0.003)}
figure, axes = plt.subplots(figsize=(6, 3.5))
for label, (batch, step) in variants.items():
    options = {"data.batch_size": batch, "model.optimizer.init_args.lr": step, "trainer.max_epochs": EPOCHS}
    name = f"tme2_batch_{batch}"
    outcome = fit("configs/regression_minibatch.yaml", {**options, "experiment": name, **QUIET})
    run = read_run(outcome.log_dir)
    loss = run.curves["train/loss"]
    optimum = run.references["train/loss"]
    axes.plot(loss.epochs, [value - optimum for value in loss.values], label=label)
axes.set(xlabel="epoch", ylabel="L − L* (train)", yscale="log")
axes.legend()
plt.show()

# %% [markdown]
# ## Q2: `torch.optim`, and the network linear → tanh → linear
#
# `OptimRegression` hands its gradients to the optimizer the config names: Lightning calls
# `zero_grad`, `backward` and `step` around each `training_step`. `TanhMLP` is the same class with
# a hidden tanh layer of 100 units. Both get the same optimizer (SGD, ε = 0.01, full batch): the
# difference in their test losses is the model's, not the optimizer's.

# %%
same_optimizer = {
    "data.batch_size": "full",
    "model.optimizer": "torch.optim.SGD",
    "model.optimizer.init_args.lr": 0.01,
    "trainer.max_epochs": Q2_EPOCHS,
}
results = {}
for label, config in (("linear", "configs/regression_minibatch.yaml"), ("tanh", "configs/tanh_mlp.yaml")):
    outcome = fit(config, {**same_optimizer, "experiment": f"tme2_q2_{label}", **QUIET})
    results[label] = outcome.test_metrics["test/loss"]
print("tested MSE of the best checkpoint:", {label: round(value, 2) for label, value in results.items()})
