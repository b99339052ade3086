"""The MNIST models' ``compile`` option: eager, ``torch.compile``'s modes, or ``cuda_graphs``.

``cuda_graphs`` replays each full training batch's step as one CUDA graph
(:mod:`amal_lightning.tme3.cuda_graphs`). The model keeps Lightning's automatic optimization, so
that the loop counts the steps, saves its progress and calls the callbacks as in an eager run,
and a checkpoint resumes in either mode: ``optimizer_step`` runs Lightning's closure, whose
``training_step`` replays the graph, and the closure's zero-grad and backward then have nothing
left to do. Checkpoints are written as an eager run writes them (the optimizer's step counts on
the host, ``capturable`` as configured), so they resume on a machine without a GPU. What a graph
cannot follow is refused in one line: a learning-rate scheduler (the rate is baked into the
graph), gradient clipping or accumulation, mixed precision, several devices, an optimizer without
``capturable``, and a machine without CUDA (a silent eager fallback would make benchmarks lie).
"""

from typing import Any, Literal, Optional, Union

import lightning as L
import torch
from torch import nn

from amal_lightning.base_module import EpochMetricsModule
from amal_lightning.batches import Batch
from amal_lightning.errors import AmalError
from amal_lightning.tme3.cuda_graphs import StepGraph, check_capturable, eager_optimizer_state, make_capturable

CompileOption = Union[bool, Literal["default", "reduce-overhead", "cuda_graphs"]]
TORCH_COMPILE_MODES = ("default", "reduce-overhead")  # torch.compile's own modes
NO_CUDA = "model.compile cuda_graphs needs a CUDA device, and this run has none: use false, default or reduce-overhead"


def compile_mode(option: Any) -> Optional[str]:
    """The mode that ``compile`` asks for, or None for eager; ``true`` (older configs) is ``default``."""
    if option is False or option is None:
        return None
    if option is True:
        return "default"
    if option in (*TORCH_COMPILE_MODES, "cuda_graphs"):
        return option
    raise AmalError(f"model.compile: {option!r} is not one of false, default, reduce-overhead, cuda_graphs")


class CompilableModule(EpochMetricsModule):
    """A model with the ``compile`` option; its subclass gives :meth:`training_loss` and compiles its
    network for torch.compile's modes with :meth:`compile_module`.

    Args:
        compile: ``false`` (eager), ``default`` or ``reduce-overhead`` (``torch.compile``'s modes,
            the network's forward pass compiled in place; ``true`` is ``default``), or
            ``cuda_graphs`` (the whole training step captured as a CUDA graph, see the module).
    """

    # cuda_graphs on a CPU: an error when a fit starts (the model itself loads anywhere), unless a
    # test turns this on to run the same steps uncaptured
    emulate_graphs_on_cpu = False

    def __init__(self, compile: CompileOption = False) -> None:
        super().__init__()
        self.compile_mode = compile_mode(compile)
        self.step_graph: Optional[StepGraph] = None
        self._capturable_before: Optional[list[bool]] = None

    @property
    def graphed(self) -> bool:
        return self.compile_mode == "cuda_graphs"

    def compile_module(self, module: nn.Module) -> None:
        """Compiles ``module`` in place for torch.compile's modes: parameter names, hence checkpoints, stay the same."""
        if self.compile_mode in TORCH_COMPILE_MODES:
            module.compile(mode=self.compile_mode)

    def training_loss(self, batch: Batch) -> torch.Tensor:
        """The loss of a training batch, with no side effect: what ``cuda_graphs`` captures."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.graphed and stage == "fit":
            check_graphable(self.trainer, self.emulate_graphs_on_cpu)

    def on_train_start(self) -> None:
        # here, not at setup: a resumed run's optimizer state is restored in between
        if self.graphed:
            if self.trainer.lr_scheduler_configs:  # it would change a rate that the captured update has baked in
                raise AmalError("model.compile cuda_graphs cannot follow a learning-rate scheduler")
            (optimizer,) = self.trainer.optimizers
            check_capturable(optimizer)
            capture = self.device.type == "cuda"
            self._capturable_before = make_capturable(optimizer) if capture else None
            self.step_graph = StepGraph(self.training_loss, optimizer, capture=capture)

    def on_train_end(self) -> None:
        self.step_graph = None  # frees the graph and its memory pool

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        if self.step_graph is None:
            return super().training_step(batch, batch_idx)
        loss = self.step_graph(batch)
        self.train_loss.update(loss, len(batch[0]))
        return loss

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        if self.step_graph is None:
            super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        else:
            optimizer_closure()  # training_step's graph steps the optimizer; Lightning counts the step

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: torch.optim.Optimizer) -> None:
        if self.step_graph is None:
            super().optimizer_zero_grad(epoch, batch_idx, optimizer)

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if self.step_graph is None:  # with the graph, the backward pass already ran in it
            super().backward(loss, *args, **kwargs)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._capturable_before is not None and checkpoint.get("optimizer_states"):
            (state,) = checkpoint["optimizer_states"]
            checkpoint["optimizer_states"] = [eager_optimizer_state(state, self._capturable_before)]


def check_graphable(trainer: L.Trainer, emulate_on_cpu: bool = False) -> None:
    """One line for each setting that a captured training step would silently ignore or break."""
    if trainer.strategy.root_device.type != "cuda" and not emulate_on_cpu:
        raise AmalError(NO_CUDA)
    refused = [
        name
        for name, present in (
            ("several devices (it trains on one)", trainer.world_size > 1),
            ("trainer.precision other than 32-true", str(trainer.precision) not in ("32-true", "32")),
            ("trainer.accumulate_grad_batches", trainer.accumulate_grad_batches != 1),
            ("trainer.gradient_clip_val", bool(trainer.gradient_clip_val)),
        )
        if present
    ]
    if refused:
        raise AmalError(f"model.compile cuda_graphs cannot be used with {', '.join(refused)}")
