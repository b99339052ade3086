"""``amal study --jobs``: the wall time of a 12-variant housing study with one worker against two.

The project's target: on a 2-core machine with nothing else running, a housing study whose
``--jobs 1`` run takes at least 2 minutes runs with ``--jobs 2`` in at most 0.6 times that wall time
(median of 3 alternating rounds), with the same ``summary.csv`` values. Both run one thread per
variant (``--threads 1``), so that the results can be identical. Each round runs the study from
scratch in a new temporary folder, as a whole ``amal study`` process.

It also says what a study costs over its fits: per variant, the study's wall time (times the jobs,
for two workers share it) against the mean of its runs' own seconds (``seconds`` in ``summary.csv``:
each fit from its start to its end, the test after it included).

    python -m bench.study_jobs --rounds 3 [--epochs 400]
"""

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMING = ("seconds", "run")


def study_file(folder: Path, epochs: int) -> Path:
    path = folder / "jobs.yaml"
    path.write_text(
        f"name: jobs\nconfig: {REPO / 'configs' / 'regression_minibatch.yaml'}\n"
        f"common: {{trainer.max_epochs: {epochs}, trainer.enable_progress_bar: false}}\n"
        "grid:\n  model.optimizer.init_args.lr: [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]\n"
        "  data.batch_size: [8, 32]\n"
    )
    return path


def run(jobs: int, epochs: int) -> tuple[float, list[dict[str, str]], float]:
    """One ``amal study`` from scratch: its wall seconds, its summary's values, the sum of its runs' seconds."""
    with tempfile.TemporaryDirectory(prefix="amal-jobs-") as folder:
        study = study_file(Path(folder), epochs)
        command = [sys.executable, "-m", "amal_lightning", "study", str(study), "--jobs", str(jobs), "--threads", "1"]
        started = time.perf_counter()
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        with open(Path(folder) / "studies/jobs/summary.csv", newline="") as file:
            table = list(csv.DictReader(file))
    rows = [{k: v for k, v in row.items() if k not in TIMING and "time/" not in k} for row in table]
    return seconds, rows, sum(float(row["seconds"]) for row in table if row.get("seconds"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    fit_seconds: dict[int, list[float]] = {1: [], 2: []}
    summaries: dict[int, list] = {}
    for round_index in range(args.rounds):
        for jobs in (1, 2) if round_index % 2 == 0 else (2, 1):
            seconds, rows, fits = run(jobs, args.epochs)
            times[jobs].append(seconds)
            fit_seconds[jobs].append(fits)
            summaries.setdefault(jobs, rows)
            print(f"round {round_index + 1}: --jobs {jobs}: {seconds:.1f} s", flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"| --jobs 1 | {one:.1f} s | rounds {', '.join(f'{t:.1f}' for t in times[1])} |")
    print(f"| --jobs 2 | {two:.1f} s | rounds {', '.join(f'{t:.1f}' for t in times[2])} |")
    variants = len(summaries[1])
    for jobs, wall in ((1, one), (2, two)):
        per_fit = statistics.median(fit_seconds[jobs]) / variants
        print(
            f"--jobs {jobs}: {wall * jobs / variants:.2f} s of a worker per variant, its fit {per_fit:.2f} s:"
            f" the study adds {wall * jobs / variants - per_fit:.2f} s per variant"
        )
    same = summaries[1] == summaries[2]
    print(f"jobs 2 / jobs 1 = {two / one:.3f} (median of {args.rounds}); same summary values: {same}")


if __name__ == "__main__":
    main()
