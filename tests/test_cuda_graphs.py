"""The models' ``compile`` option and the ``cuda_graphs`` step, on a CPU: all but the capture itself.

``StepGraph(capture=False)`` runs the captured sequence eagerly (static inputs, warm-up, eager
fallback for a short batch), and ``CompilableModule.emulate_graphs_on_cpu`` sends a whole fit
down the graph path uncaptured, so that the Lightning side is checked here; tests/test_gpu.py
captures for real.
"""

from copy import deepcopy
from pathlib import Path

import lightning as L
import pytest
import torch
from jsonargparse import ArgumentError as ParseError
from jsonargparse import ArgumentParser
from torch import nn
from torch.nn import functional as F

from amal_lightning.data import MNISTDataModule
from amal_lightning.errors import AmalError
from amal_lightning.tme3 import Autoencoder, Classifier, HighwayClassifier
from amal_lightning.tme3 import autoencoder as autoencoder_module
from amal_lightning.tme3.compiling import NO_CUDA, CompilableModule, compile_mode
from amal_lightning.tme3.cuda_graphs import StepGraph, eager_optimizer_state, make_capturable
from tests.helpers import CONFIGS, amal_status, run_inprocess, write_synthetic_mnist

SMALL = {Classifier: {"hidden_dim": 32}, HighwayClassifier: {"num_layers": 2}, Autoencoder: {"latent_dim": 16}}


@pytest.fixture
def emulated(monkeypatch):
    monkeypatch.setattr(CompilableModule, "emulate_graphs_on_cpu", True)


@pytest.fixture
def mnist(workdir):
    # 550 training images in batches of 64: eight full batches and a short one of 38 each epoch
    write_synthetic_mnist(workdir / "mnist", train=600, test=100)
    return workdir / "mnist"


def test_compile_values_and_true_as_default():
    assert compile_mode(False) is None and compile_mode(None) is None
    assert compile_mode(True) == "default"  # configs written before the modes
    for mode in ("default", "reduce-overhead", "cuda_graphs"):
        assert compile_mode(mode) == mode
    with pytest.raises(AmalError, match="not one of false, default, reduce-overhead, cuda_graphs"):
        compile_mode("fast")


@pytest.mark.parametrize("model_class", [Classifier, HighwayClassifier])
def test_classifiers_compile_their_network_in_the_mode_given_on_the_command_line(monkeypatch, model_class):
    modes: list = []
    monkeypatch.setattr(nn.Module, "compile", lambda module, **options: modes.append(options.get("mode")))
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(model_class, "model")
    for given in ("true", "false", "default", "reduce-overhead", "cuda_graphs"):
        model = model_class(compile=parser.parse_args([f"--model.compile={given}"]).model.compile)
        assert model.automatic_optimization  # Lightning's loop still counts and checkpoints the steps
        assert "compile" not in model.hparams  # how this process runs, not what the model is
    assert modes == ["default", "default", "reduce-overhead"]  # cuda_graphs does not torch.compile
    with pytest.raises(ParseError):
        parser.parse_args(["--model.compile=fast"])


def test_autoencoder_calls_the_pass_compiled_in_its_mode(monkeypatch):
    called = []

    def compiled(mode: str):  # records the mode each call was compiled in, and computes eagerly
        return lambda model, x: called.append(mode) or model.decode_logits(model.encode(x))

    monkeypatch.setattr(autoencoder_module, "_compiled_reconstruction_logits", compiled)
    x = torch.rand(2, 784)
    for compile in (False, True, "reduce-overhead", "cuda_graphs"):
        Autoencoder(latent_dim=8, compile=compile)(x)
    assert called == ["default", "reduce-overhead"]


def plain_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.detach()


def test_step_graph_warms_up_replays_into_static_inputs_and_trains_short_batches_eagerly():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    reference = deepcopy(model)
    optimizer, reference_optimizer = torch.optim.Adam(model.parameters()), torch.optim.Adam(reference.parameters())
    graph = StepGraph(
        lambda batch: F.cross_entropy(model(batch[0]), batch[1]), optimizer, capture=False, warmup_steps=2
    )
    sizes = [8, 8, 8, 8, 3, 8, 8, 3]  # two epochs, each ending with a short batch
    batches = [(torch.randn(size, 4), torch.randint(0, 3, (size,))) for size in sizes]
    losses = []
    for x, y in batches:
        losses.append(graph((x, y)))
        assert torch.equal(losses[-1], plain_step(reference, reference_optimizer, x, y))
        if graph.static_batch is not None and len(x) == 8:
            assert torch.equal(graph.static_batch[0], x)  # copied into the graph's own input
    assert graph.counts == {"warm-up": 2, "eager": 2, "replay": 4}
    for mine, theirs in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    static_x = graph.static_batch[0]
    first = losses[2].clone()
    graph(batches[0])
    assert graph.static_batch[0] is static_x  # the same tensors, refilled: what a captured graph reads
    assert torch.equal(losses[2], first)  # a returned loss is a copy, not overwritten by the next replay


def test_step_graph_takes_the_shape_of_the_largest_batch_before_capturing():
    model = nn.Linear(4, 3)
    graph = StepGraph(lambda batch: model(batch[0]).sum(), torch.optim.Adam(model.parameters()), capture=False)
    graph((torch.randn(3, 4),))  # a run resumed at an epoch's last, short batch
    for _ in range(5):
        graph((torch.randn(8, 4),))
    assert graph.shapes == [torch.Size([8, 4])]
    assert graph.counts == {"warm-up": 4, "eager": 0, "replay": 2}


def fit(model: L.LightningModule, data_dir: Path, workdir: Path, **trainer_options) -> L.Trainer:
    trainer = L.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=workdir,
        **trainer_options,
    )
    trainer.fit(model, MNISTDataModule(data_dir=str(data_dir), source="full", batch_size=64))
    return trainer


class GraphCounts(L.Callback):
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: CompilableModule) -> None:
        self.counts = dict(pl_module.step_graph.counts)


@pytest.mark.parametrize("model_class", [Classifier, HighwayClassifier, Autoencoder])
def test_a_fit_through_the_graph_path_trains_exactly_as_the_eager_one(emulated, workdir, mnist, model_class):
    trained = {}
    for compile in (False, "cuda_graphs"):
        L.seed_everything(0, verbose=False)
        model = model_class(compile=compile, **SMALL[model_class])
        counter = GraphCounts()
        trainer = fit(model, mnist, workdir, callbacks=[counter] if compile else [])
        trained[compile] = (model.state_dict(), trainer.global_step, dict(trainer.callback_metrics))
    assert counter.counts == {"warm-up": 3, "eager": 2, "replay": 13}  # 2 epochs of 8 full and 1 short batch
    (eager, eager_steps, eager_metrics), (graphed, graphed_steps, graphed_metrics) = trained.values()
    assert graphed_steps == eager_steps == 18  # Lightning counted every graphed step
    assert graphed_metrics.keys() == eager_metrics.keys() and "train/loss" in graphed_metrics
    for name, value in eager_metrics.items():
        assert torch.equal(graphed_metrics[name], value), name
    for name, value in eager.items():
        assert torch.equal(graphed[name], value), name


def test_graphs_refuse_the_settings_a_captured_step_would_ignore(emulated, workdir, mnist):
    refused = {"accumulate_grad_batches": 2, "gradient_clip_val": 1.0}
    for option, value in refused.items():
        with pytest.raises(AmalError, match=f"cannot be used with trainer.{option}"):
            fit(Classifier(hidden_dim=8, compile="cuda_graphs"), mnist, workdir, **{option: value})
    model = Classifier(hidden_dim=8, compile="cuda_graphs", optimizer=lambda params: torch.optim.SGD(params, lr=0.1))
    with pytest.raises(AmalError, match="SGD cannot step inside a CUDA graph"):
        fit(model, mnist, workdir)


def test_graphs_without_cuda_are_a_one_line_error(workdir, mnist, capsys):
    with pytest.raises(AmalError, match=NO_CUDA):
        fit(Classifier(hidden_dim=8, compile="cuda_graphs"), mnist, workdir)
    options = [
        "--data.data_dir=mnist",
        "--data.source=full",
        "--trainer.accelerator=cpu",
        "--model.compile=cuda_graphs",
    ]
    assert amal_status("fit", "--config", str(CONFIGS / "classifier.yaml"), *options) == 1  # no exception escaped
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"amal: error: {NO_CUDA}"


def test_a_graphed_run_saves_the_checkpoint_an_eager_run_saves_and_resumes_in_either_mode(emulated, workdir, mnist):
    common = ["--config", str(CONFIGS / "classifier.yaml"), "--data.data_dir=mnist", "--data.source=full"]
    common += ["--data.batch_size=64", "--model.hidden_dim=16", "--test=false", "--trainer.max_epochs=1"]
    for name, compile in (("graphed", "cuda_graphs"), ("eager", "false")):
        run_inprocess("fit", *common, f"--experiment={name}", f"--model.compile={compile}")
    graphed, eager = (
        torch.load(f"checkpoints/{name}/version_0/last.ckpt", weights_only=False) for name in ("graphed", "eager")
    )
    assert graphed.keys() == eager.keys()
    assert graphed["global_step"] == eager["global_step"] == 9
    assert graphed["loops"] == eager["loops"]
    assert graphed["optimizer_states"][0]["param_groups"] == eager["optimizer_states"][0]["param_groups"]
    for saved in ("state_dict", "optimizer_states"):
        torch.testing.assert_close(graphed[saved], eager[saved], rtol=0, atol=0)
    # each goes on in the other mode: the same training either way
    run_inprocess("fit", *common, "--experiment=graphed", "--ckpt_path=last", "--trainer.max_epochs=2")
    run_inprocess(
        "fit",
        *common,
        "--experiment=eager",
        "--ckpt_path=last",
        "--trainer.max_epochs=2",
        "--model.compile=cuda_graphs",
    )
    graphed, eager = (
        torch.load(f"checkpoints/{name}/version_0/last.ckpt", weights_only=False) for name in ("graphed", "eager")
    )
    assert graphed["global_step"] == eager["global_step"] == 18
    torch.testing.assert_close(graphed["state_dict"], eager["state_dict"], rtol=0, atol=0)


def test_eager_optimizer_state_is_what_an_eager_adam_saves_and_loads_on_a_cpu():
    parameter = nn.Parameter(torch.randn(3))
    eager = torch.optim.Adam([parameter])
    parameter.grad = torch.ones(3)
    eager.step()
    saved = eager.state_dict()
    # as a capturable Adam saves it (on a GPU its step count would also be a device tensor)
    captured = deepcopy(saved)
    captured["param_groups"][0]["capturable"] = True
    converted = eager_optimizer_state(captured, [False])
    assert converted["param_groups"] == saved["param_groups"]
    assert captured["param_groups"][0]["capturable"]  # the live state is left alone
    torch.testing.assert_close(converted["state"], saved["state"], rtol=0, atol=0)
    assert converted["state"][0]["step"].device.type == "cpu"
    for state, works in ((converted, True), (captured, False)):
        restored_parameter = nn.Parameter(torch.randn(3))
        restored = torch.optim.Adam([restored_parameter])
        restored.load_state_dict(state)
        restored_parameter.grad = torch.ones(3)
        if works:
            restored.step()
        else:  # why the conversion: a capturable Adam does not step on a CPU
            with pytest.raises((AssertionError, RuntimeError)):
                restored.step()


def test_make_capturable_returns_the_flags_it_replaced():
    parameter = nn.Parameter(torch.randn(3))
    adam = torch.optim.Adam([parameter])
    assert make_capturable(adam) == [False]
    assert adam.param_groups[0]["capturable"]
    with pytest.raises(AmalError, match="LBFGS cannot step inside a CUDA graph"):
        make_capturable(torch.optim.LBFGS([parameter]))
