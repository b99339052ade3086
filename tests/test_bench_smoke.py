"""The benchmark runs end to end in its smoke mode, so it cannot rot (no timing is asserted).

In smoke mode each benchmark runs all its routes in one process: here, the test's (its ``main``, as
``python -m bench.NAME --smoke`` calls it), which has imported torch and Lightning already. They
train: they are marked slow.
"""

import pytest
import torch

from tests.helpers import REPO


@pytest.fixture
def bench_here(monkeypatch, tmp_path, capsys):
    """Runs ``bench.NAME``'s ``main(ARGV)`` in this process, from the project folder; returns what it printed.
    Torch's thread count is put back as it was (a benchmark may set it)."""
    import importlib

    threads = torch.get_num_threads()
    monkeypatch.chdir(REPO)

    def run(name: str, *argv: str) -> str:
        capsys.readouterr()
        try:
            importlib.import_module(f"bench.{name}").main(list(argv))
        finally:
            torch.set_num_threads(threads)
        return capsys.readouterr().out

    return run


@pytest.mark.slow
def test_mnist_benchmark_smoke_mode_prints_its_table(bench_here, tmp_path):
    output = tmp_path / "table.md"
    bench_here("mnist", "--smoke", "--output", str(output))
    table = output.read_text()
    assert "| route | s/epoch (median) |" in table
    for route in ("amal", "lightning", "hand", "torchvision"):
        assert f"| {route} |" in table
    assert "| hand | " in table and " | 1.00 | " in table
    # what amal adds over Lightning's bare loop, and what that loop adds over a hand-written one
    for pair in ("amal / lightning", "lightning / hand"):
        line = next(line for line in table.splitlines() if line.startswith(f"- {pair}: "))
        assert "wall-clock" in line and "CPU" in line


@pytest.mark.slow
def test_housing_benchmark_smoke_mode_prints_its_table(bench_here):
    stdout = bench_here("housing", "--smoke")
    assert "| route | ms/epoch | CPU ms/epoch | fixed cost (s) |" in stdout
    # api.fit, Lightning as a user writes it, with self.log alone, its bare loop, by hand
    for route in ("amal", "plain", "minimal", "bare", "hand"):
        assert f"| {route} |" in stdout
    for pair in ("amal / bare", "amal / plain", "amal / minimal", "minimal / bare", "plain / bare", "bare / hand"):
        line = next(line for line in stdout.splitlines() if line.startswith(f"- epoch, {pair}: "))
        assert line.count("rounds") == 2  # wall-clock and CPU
    assert "- fixed cost, amal − plain (CPU): " in stdout


@pytest.mark.slow
def test_self_log_benchmark_prints_each_way_against_none(bench_here):
    stdout = bench_here("self_log", "--epochs", "25", "--calls", "1", "--rounds", "1", "--smoke")
    rows = [line for line in stdout.splitlines() if line.startswith("| ") and line[2:5] not in ("way", "---")]
    assert [row.split(" | ")[0] for row in rows] == ["| none", "| metric", "| tensor"]
    assert all("a call |" in row for row in rows)


def test_bench_report_rewrites_only_its_section_and_finds_when_compiling_pays_off(tmp_path):
    from bench.report import BEGIN, END, break_even, replace_section

    document = tmp_path / "PERFORMANCE.md"
    document.write_text("# Performance\n\nkept\n")
    replace_section(document, "first tables")
    replace_section(document, "second tables")
    text = document.read_text()
    assert text.startswith("# Performance\n\nkept\n") and text.count(BEGIN) == text.count(END) == 1
    assert "second tables" in text and "first tables" not in text

    def table(seconds: float, first: float) -> str:
        return f"| amal | {seconds} | 1.00 | 1.00 | {seconds} | {first} | 900 | n/a |"

    assert "from 11 epochs on" in break_even(table(2.0, 3.0), table(1.0, 13.0), "amal")
    assert "never" in break_even(table(1.0, 3.0), table(1.5, 13.0), "amal")


@pytest.mark.slow
def test_parity_benchmark_smoke_mode_prints_both_routes_metrics(bench_here):
    stdout = bench_here("parity", "--smoke")
    assert "| route | test/acc | test/loss |" in stdout
    rows = [line for line in stdout.splitlines() if line.startswith(("| amal |", "| plain loop |"))]
    assert len(rows) == 2
    for row in rows:  # one epoch on the sample already classifies far above chance (0.1) on both routes
        accuracy = float(row.split("|")[2])
        assert accuracy > 0.5


def test_benchmarks_share_helpers_only_through_bench_common():
    """A benchmark imports bench.common and its own parts (bench/mnist.py: mnist_routes.py), no other benchmark."""
    for module in (REPO / "bench").glob("*.py"):
        imports = [line for line in module.read_text().splitlines() if line.startswith(("from bench", "import bench"))]
        own = ("from bench.common import", f"from bench.{module.stem}_")
        assert all(line.startswith(own) for line in imports), (module.name, imports)
