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
# # TME3: a Dataset of its own, an autoencoder, a classifier, checkpoints that resume, Highway networks
#
# The lab's questions in order, with the code of `amal_lightning`, on the 5,000 MNIST digits bundled
# with the package (`data.source: sample`; `auto` reads the full MNIST where it is downloaded).
# MNIST is Yann LeCun's and Corinna Cortes's. Answers with their seeds and baselines: `docs/LABS.md`, TME3.

# %% tags=["parameters"]
WORKDIR = ".."  # where logs/ and checkpoints/ go, and configs/ is read: the repository
EPOCHS = 3  # epochs of each fit
BATCHES = None  # all the training batches each epoch; a number (or a share) takes fewer

# %%
import os

import matplotlib.pyplot as plt
import torch
from PIL import Image
from torch.utils.data import DataLoader

from amal_lightning.api import fit
from amal_lightning.data import MNISTDataModule
from amal_lightning.runs.events import read_run

os.chdir(WORKDIR)
SHORT = {
    "data.source": "sample",
    "trainer.max_epochs": EPOCHS,
    "trainer.enable_progress_bar": False,
    "trainer.enable_model_summary": False,
    **({} if BATCHES is None else {"trainer.limit_train_batches": BATCHES}),
}

# %% [markdown]
# ## Q1: a Dataset of its own, read through DataLoaders
#
# `MNISTDigits` (`amal_lightning/data/digits.py`) is a `Dataset` of its own (not a `TensorDataset`):
# it keeps the images as bytes and returns each as a vector of 784 floats in [0, 1] with its label.

# %%
data = MNISTDataModule(source="sample")
data.setup("fit")
image, label = data.train_set[0]
print(type(data.train_set).__name__, len(data.train_set), "digits;", image.dtype, tuple(image.shape), "label", label)
for batch_size in (1, 32, 128):
    images, labels = next(iter(DataLoader(data.train_set, batch_size=batch_size, shuffle=True)))
    print(f"batch of {batch_size:>3}: images {tuple(images.shape)}, in [{images.min():.0f}, {images.max():.0f}]")

# %% [markdown]
# ## Q2: the autoencoder, its decoder the transpose of its encoder
#
# `Autoencoder` (`amal_lightning/tme3/autoencoder.py`): linear → ReLU to a code, linear → sigmoid back,
# the decoder's weight the transpose of the encoder's (`tied: true`: half the parameters). The fit's
# figures land in its log folder; the reference is PCA with as many components as the code, the
# best any linear code of that size does.

# %%
outcome = fit("configs/autoencoder.yaml", {**SHORT, "model.latent_dim": 16})
run = read_run(outcome.log_dir)
print("tested:", outcome.test_metrics, "- PCA with 16 components:", round(run.references["test/mse"], 4))
Image.open(outcome.log_dir / "reconstructions.png")

# %% [markdown]
# ## Q3: a classifier, its checkpoint, and a run that resumes
#
# `Classifier` (linear → ReLU → linear → ReLU → linear, cross-entropy). The Trainer places it on a GPU
# where there is one (`trainer.accelerator: auto`). Each fit keeps `last.ckpt` (model, optimizer,
# epoch, step) and `best.ckpt` (the lowest validation loss) in `checkpoints/<experiment>/<run>/`:
# a second fit given `ckpt_path: last` goes on from where the first stopped, in the same run folder.

# %%
first = fit("configs/classifier.yaml", {**SHORT, "experiment": "tme3_resume"})
second = fit(
    "configs/classifier.yaml",
    {**SHORT, "experiment": "tme3_resume", "ckpt_path": "last", "trainer.max_epochs": EPOCHS + 1},
)
print(f"first fit: {first.epochs} epochs in {first.run}; the resumed one: {second.epochs} more in {second.run}")
print("checkpoint holds:", sorted(torch.load(second.last_checkpoint, weights_only=False).keys())[:6], "...")
run = read_run(second.log_dir)
figure, axes = plt.subplots(figsize=(6, 3.5))
for name in ("train/loss", "val/loss"):
    axes.plot(run.curves[name].epochs, run.curves[name].values, marker="o", label=name)
axes.axvline(EPOCHS - 0.5, color="gray", linestyle=":", label="resumed here")
axes.set(xlabel="epoch", ylabel="cross-entropy")
axes.legend()
plt.show()

# %% [markdown]
# ## Q4: Highway networks
#
# `HighwayClassifier` (`amal_lightning/tme3/highway.py`): each block computes
# y = H(x)·T(x) + x·(1 − T(x)), its transform gate T = sigmoid(W_T x + b_T) started at b_T = −2, so that
# each block first carries its input through (σ(−2) = 0.12). Its validation logs each block's mean
# gate output (`val/gate/layer_NN`).

# %%
outcome = fit("configs/highway.yaml", {**SHORT, "model.num_layers": 10})
run = read_run(outcome.log_dir)
gates = sorted(name for name in run.curves if name.startswith("val/gate/"))
print("tested:", outcome.test_metrics)
print("mean gate output per block:", [round(run.curves[name].values[-1], 3) for name in gates])
