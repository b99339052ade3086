"""TME3 Q4: how large the signal is at each layer of a deep network at initialization, for the three
families of ``configs/studies/tme3_highway.yaml``: plain ReLU layers with PyTorch's default ``Linear``
init, the same with He's, and Highway blocks.

Why the default init fails: ``nn.Linear`` draws w and b uniformly in ±1/√n (n = fan_in), so
Var(w) = 1/(3n). For y = W h + b, E[y²] = n·Var(w)·E[h²] + Var(b) = E[h²]/3 + 1/(3n); a ReLU keeps half of
a symmetric y's second moment, so each layer multiplies it by about 1/6, down to the biases' floor
m = m/6 + 1/(6n), m = 1/(5n), where the output no longer depends on the input. The part that does,
the variance across inputs, goes on falling by about 1/6 a layer. He's init (Var(w) = 2/n, zero
biases) multiplies E[h²] by 2·½ = 1; a Highway block mostly carries its input (T ≈ σ(b_T) = 0.12).

``python -m amal_lightning.tme3.signal_scale docs/figures/tme3_signal_scale.png`` draws the figure for
the bundled sample's first 1,000 digits (no training: a few seconds).
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from amal_lightning.png import write_png
from amal_lightning.tme3.classifier import Classifier
from amal_lightning.tme3.highway import HighwayClassifier, HighwayLayer

# The study's families, matched on parameters per layer: 71·71 + 71 = 5,112 against 2·(50·50 + 50) = 5,100.
FAMILIES = ("plain, PyTorch's default init", "plain, He init", "highway, b_T = -2")
PLAIN_WIDTH, HIGHWAY_WIDTH = 71, 50


@dataclass
class SignalScale:
    """Per layer (0: the first, 784 → width; k: the k-th plain layer or highway block after it)."""

    second_moment: torch.Tensor  # E[h²] over the inputs and the units
    input_variance: torch.Tensor  # the mean over the units of h's variance across the inputs


def build(family: str, depth: int) -> nn.Module:
    """A network of ``family`` (one of FAMILIES) with ``depth`` layers or blocks after the first, as the study's."""
    if family == FAMILIES[2]:
        return HighwayClassifier(hidden_dim=HIGHWAY_WIDTH, num_layers=depth, gate_bias=-2.0)
    init = "kaiming" if family == FAMILIES[1] else "default"
    return Classifier(hidden_dim=PLAIN_WIDTH, num_hidden_layers=depth + 1, init=init)


@torch.no_grad()
def signal_scale(model: nn.Module, images: torch.Tensor) -> SignalScale:
    """The scale of each hidden layer's output (after each ReLU or highway block) of ``model.net`` on
    ``images`` (flat, in [0, 1]), computed in float64 so that a variance of 1e-30 is still measured."""
    h = images.double().flatten(1)
    second_moments, variances = [], []
    for module in model.net:
        h = module.double()(h)
        if isinstance(module, (nn.ReLU, HighwayLayer)):
            second_moments.append(h.pow(2).mean())
            variances.append(h.var(0, unbiased=False).mean())
    return SignalScale(torch.stack(second_moments), torch.stack(variances))


def measure(depth: int, images: torch.Tensor, seeds: int = 3) -> dict[str, list[SignalScale]]:
    """Per family, the signal scale of ``seeds`` networks of ``depth``, each drawn with its own seed."""
    scales: dict[str, list[SignalScale]] = {}
    for family in FAMILIES:
        for seed in range(seeds):
            torch.manual_seed(seed)
            scales.setdefault(family, []).append(signal_scale(build(family, depth), images))
    return scales


def per_layer_factor(values: torch.Tensor, first: int, last: int) -> float:
    """The geometric mean of ``values[k + 1] / values[k]`` for k from ``first`` to ``last - 1``."""
    return (values[last] / values[first]).pow(1 / (last - first)).item()


def signal_figure(scales: dict[str, list[SignalScale]]) -> Figure:
    """Two panels, log axes: E[h²] and the variance across the digits, per layer, each seed a line; the
    default init's floor 1/(5n) on the first, its 1/6 a layer and float32's rounding on the second. The
    flat tail of the default init's variance, near 1e-35, is float64's own rounding."""
    figure = Figure(figsize=(11.0, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, 2, sharex=True)
    for panel, field in zip(panels, ("second_moment", "input_variance"), strict=True):
        for index, (family, runs) in enumerate(scales.items()):
            for seed, scale in enumerate(runs):
                values = getattr(scale, field).numpy()
                label = family if seed == 0 else None
                panel.plot(range(len(values)), values, color=f"C{index}", linewidth=1.0, alpha=0.8, label=label)
        panel.set_yscale("log")
    floor = 1 / (5 * PLAIN_WIDTH)
    panels[0].axhline(floor, color="0.4", linestyle=":", label="default init's floor 1/(5n), n = 71")
    variance = scales[FAMILIES[0]][0].input_variance
    sixth = [variance[0].item() * 6.0**-k for k in range(len(variance))]
    panels[1].plot(range(len(variance)), sixth, color="black", linestyle="--", linewidth=0.8, label="× 1/6 a layer")
    # below it, float32 arithmetic cannot tell the digits apart: differences under h's last bit
    resolution = (floor**0.5 * torch.finfo(torch.float32).eps / 2) ** 2
    panels[1].axhline(resolution, color="0.4", linestyle=":", label="float32 rounding of h at that floor")
    panels[1].set_ylim(max(min(sixth), 1e-40), None)
    for panel, title in zip(panels, ("second moment E[h²]", "variance across the digits"), strict=True):
        panel.set_xlabel("layer: 0 = the first (784 → width), k = k-th layer or block after it")
        panel.set_title(title, fontsize="medium")
    panels[0].set_ylabel("at initialization (computed in float64)")
    panels[0].set_ylim(1e-5, None)  # room below the curves for the legend
    panels[0].legend(fontsize="x-small", loc="lower left")
    panels[1].legend(fontsize="x-small", loc="lower left")
    depth = len(variance) - 1
    figure.suptitle(f"Signal scale at initialization by layer, depth {depth}, {len(scales[FAMILIES[0]])} seeds")
    return figure


def main(path: Path) -> None:
    """Draws the figure for the bundled sample's first 1,000 digits, depth 100, into ``path``."""
    from amal_lightning.data.mnist import bundled_sample

    images = bundled_sample()[0][:1000].flatten(1).double() / 255
    write_png(signal_figure(measure(100, images)), path, dpi=150)
    print(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("path", type=Path, nargs="?", default=Path("tme3_signal_scale.png"), help="the PNG to write")
    main(parser.parse_args().path)
