"""``amal plot``: PNG figures of runs' curves from their TensorBoard files, or a study's summary and figures.

The runs' figure is the ``curves`` kind of a study's figures (:mod:`amal_lightning.studies.figures.registry`),
its options given by the command line. Imports matplotlib and TensorBoard's event reader, never torch or
Lightning.
"""

from pathlib import Path
from typing import Literal, Optional

from jsonargparse import ArgumentParser

from amal_lightning.parse_errors import command_parser, parse, refuse
from amal_lightning.runs.events import X_AXES, read_run
from amal_lightning.runs.folders import LOG_DIR
from amal_lightning.runs.outcome import diverged_record
from amal_lightning.studies.figures.canvas import save_png
from amal_lightning.studies.figures.curves import Y_SCALES
from amal_lightning.studies.figures.options import Page
from amal_lightning.studies.figures.plot import PlottedRun, checkpoint_folder, run_label
from amal_lightning.studies.figures.provenance import footer
from amal_lightning.studies.figures.registry import KINDS
from amal_lightning.studies.gathering import gather_study


def build_parser() -> ArgumentParser:
    parser = command_parser(
        "amal plot",
        "Draw runs' curves from their TensorBoard event files into a PNG file, "
        "or gather a study's summary and figures (--study).",
        f"Example: amal plot {LOG_DIR}/regression/version_0 {LOG_DIR}/tanh_mlp/version_0 "
        "--metric train/loss --metric test/loss -o losses.png",
    )
    add = parser.add_argument
    add("runs", nargs="*", type=Path, help="run folders, logs/<experiment>/<run>")
    add("--metric", action="append", type=str, default=[], help="a logged metric, e.g. train/loss (repeatable)")
    add("--x", type=Literal[X_AXES], default="epoch", help="horizontal axis (train_seconds: inside training steps)")
    add(
        "--y",
        type=Literal[Y_SCALES],
        default="auto",
        help="vertical axis: auto (log when the values span two decades), linear, log, or gap (minus reference/METRIC)",
    )
    add("--references", type=bool, default=False, help="draw each metric's reference/METRIC line")
    add("-o", "--output", type=Optional[Path], help="the PNG file to write")
    add("--title", type=str, default="", help="the figure's title")
    add("--ylabel", type=str, default="", help="the vertical axis' label, with its unit")
    add("--label", action="append", type=str, default=[], help="legend label of each run, in order")
    add("--checkpoint_dir", type=Path, default=Path("checkpoints"), help="where diverged runs are marked")
    add("--study", type=Optional[str], help="gather studies/STUDY/: summary.csv and figures, training nothing")
    return parser


def plot(argv: list[str]) -> None:
    """Runs ``amal plot ARGV``; raises AmalError on bad input."""
    parser = build_parser()
    args = parse(parser, argv)
    if args.study is not None:
        if args.runs or args.metric or args.output:
            refuse(parser, "--study takes no run folders, --metric or -o (the study file says what to draw)")
        gather_study(args.study)
        return
    if not args.runs:
        refuse(parser, "give run folders (logs/<experiment>/<run>) or --study NAME")
    if not args.metric:
        refuse(parser, "give at least one --metric, e.g. --metric train/loss")
    if args.output is None or args.output.suffix.lower() != ".png":
        refuse(parser, "give the output file with -o FILE.png")
    if args.label and len(args.label) != len(args.runs):
        refuse(parser, f"{len(args.label)} --label for {len(args.runs)} runs: give one per run or none")
    labels = args.label or [run_label(path) for path in args.runs]
    runs = []
    for label, path in zip(labels, args.runs, strict=True):
        record = diverged_record(checkpoint_folder(path, args.checkpoint_dir))
        epoch = None if record is None else record.get("epoch")
        runs.append(PlottedRun(label, read_run(path), record is not None, epoch))
    curves = KINDS["curves"]
    options = {"metrics": args.metric, "x": args.x, "y": args.y, "references": args.references}
    spec = curves.options.model_validate({**options, "title": args.title, "ylabel": args.ylabel})
    figure = curves.draw(spec, Page(tuple(runs), args.x, footer=footer(run.log for run in runs)))
    save_png(figure, args.output)
    print(f"{args.output}: {', '.join(args.metric)} of {len(runs)} run(s) against {args.x}")
