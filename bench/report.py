"""``make bench``: runs the benchmarks and writes their tables into docs/PERFORMANCE.md, with the commit and machine.

What it runs, each a process of its own, one after the other (every benchmark alternates its own
routes round by round, with one torch thread per route):

- ``python -m bench.mnist --model classifier|autoencoder --routes amal lightning hand --threads 1``:
  what amal adds to Lightning's bare loop and what that loop adds to a hand-written one;
- the same with ``--compile default --eager-hand``: amal and Lightning's loop with
  ``torch.compile`` on the CPU against the hand-written eager loop, and from how many epochs on
  compiling pays off (the first epoch, with the compilation, against the eager runs above);
- ``python -m bench.housing`` (amal, plain Lightning, its bare loop, by hand: full-batch descent, the
  epoch and the fixed cost of a fit);
- ``python -m bench.startup``: the commands that train nothing.

The section of docs/PERFORMANCE.md between :data:`BEGIN` and :data:`END` is replaced (added at the
end the first time). ``--quick`` runs fewer epochs and rounds (about 15 minutes on 2 cores instead
of 40). No test asserts a time.

    python -m bench.report [--quick] [--doc docs/PERFORMANCE.md]
"""

import argparse
import datetime
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import REPO, load_average, machine

BEGIN, END = "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->"
SETTINGS = {  # mnist epochs, mnist rounds, housing rounds, startup rounds
    "full": (5, 3, 5, 5),
    "quick": (3, 2, 3, 3),
}


def run(args: list[str], output: Path) -> str:
    """Runs ``python -m ARGS`` in the repository, which writes its table to ``output``; returns the table."""
    print("$ python -m " + " ".join(args), file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", *args], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return output.read_text().strip()


def row(table: str, route: str) -> list[str]:
    """The cells of ``route``'s row in a bench.mnist table."""
    line = next(line for line in table.splitlines() if line.startswith(f"| {route} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def break_even(eager: str, compiled: str, route: str) -> str:
    """From how many epochs a run of ``route`` takes less time compiled than eager, from the two tables."""
    seconds_eager, first_eager = float(row(eager, route)[1]), float(row(eager, route)[5])
    seconds_compiled, first_compiled = float(row(compiled, route)[1]), float(row(compiled, route)[5])
    extra = first_compiled - first_eager
    if seconds_compiled >= seconds_eager:
        return f"{route}: never (compiled {seconds_compiled:.3f} s an epoch, eager {seconds_eager:.3f} s)"
    epochs = 1 + max(extra, 0.0) / (seconds_eager - seconds_compiled)
    return (
        f"{route}: from {epochs:.0f} epochs on (first epoch {first_compiled:.1f} s compiled, {first_eager:.1f} s"
        f" eager; then {seconds_compiled:.3f} s against {seconds_eager:.3f} s an epoch)"
    )


def commit() -> str:
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes in the tree)" if dirty else "")


def measure(quick: bool, scratch: Path) -> list[str]:
    epochs, rounds, housing_rounds, startup_rounds = SETTINGS["quick" if quick else "full"]
    mnist = ["bench.mnist", f"--epochs={epochs}", f"--repeats={rounds}", "--threads=1"]
    lines = []
    eager: dict[str, str] = {}
    for model in ("classifier", "autoencoder"):
        out = scratch / f"{model}.md"
        command = [*mnist, f"--model={model}", "--routes", "amal", "lightning", "hand", "--output", str(out)]
        eager[model] = run(command, out)
        lines += [f"### MNIST {model}, eager", "", f"`python -m {' '.join(command[:-2])}`", "", eager[model], ""]
    for model in ("classifier", "autoencoder"):
        out = scratch / f"{model}-compiled.md"
        command = [*mnist, f"--model={model}", "--compile=default", "--eager-hand"]
        command += ["--routes", "amal", "lightning", "hand", "--output", str(out)]
        compiled = run(command, out)
        lines += [f"### MNIST {model}, `--model.compile default` against the eager hand-written loop", ""]
        lines += [f"`python -m {' '.join(command[:-2])}`", "", compiled, "", "Compiling pays off:", ""]
        lines += [f"- {break_even(eager[model], compiled, route)}" for route in ("amal", "lightning")] + [""]
    out = scratch / "housing.md"
    command = ["bench.housing", f"--repeats={housing_rounds}", "--output", str(out)]
    lines += ["### Housing, full-batch descent", "", f"`python -m {' '.join(command[:-2])}`", ""]
    lines += [run(command, out), ""]
    out = scratch / "startup.md"
    command = ["bench.startup", f"--rounds={startup_rounds}", "--markdown-out", str(out)]
    lines += ["### Start-up", "", f"`python -m {' '.join(command[:-2])}`", "", run(command, out)]
    return lines


def replace_section(document: Path, section: str) -> None:
    text = document.read_text() if document.exists() else ""
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        text = before + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Latest `make bench`\n\n" + block + "\n"
    document.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer epochs and rounds")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "PERFORMANCE.md")
    args = parser.parse_args(argv)
    measured, started, before = commit(), datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), load_average()
    with tempfile.TemporaryDirectory() as scratch:
        tables = measure(args.quick, Path(scratch))
    settings = "`--quick`" if args.quick else "the full settings"
    header = [
        f"Commit {measured}, {started} to {datetime.datetime.now().strftime('%H:%M')}, {settings}. Machine:"
        f" {machine()}; load average (1/5/15 min) {before} at the start, {load_average()} at the end.",
        "",
    ]
    replace_section(args.doc, "\n".join(header + tables))
    print(f"wrote the tables into {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
