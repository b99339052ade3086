"""A training step (loss, backward, optimizer update) captured once as a CUDA graph and replayed.

On a GPU the MNIST models are launch bound: a classifier step is some forty small kernels, each
issued from Python, which takes longer than running them (docs/PERFORMANCE.md). A CUDA graph
records the kernels once and replays them in one launch. :class:`StepGraph` captures the whole
step, the optimizer's update included (Adam and AdamW built with ``capturable=True``, which
:func:`make_capturable` sets), following ``torch.cuda.graphs``' recipe: static input tensors,
warm-up steps on a side stream, one capture, then a copy of each batch into the static inputs
and a replay. The graph is for one batch shape: a short last batch is trained eagerly.

Start-up: the first ``WARMUP_STEPS`` full batches train eagerly, then one step is captured (a
device synchronisation and a garbage collection): tens of milliseconds, against tens of seconds
for ``torch.compile``. Every step, warm-up included, is one of the training's own. The Lightning
side (the ``compile`` option, the hooks) is :mod:`amal_lightning.tme3.compiling`.
"""

import warnings
from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch

from amal_lightning.batches import Batch
from amal_lightning.errors import AmalError

WARMUP_STEPS = 3  # eager steps before the capture: cuBLAS handles, autograd's and Adam's state


def check_capturable(optimizer: torch.optim.Optimizer) -> None:
    if "capturable" not in optimizer.defaults:
        name = type(optimizer).__name__
        raise AmalError(f"model.compile cuda_graphs: {name} cannot step inside a CUDA graph (Adam and AdamW can)")


def make_capturable(optimizer: torch.optim.Optimizer) -> list[bool]:
    """Lets ``optimizer`` step inside a CUDA graph; returns each group's ``capturable`` as it was.

    A capturable Adam keeps its step counts on the parameters' device instead of the host: the
    counts restored from an eager checkpoint are moved there.
    """
    check_capturable(optimizer)
    before = [bool(group["capturable"]) for group in optimizer.param_groups]
    for group in optimizer.param_groups:
        group["capturable"] = True
        for parameter in group["params"]:
            state = optimizer.state.get(parameter, {})
            if isinstance(state.get("step"), torch.Tensor):
                state["step"] = state["step"].to(parameter.device)
    return before


def eager_optimizer_state(state: dict[str, Any], capturable: Sequence[bool]) -> dict[str, Any]:
    """An optimizer's ``state_dict`` as the same optimizer saves it without capture.

    The groups get back their ``capturable`` flags and the step counts of eager groups go back to
    the host, so that a checkpoint of a graphed run is the same file as an eager run's and
    resumes on a machine without a GPU. Builds new dictionaries: ``state_dict()`` shares the
    live state's.
    """
    groups = [{**group, "capturable": flag} for group, flag in zip(state["param_groups"], capturable, strict=True)]
    on_host = {index for group in groups if not group["capturable"] for index in group["params"]}
    per_parameter = {}
    for index, values in state["state"].items():
        step = values.get("step")
        moved = index in on_host and isinstance(step, torch.Tensor)
        per_parameter[index] = {**values, "step": step.cpu()} if moved else dict(values)
    return {**state, "state": per_parameter, "param_groups": groups}


class StepGraph:
    """One training step (the loss, its backward, the optimizer's update) captured once and replayed.

    Args:
        loss_fn: a batch's training loss, and nothing else: what a replay does again must not
            update a metric whose tensors move between epochs.
        optimizer: stepped inside the graph; capturable (see :func:`make_capturable`) when capturing.
        capture: record a CUDA graph. Without, the same sequence runs eagerly (static input
            tensors, warm-up, fallback for another batch shape), which is how the tests check it
            on a CPU.
        warmup_steps: eager steps before the capture.
    """

    def __init__(
        self,
        loss_fn: Callable[[Batch], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        capture: bool = True,
        warmup_steps: int = WARMUP_STEPS,
    ) -> None:
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.capture = capture
        self.warmup_steps = warmup_steps
        self.shapes: Optional[list[torch.Size]] = None  # of the batches the graph is recorded for
        self.static_batch: Optional[list[torch.Tensor]] = None
        self.static_loss: Optional[torch.Tensor] = None
        self.graph: Optional[torch.cuda.CUDAGraph] = None
        self.counts = {"warm-up": 0, "eager": 0, "replay": 0}
        self._warmed = 0  # warm-up steps of the current shape

    def __call__(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        """Trains on ``batch``, one optimizer step; returns its loss (detached, not the graph's tensor)."""
        shapes = [tensor.shape for tensor in batch]
        # until the capture, the largest batch sets the shape (a run resumed at an epoch's end starts short)
        if self.static_batch is None and (self.shapes is None or shapes[0][0] > self.shapes[0][0]):
            self.shapes, self._warmed = shapes, 0
        if shapes != self.shapes:  # the short last batch of an epoch
            self.counts["eager"] += 1
            return self._eager(batch)
        if self._warmed < self.warmup_steps:
            self._warmed += 1
            self.counts["warm-up"] += 1
            return self._warm_up(batch)
        if self.static_batch is None:
            self._record(batch)
        else:
            for static, tensor in zip(self.static_batch, batch, strict=True):
                static.copy_(tensor)
        self._replay()
        self.counts["replay"] += 1
        assert self.static_loss is not None
        return self.static_loss.detach().clone()  # the next replay overwrites the graph's own

    def _step(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        loss = self.loss_fn(tuple(batch))  # type: ignore[arg-type]
        loss.backward()
        with warnings.catch_warnings():  # a capturable optimizer warns when stepped outside a graph: expected here
            warnings.filterwarnings("ignore", message=".*capturable=True.*")
            self.optimizer.step()
        return loss

    def _eager(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        # Once captured, the gradients are the graph's own tensors: zeroed in place, not replaced.
        self.optimizer.zero_grad(set_to_none=self.static_batch is None)
        return self._step(batch).detach()

    def _warm_up(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        if not self.capture:
            return self._eager(batch)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            loss = self._eager(batch)
        torch.cuda.current_stream().wait_stream(side)
        return loss

    def _record(self, batch: Sequence[torch.Tensor]) -> None:
        self.static_batch = [tensor.clone() for tensor in batch]
        if not self.capture:
            return
        self.optimizer.zero_grad(set_to_none=True)  # the backward in the graph allocates the gradients in its pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_loss = self._step(self.static_batch)

    def _replay(self) -> None:
        if self.graph is not None:
            self.graph.replay()
            return
        assert self.static_batch is not None
        self.optimizer.zero_grad(set_to_none=True)  # what the captured backward does: write, not add
        self.static_loss = self._step(self.static_batch)
