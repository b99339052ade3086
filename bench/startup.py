"""How long ``amal``'s commands take to start: each timed as a whole new process, wall-clock.

The commands that train nothing must answer at once (the project's issue: ``amal --help`` within
1.0 s, ``amal plot`` within 0.5 s more than importing matplotlib's Figure and Agg canvas and TensorBoard's
event reader, which drawing a study's figures needs anyway). This script runs, in alternating rounds (each round
runs every command once, starting one command later than the round before):

- ``amal --help``;
- ``amal plot --study startup`` on a tiny finished study (two 3-epoch housing fits) that the script
  makes once, untimed, in a temporary folder;
- ``amal submit --config configs/regression.yaml --time 01:00:00 --dry-run``;
- ``amal fit --config configs/regression.yaml`` up to one training step: the whole process with
  ``--trainer.max_steps 1 --test false``, so one step, one validation and the end-of-fit checkpoint
  are included;
- references: ``python -c "import torch"``, ``... "import lightning.pytorch"``, and
  ``... "from matplotlib.figure import Figure; from matplotlib.backends.backend_agg import
  FigureCanvasAgg; from tensorboard...event_accumulator import EventAccumulator"``.

Every child runs in the temporary folder with the interpreter running this script and the ``amal``
beside it. A first, untimed round fills the file cache. The table gives each command's median, min
and max seconds; for ``amal plot``, also the median over the rounds of its time minus that round's
matplotlib+TensorBoard reference. No test asserts a time.

    python -m bench.startup --rounds 5 [--markdown-out startup.md]
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AMAL = str(Path(PYTHON).parent / "amal")
CONFIG = str(REPO / "configs" / "regression.yaml")
# What drawing a PNG from event files needs, and all that `amal plot` should add to it: matplotlib's
# Figure and its Agg canvas (`import matplotlib` alone loads neither: 0.25 s of the 0.6 s here), and
# TensorBoard's event reader.
PLOT_IMPORTS = (
    "from matplotlib.figure import Figure; from matplotlib.backends.backend_agg import FigureCanvasAgg;"
    " from tensorboard.backend.event_processing.event_accumulator import EventAccumulator"
)
QUIET = ["--trainer.enable_progress_bar", "false"]
COMMANDS = {
    "amal --help": [AMAL, "--help"],
    "amal plot --study startup": [AMAL, "plot", "--study", "startup"],
    "amal submit --dry-run": [AMAL, "submit", "--config", CONFIG, "--time", "01:00:00", "--dry-run"],
    "amal fit, 1 step (+ validation, checkpoint)": [AMAL, "fit", "--config", CONFIG, "--trainer.max_steps", "1"]
    + ["--test", "false", *QUIET],
    "python -c 'import torch'": [PYTHON, "-c", "import torch"],
    "python -c 'import lightning.pytorch'": [PYTHON, "-c", "import lightning.pytorch"],
    "python -c 'from matplotlib.figure import Figure; ...EventAccumulator'": [PYTHON, "-c", PLOT_IMPORTS],
}
PLOT, PLOT_REFERENCE = (
    "amal plot --study startup",
    "python -c 'from matplotlib.figure import Figure; ...EventAccumulator'",
)


def run(command: list[str], workdir: Path) -> float:
    """Runs ``command`` in ``workdir`` and returns its wall-clock seconds; exits with its stderr if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(f"`{' '.join(command)}` failed with status {done.returncode}:\n{done.stderr[-3000:]}", file=sys.stderr)
        sys.exit(1)
    return seconds


def prepare_study(workdir: Path) -> None:
    """A finished two-variant study, ``studies/startup``, for ``amal plot --study startup`` to gather."""
    grid = ["--grid", "model.learning_rate=0.01,0.1", "--", "--trainer.max_epochs", "3", *QUIET]
    run([AMAL, "study", "--name", "startup", "--config", CONFIG, *grid], workdir)


def table(times: dict[str, list[float]]) -> list[str]:
    lines = ["| command | median (s) | min (s) | max (s) |", "| --- | ---: | ---: | ---: |"]
    for name, seconds in times.items():
        lines.append(f"| `{name}` | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {max(seconds):.2f} |")
    differences = [plot - ref for plot, ref in zip(times[PLOT], times[PLOT_REFERENCE], strict=True)]
    listed = ", ".join(f"{d:+.2f}" for d in differences)
    lines += [
        "",
        f"`amal plot --study startup` − matplotlib+TensorBoard-reader imports, median of the rounds' differences:"
        f" **{statistics.median(differences):+.2f} s** (rounds {listed}; target ≤ 0.5 s).",
    ]
    return lines


def commit() -> str:
    """The commit measured, read before the first run (other people may commit meanwhile)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def header(rounds: int, measured: str) -> list[str]:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return [
        f"Commit {measured}, {datetime.date.today().isoformat()}, {os.cpu_count()} CPUs"
        f" (load average {load}), Python {sys.version.split()[0]}; {rounds} alternating rounds after"
        " an untimed one, each command a new process, wall-clock seconds. The `amal fit` row includes"
        " one training step, one validation and the end-of-fit checkpoint.",
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds, each running every command once")
    parser.add_argument("--markdown-out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    measured = commit()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    names = list(COMMANDS)
    with tempfile.TemporaryDirectory(prefix="amal-startup-") as folder:
        workdir = Path(folder)
        print("preparing the study studies/startup ...", file=sys.stderr)
        prepare_study(workdir)
        for number in range(args.rounds + 1):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                seconds = run(COMMANDS[name], workdir)
                if number:  # round 0 only warms the file cache
                    times[name].append(seconds)
            print(f"round {number}/{args.rounds} done{' (untimed)' if not number else ''}", file=sys.stderr)
    text = "\n".join(header(args.rounds, measured) + table(times))
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
