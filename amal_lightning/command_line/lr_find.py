"""``amal lr-find --config X``: Lightning's learning-rate range test, its curve as a PNG and the option to use.

::

    amal lr-find --config configs/classifier.yaml --data.source sample
    # lr_find/classifier.png: the loss against the learning rate, the suggestion marked
    # suggested: --model.optimizer.init_args.lr 0.0012

Its own options (``--min_lr``, ``--max_lr``, ``--num_training``, ``-o``) may stand anywhere; every
other word is an ``amal fit`` option for the model and data. It changes no file but the PNG.
"""

import math
from pathlib import Path
from typing import Any, Optional

from jsonargparse import ArgumentParser
from jsonargparse.typing import PositiveFloat, PositiveInt
from matplotlib.figure import Figure

from amal_lightning.parse_errors import command_parser, parse, refuse
from amal_lightning.runs.folders import experiment_name
from amal_lightning.studies.figures.canvas import new_figure, save_png
from amal_lightning.words import given_values, gives, take_options

# What the figure's curves are, under it: the smoothed curve is not the loss, and the suggestion is a rule of thumb.
EXPLANATION = (
    "Smoothed: Lightning's moving average of the steps' losses (weight 0.98), corrected for its start one step late,\n"
    "so that it starts near half the first loss. Suggestion: where the smoothed loss falls fastest against the rate\n"
    "(its first 10 points and the last left out); the rate that trains best is usually at or somewhat below it."
)
OWN = ("--min_lr", "--max_lr", "--num_training", "-o", "--output")
FOLDER = Path("lr_find")


def build_parser() -> ArgumentParser:
    parser = command_parser(
        "amal lr-find",
        "Lightning's learning-rate range test on a config's model and data: a PNG of the loss against the rate, "
        "and the suggested --model.optimizer.init_args.lr. Other options are amal fit's.",
    )
    parser.add_argument("--min_lr", type=PositiveFloat, default=1e-8, help="the smallest rate tried")
    parser.add_argument("--max_lr", type=PositiveFloat, default=1.0, help="the largest rate tried")
    parser.add_argument("--num_training", type=PositiveInt, default=100, help="steps, one rate each")
    parser.add_argument("-o", "--output", type=Optional[Path], help="the PNG (default lr_find/<experiment>.png)")
    return parser


def draw(found: Any) -> Figure:
    """Each step's loss, Lightning's smoothed curve over them and its suggestion, with how it is chosen."""
    figure, axes = new_figure((7, 5))
    rates, smoothed, raw = found.learning_rates, found.losses, found.raw_losses
    steps = [(rate, loss) for rate, loss in zip(rates[: len(raw)], raw, strict=True) if math.isfinite(loss)]
    if steps:
        axes.plot([rate for rate, _ in steps], [loss for _, loss in steps], ".", color="0.55", markersize=3)
        axes.lines[-1].set_label("each step's loss")
    kept = [(rate, loss) for rate, loss in zip(rates, smoothed, strict=True) if math.isfinite(loss)]
    axes.plot([rate for rate, _ in kept], [loss for _, loss in kept], color="C0", label="smoothed (Lightning's)")
    if found.suggestion is not None:
        at = min(kept, key=lambda point: abs(math.log(point[0]) - math.log(found.suggestion)))
        axes.plot([at[0]], [at[1]], "o", color="C3", markersize=9, label=f"suggestion {found.suggestion:.3g}")
    if kept:  # the last steps' losses explode: the axis follows the smoothed curve, which the suggestion reads
        low, high = min(loss for _, loss in kept + steps), max(loss for _, loss in kept)
        axes.set_ylim(low - 0.05 * (high - low), high + 0.2 * (high - low))
    axes.set_xscale("log")
    axes.set_xlabel("learning rate (one training step each, growing exponentially)")
    axes.set_ylabel("training loss")
    axes.set_title(f"{found.model}: learning-rate range test")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", fontsize="small")
    figure.supxlabel(EXPLANATION, fontsize="x-small", color="0.3", horizontalalignment="left", x=0.01)
    return figure


def lr_find(argv: list[str]) -> int:
    """Runs ``amal lr-find ARGV``: the PNG, then the suggestion as an option (or why there is none)."""
    from amal_lightning.api.lr_find import find_learning_rate  # torch and Lightning: not for --help

    own, fit = take_options(argv, OWN)
    parser = build_parser()
    if gives(fit, ("-h", "--help")):
        parse(parser, ["--help"])
    args = parse(parser, own)
    if args.min_lr >= args.max_lr:
        refuse(parser, f"--min_lr {args.min_lr} must be smaller than --max_lr {args.max_lr}")
    configs = given_values(("--config", "-c"), fit)
    output = args.output or FOLDER / f"{experiment_name(configs, None)}.png"
    found = find_learning_rate(fit, args.min_lr, args.max_lr, args.num_training)
    if not found.learning_rates:
        print(f"{found.model}: the range test stopped before trying any rate")
        return 0
    save_png(draw(found), output)
    print(
        f"{output}: the loss against {len(found.learning_rates)} learning rates from {args.min_lr:g} to {args.max_lr:g}"
    )
    if found.suggestion is None:
        print("no suggestion: the loss never fell steadily over the range (try another --min_lr/--max_lr)")
    else:
        print(f"suggested: --model.optimizer.init_args.lr {found.suggestion:.3g}")
    return 0
