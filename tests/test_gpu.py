"""What only a CUDA device can show: data kept on it, steps that never wait for it, compiled models,
training steps captured as CUDA graphs.

CI has no GPU, so these are skipped there; the code paths they cover also run on the CPU in the
other tests. Run them on a GPU machine with ``pytest tests/test_gpu.py``.
"""

import traceback
import warnings
from copy import deepcopy
from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn
from torch.nn import functional as F

from amal_lightning.data import MNISTDataModule
from amal_lightning.tme3 import Autoencoder, Classifier
from amal_lightning.tme3.cuda_graphs import StepGraph, make_capturable
from tests.helpers import CONFIGS, run_inprocess, write_synthetic_mnist

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def mnist_dir(workdir):
    write_synthetic_mnist(workdir / "mnist", train=1200, test=200)
    return ["--data.data_dir=mnist", "--data.source=full", "--data.batch_size=50"]


class SyncCounter(L.Callback):
    """Records where the steps of training epochs after the first make the host wait for the GPU.

    Recording starts with the epoch's first step: fetching its first batch copies the epoch's
    shuffled order to the device once, a wait of microseconds per epoch, not per step.
    """

    def __init__(self) -> None:
        self.syncs: list[str] = []
        self._catcher: warnings.catch_warnings | None = None

    def _record(self, message, category, filename, lineno, file=None, line=None) -> None:
        if "called a synchronizing" in str(message):
            self.syncs.append(f"{message}\n" + "".join(traceback.format_stack(limit=12)[:-2]))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch >= 1 and batch_idx == 0:
            self._catcher = warnings.catch_warnings()
            self._catcher.__enter__()
            warnings.simplefilter("always")
            warnings.showwarning = self._record
            torch.cuda.set_sync_debug_mode("warn")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # the last batch is followed by the epoch's end, where the epoch means are read on purpose
        if batch_idx == trainer.num_training_batches - 2:
            self._stop()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._stop()  # leave no debug mode or warning hook behind for the next tests

    def _stop(self) -> None:
        if self._catcher is not None:
            torch.cuda.set_sync_debug_mode("default")
            self._catcher.__exit__(None, None, None)
            self._catcher = None


@pytest.mark.parametrize("compile", [False, "cuda_graphs"])
@pytest.mark.parametrize(("model_class", "size"), [(Classifier, {"hidden_dim": 32}), (Autoencoder, {"latent_dim": 16})])
def test_training_steps_never_wait_for_the_gpu(workdir, model_class, size, compile):
    model = model_class(**size, compile=compile)
    write_synthetic_mnist(workdir / "mnist", train=1200, test=200)
    data = MNISTDataModule(data_dir="mnist", source="full", batch_size=50)
    counter = SyncCounter()
    # the default checkpointing, TensorBoard logger and progress bar take part too
    trainer = L.Trainer(accelerator="gpu", devices=1, max_epochs=2, callbacks=[counter], default_root_dir=workdir)
    trainer.fit(model, data)
    assert data.train_set.images.device.type == "cuda"
    assert not counter.syncs, "\n\n".join(counter.syncs[:3])


@pytest.mark.parametrize("on_device", [True, False])
def test_mnist_on_the_gpu_or_copied_per_batch(workdir, mnist_dir, on_device):
    run_inprocess(
        "fit",
        "--config",
        str(CONFIGS / "classifier.yaml"),
        "--trainer.max_epochs=2",
        "--trainer.accelerator=gpu",
        f"--data.on_device={on_device}",
        *mnist_dir,
    )
    events = EventAccumulator("logs/classifier/version_0")
    events.Reload()
    assert events.Scalars("val/acc")[-1].value > 0.9
    # a run trained on the GPU goes on on a machine without one
    run_inprocess(
        "fit",
        "--config",
        str(CONFIGS / "classifier.yaml"),
        "--trainer.max_epochs=3",
        "--trainer.accelerator=cpu",
        "--ckpt_path=last",
        *mnist_dir,
    )
    assert len(events.Reload().Scalars("val/acc")) == 3


@pytest.mark.parametrize("config", ["classifier", "autoencoder"])
def test_compiled_models_train_and_resume_uncompiled(workdir, mnist_dir, config):
    common = ["--config", str(CONFIGS / f"{config}.yaml"), "--trainer.accelerator=gpu", *mnist_dir]
    run_inprocess("fit", *common, "--trainer.max_epochs=2", "--model.compile=true")
    # `compile` is not saved with the model: this run goes on uncompiled, with the same parameter names
    run_inprocess("fit", *common, "--trainer.max_epochs=3", "--ckpt_path=last")
    events = EventAccumulator(f"logs/{config}/version_0")
    events.Reload()
    losses = [event.value for event in events.Scalars("train/loss")]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert Path(f"checkpoints/{config}/version_0/last.ckpt").is_file()


def test_a_captured_step_trains_as_the_eager_step():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10)).cuda()
    reference = deepcopy(model)
    optimizer, reference_optimizer = torch.optim.Adam(model.parameters()), torch.optim.Adam(reference.parameters())
    assert make_capturable(optimizer) == [False]
    graph = StepGraph(lambda batch: F.cross_entropy(model(batch[0]), batch[1]), optimizer)
    for size in [32] * 8 + [5] + [32] * 3:  # an epoch's short last batch, then the next epoch's
        x, y = torch.rand(size, 784, device="cuda"), torch.randint(0, 10, (size,), device="cuda")
        loss = graph((x, y))
        reference_optimizer.zero_grad()
        expected = F.cross_entropy(reference(x), y)
        expected.backward()
        reference_optimizer.step()
        torch.testing.assert_close(loss, expected.detach(), rtol=1e-4, atol=1e-5)
    assert graph.graph is not None
    assert graph.counts == {"warm-up": 3, "eager": 1, "replay": 7}
    for mine, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("config", ["classifier", "autoencoder"])
def test_cuda_graphs_train_and_their_checkpoints_resume_on_the_cpu(workdir, mnist_dir, config):
    # batches of 64 out of 1,100 images: each epoch ends with a short batch, trained eagerly
    common = ["--config", str(CONFIGS / f"{config}.yaml"), *mnist_dir, "--data.batch_size=64"]
    run_inprocess("fit", *common, "--trainer.accelerator=gpu", "--trainer.max_epochs=2", "--model.compile=cuda_graphs")
    checkpoint = torch.load(f"checkpoints/{config}/version_0/last.ckpt", weights_only=False)  # devices as saved
    (optimizer,) = checkpoint["optimizer_states"]
    assert not optimizer["param_groups"][0]["capturable"]  # as an eager Adam saves it
    assert {state["step"].device.type for state in optimizer["state"].values()} == {"cpu"}
    run_inprocess("fit", *common, "--trainer.accelerator=cpu", "--trainer.max_epochs=3", "--ckpt_path=last")
    events = EventAccumulator(f"logs/{config}/version_0")
    events.Reload()
    losses = [event.value for event in events.Scalars("train/loss")]
    assert len(losses) == 3 and losses[-1] < losses[0]
