"""CPU jobs: ``--gpus-per-node 0`` writes a job without GPUs, on every command that submits and in a profile.

The scripts are read as text (dry runs, in this process); the real SLURM runs them in ``test_slurm_real.py``.
"""

import subprocess
import sys

import pytest

from amal_lightning.command_line.main import main
from tests.helpers import CONFIGS
from tests.test_study_jobs import search_study, write_study

CPU = ("--gpus-per-node", "0")


def script_of(capsys, *argv: str) -> str:
    capsys.readouterr()
    main(list(argv))
    return capsys.readouterr().out


def sbatch_lines(script: str) -> list[str]:
    return [line[len("#SBATCH ") :] for line in script.splitlines() if line.startswith("#SBATCH ")]


def gpu_lines(script: str) -> list[str]:
    return [line for line in sbatch_lines(script) if line.startswith(("--gpu", "--gres", "--mem-per-gpu"))]


def srun_line(script: str) -> str:
    (line,) = [line for line in script.splitlines() if line.startswith("srun ")]
    return line


def submit(capsys, *cluster: str, fit: tuple[str, ...] = ()) -> str:
    config = str(CONFIGS / "regression.yaml")
    return script_of(capsys, "submit", "--config", config, "--time", "00:10:00", *cluster, "--dry-run", "--", *fit)


def test_a_cpu_job_asks_for_no_gpu_and_trains_on_the_cpu(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = submit(capsys, *CPU, fit=("--trainer.max_epochs", "100"))
    lines = sbatch_lines(script)
    assert gpu_lines(script) == [], lines
    assert "--ntasks-per-node=1" in lines and "--nodes=1" in lines
    srun = srun_line(script)
    assert "--trainer.accelerator cpu --trainer.strategy auto --trainer.num_nodes 1 --trainer.devices 1" in srun
    assert srun.endswith("--trainer.max_epochs 100")


def test_a_cpu_job_of_several_tasks_runs_ddp_over_them_with_their_cores(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = submit(capsys, *CPU, "--ntasks-per-node", "2", "--cpus-per-task", "4", "--nodes", "3")
    lines = sbatch_lines(script)
    assert {"--ntasks-per-node=2", "--cpus-per-task=4", "--nodes=3"} <= set(lines)
    assert gpu_lines(script) == []
    srun = srun_line(script)
    assert "--trainer.accelerator cpu --trainer.strategy ddp --trainer.num_nodes 3 --trainer.devices 2" in srun


def test_the_default_stays_one_gpu(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = submit(capsys)
    assert {"--gpus-per-node=1", "--ntasks-per-node=1"} <= set(sbatch_lines(script))
    assert "--trainer.accelerator gpu --trainer.strategy ddp --trainer.num_nodes 1 --trainer.devices 1" in (
        srun_line(script)
    )


def test_a_profile_can_ask_for_cpu_jobs_and_the_command_line_for_gpus(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cpu.yaml").write_text("partition: cpu\ngpus-per-node: 0\nntasks_per_node: 2\n")
    script = submit(capsys, "--profile", "cpu.yaml")
    assert {"--partition=cpu", "--ntasks-per-node=2"} <= set(sbatch_lines(script))
    assert "--trainer.accelerator cpu" in srun_line(script)
    # the command line wins: GPUs again, one task each (the profile's CPU tasks cannot stand with them)
    script = submit(capsys, "--profile", "cpu.yaml", "--gpus-per-node", "2", "--ntasks-per-node", "2")
    assert {"--gpus-per-node=2", "--ntasks-per-node=2"} <= set(sbatch_lines(script))
    assert "--trainer.accelerator gpu" in srun_line(script)


def test_a_study_array_and_a_search_array_run_on_cpus(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cluster = ["--submit", "--time", "01:00:00", *CPU, "--dry-run"]
    grid = script_of(capsys, "study", str(write_study(tmp_path, 1)), *cluster)
    search = script_of(capsys, "study", str(search_study(tmp_path)), *cluster, "--workers", "2")
    for script in (grid, search):
        assert gpu_lines(script) == []
        assert "--trainer.accelerator cpu --trainer.strategy auto" in srun_line(script)
    assert not (tmp_path / "studies").exists()


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--gres", "gpu:2", *CPU], "--gres gpu:2 asks for 2 GPUs per node, --gpus-per-node 0"),
        (["--gres", "gpu", *CPU], "--gres gpu asks for GPUs, --gpus-per-node 0 for none"),
        (["--mem-per-gpu", "8G", *CPU], "--mem-per-gpu 8G with --gpus-per-node 0: a CPU job has no GPU"),
        (["--ntasks-per-node", "3", "--gpus-per-node", "2"], "amal starts one task per GPU"),
        (["--ntasks-per-node", "0", *CPU], "--ntasks-per-node '0': not a positive integer"),
        (["--sbatch", "ntasks-per-node=2"], "amal writes --ntasks-per-node itself (use --ntasks-per-node"),
    ],
)
def test_cpu_options_that_cannot_stand_together_are_one_usage_line_without_torch(tmp_path, given, message):
    argv = ["submit", "--config", str(CONFIGS / "regression.yaml"), "--time", "01:00:00", *given, "--dry-run"]
    script = f"""if True:
        import sys
        from amal_lightning.command_line.main import main
        try:
            main({argv!r})
        finally:
            print("torch" in sys.modules, file=sys.stderr)
    """
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    error, _hint, torch_loaded = result.stderr.splitlines()
    assert error.startswith("amal: error: --") and message in error, error
    assert torch_loaded == "False"


def test_a_dry_run_of_a_config_alone_imports_no_torch(tmp_path):
    """It answers at once; a config that is not YAML is still one line."""
    config = str(CONFIGS / "regression.yaml")
    (tmp_path / "bad.yaml").write_text("trainer: [\n")
    script = f"""if True:
        import sys
        from amal_lightning.command_line.main import main
        main(["submit", "--config", {config!r}, "--time", "00:10:00", "--dry-run"])
        print("torch" in sys.modules, file=sys.stderr)
        main(["submit", "--config", "bad.yaml", "--time", "00:10:00", "--dry-run"])
    """
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout.startswith("#!/bin/bash\n") and "srun " in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == "False" and result.returncode == 1
    assert lines[1].startswith("amal: error: --config bad.yaml: cannot read it as YAML"), lines
