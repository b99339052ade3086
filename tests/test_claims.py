"""Claims: processes that train one study's variants share the work, and take over the claims of the dead."""

import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amal_lightning.runs import claims
from amal_lightning.runs.claims import live_claims, try_claim
from tests.helpers import AMAL, CONFIGS, REPO


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_claim(folder: Path, name: str, **holder: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.claim"
    path.write_text(json.dumps(holder))
    return path


def test_a_claim_is_exclusive_until_released(tmp_path):
    first = try_claim(tmp_path, "variant")
    assert first is not None and try_claim(tmp_path, "variant") is None
    holder = json.loads(first.path.read_text())
    assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
    assert [found["claim"] for found in live_claims(tmp_path)] == ["variant"]
    first.release()
    assert not first.path.exists() and live_claims(tmp_path) == []
    with try_claim(tmp_path, "variant") as again:
        assert again.path.exists()
    assert not again.path.exists()


def test_a_dead_holder_on_this_host_is_stale_and_taken_over(tmp_path):
    write_claim(tmp_path, "variant", host=socket.gethostname(), pid=dead_pid())
    assert live_claims(tmp_path) == []
    taken = try_claim(tmp_path, "variant")
    assert taken is not None and json.loads(taken.path.read_text())["pid"] == os.getpid()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["variant.claim"]  # nothing left aside
    taken.release()


def test_a_holder_on_another_host_is_judged_by_its_heartbeat(tmp_path):
    path = write_claim(tmp_path, "variant", host="node-17", pid=os.getpid())
    assert try_claim(tmp_path, "variant") is None  # fresh heartbeat: alive, whatever its pid here
    old = time.time() - claims.STALE_AFTER_S - 1
    os.utime(path, (old, old))
    taken = try_claim(tmp_path, "variant")
    assert taken is not None
    taken.release()


def test_the_holder_touches_its_claim_while_it_works(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "HEARTBEAT_S", 0.05)
    claim = try_claim(tmp_path, "variant")
    old = time.time() - 100
    os.utime(claim.path, (old, old))
    time.sleep(0.3)
    assert time.time() - claim.path.stat().st_mtime < 50
    claim.release()


@pytest.mark.slow
def test_two_study_processes_started_together_share_the_variants(tmp_path):
    study = tmp_path / "pair.yaml"
    study.write_text(
        f"name: pair\nconfig: {CONFIGS / 'regression.yaml'}\n"
        "common: {trainer.max_epochs: 20, trainer.enable_progress_bar: false}\n"
        "variants:\n  a: {model.learning_rate: 0.05}\n  b: {model.learning_rate: 0.1}\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(REPO)}  # imports tests.helpers
    command = [*AMAL, "study", str(study), "--", "--trainer.callbacks+=tests.helpers.TrainTogether"]
    processes = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    runs = sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "logs").glob("*/*"))
    assert runs == ["logs/pair.a/version_0", "logs/pair.b/version_0"], outputs  # each variant trained once
    with open(tmp_path / "studies/pair/summary.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["variant"], row["status"], row["epochs"]) for row in rows] == [
        ("a", "finished", "20"),
        ("b", "finished", "20"),
    ], outputs
    assert not list((tmp_path / "studies/pair/claims").glob("*.claim"))
    trained = sorted([ln.split(" ...")[0] for ln in out.splitlines() if "... finished in" in ln] for out in outputs)
    assert trained == [["[1/2] a"], ["[2/2] b"]], outputs  # one each: the other was being trained


def test_a_study_is_gathered_by_one_process_at_a_time(tmp_path, monkeypatch, capsys):
    """Two processes that end at once (two array tasks), or `amal plot --study` during a study's own
    gathering: the second waits for the first's files, then gathers from every record, not beside it."""
    from amal_lightning.command_line.main import main
    from amal_lightning.studies.gathering import GATHERING

    monkeypatch.chdir(tmp_path)
    study = tmp_path / "one.yaml"
    study.write_text(
        f"name: one\nconfig: {CONFIGS / 'regression.yaml'}\n"
        "common: {trainer.max_epochs: 2, trainer.enable_progress_bar: false}\nvariants:\n  a: {}\n"
    )
    main(["study", str(study)])
    summary = tmp_path / "studies/one/summary.csv"
    summary.unlink()
    holding = (  # another process gathering it for 2 s
        "import sys, time; from pathlib import Path; from amal_lightning.runs.claims import try_claim\n"
        f"with try_claim(Path(sys.argv[1]), {GATHERING!r}):\n    print('held', flush=True); time.sleep(2)\n"
        "print(time.time())"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.Popen([sys.executable, "-c", holding, "studies/one"], env=env, stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "held"
    capsys.readouterr()
    main(["study", str(study)])  # its variant ended before: it only gathers, once the other is done
    released = float(other.communicate(timeout=60)[0])
    assert "one: another process is gathering it; waiting for it" in capsys.readouterr().out
    assert other.returncode == 0 and summary.stat().st_mtime >= released  # written after the other's claim
    assert not (tmp_path / "studies/one/gathering.claim").exists()
    assert [path.name for path in (tmp_path / "logs/one.a").iterdir()] == ["version_0"]  # nothing trained twice
