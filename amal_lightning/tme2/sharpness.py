"""The sharpness of a trained network: the largest eigenvalue of its training loss's Hessian, against 2/ε.

Plain descent at step ε is stable along a direction of curvature λ only while λ < 2/ε (on a quadratic,
:mod:`amal_lightning.tme2.theory`). A network's Hessian changes as it trains; measuring its largest
eigenvalue at a checkpoint says whether SGD runs at that edge (λ_max ≈ 2/ε, where the loss rises for a
few steps and recovers: the "edge of stability" of Cohen et al., 2021) or well inside it. Power
iteration on Hessian-vector products (double backpropagation, :func:`torch.autograd.functional.hvp`)
over the whole training split: the Hessian itself (1,501² numbers for the tanh network) is never formed.

``python -m amal_lightning.tme2.sharpness CHECKPOINT [SPLIT_SEED]`` prints it for a TanhMLP checkpoint.
"""

import argparse
from pathlib import Path
from typing import Optional

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

Tensor = torch.Tensor


def top_hessian_eigenvalue(model: nn.Module, x: Tensor, y: Tensor, iterations: int = 100, seed: int = 0) -> float:
    """The eigenvalue of largest magnitude of the Hessian of ``model``'s mean squared error on (x, y)."""
    parameters = {name: value.detach() for name, value in model.named_parameters()}
    names = list(parameters)

    def loss(*values: Tensor) -> Tensor:
        return F.mse_loss(functional_call(model, dict(zip(names, values, strict=True)), (x,)), y)

    generator = torch.Generator().manual_seed(seed)
    vector = [torch.randn(value.shape, generator=generator, dtype=value.dtype) for value in parameters.values()]
    value = 0.0
    for _ in range(iterations):
        norm = torch.sqrt(sum((part * part).sum() for part in vector))
        vector = [part / norm for part in vector]
        _, product = torch.autograd.functional.hvp(loss, tuple(parameters.values()), tuple(vector))
        value = sum((h * v).sum() for h, v in zip(product, vector, strict=True)).item()  # Rayleigh quotient
        vector = list(product)
    return value


def main(path: Path, split_seed: Optional[int] = None) -> None:
    """Prints the sharpness of a TanhMLP checkpoint on its housing split's training rows."""
    from amal_lightning.data import HousingDataModule
    from amal_lightning.tme2.tanh_mlp import TanhMLP

    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    model = TanhMLP(**{k: v for k, v in checkpoint["hyper_parameters"].items() if k in ("input_dim", "hidden_dim")})
    model.load_state_dict(checkpoint["state_dict"])
    data = HousingDataModule(split_seed=split_seed)
    data.setup("fit")
    print(f"{path} (epoch {checkpoint['epoch']}): λ_max {top_hessian_eigenvalue(model, *data.train_set.tensors):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("checkpoint", type=Path, help="a TanhMLP checkpoint")
    parser.add_argument("split_seed", type=int, nargs="?", default=None, help="its housing split's seed")
    arguments = parser.parse_args()
    main(arguments.checkpoint, arguments.split_seed)
