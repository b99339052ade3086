"""SLURM without a cluster: the sbatch script, fake sbatch/scontrol, a full preemption cycle, DDP on CPU.

``amal`` runs in this process, but in the end-to-end tests (marked slow: a real SIGUSR1, DDP's
processes, a requeued job) and where no torch must be imported: there it runs as a subprocess.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from amal_lightning.callbacks.requeue import CheckpointAndRequeue
from amal_lightning.cluster.sbatch import amal_command
from amal_lightning.command_line.main import main
from tests.helpers import AMAL, CONFIGS, REPO, amal_status, inside, run_amal, write_synthetic_mnist

FAKE_COMMAND = """#!/bin/sh
echo "$0 $*" >> {record}
{extra}
"""


def fake_commands(folder: Path, record: Path, **extra: str) -> dict[str, str]:
    """Puts executables named after ``extra``'s keys on PATH; each appends its arguments to ``record``."""
    folder.mkdir(exist_ok=True)
    for name, body in extra.items():
        path = folder / name
        path.write_text(FAKE_COMMAND.format(record=record, extra=body))
        path.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def directives(script: str) -> dict[str, str]:
    return dict(
        line[len("#SBATCH --") :].split("=", 1)
        for line in script.splitlines()
        if line.startswith("#SBATCH --") and "=" in line
    )


@pytest.mark.parametrize(("nodes", "gpus"), [(1, 1), (1, 4), (2, 8), (3, 2)])
def test_dry_run_script_agrees_with_itself(tmp_path, monkeypatch, capsys, nodes, gpus):
    monkeypatch.chdir(tmp_path)
    script = dry_run(
        capsys,
        "--config",
        str(CONFIGS / "classifier.yaml"),
        "--nodes",
        str(nodes),
        "--gpus-per-node",
        str(gpus),
        "--time",
        "02:00:00",
        "--partition",
        "gpu",
        "--account",
        "lab",
        "--setup",
        "module load cuda",
        "--",
        "--trainer.max_epochs",
        "50",
    )
    settings = directives(script)
    assert settings["nodes"] == str(nodes)
    assert settings["ntasks-per-node"] == str(gpus) == settings["gpus-per-node"]
    assert settings["signal"] == "SIGUSR1@90" and settings["time"] == "02:00:00"
    assert settings["partition"] == "gpu" and settings["account"] == "lab"
    assert settings["job-name"] == "classifier"
    assert "#SBATCH --requeue" in script.splitlines()
    assert settings["output"].startswith("slurm/") and settings["error"].startswith("slurm/")
    srun = next(line for line in script.splitlines() if line.startswith("srun "))
    assert f"--trainer.num_nodes {nodes}" in srun and f"--trainer.devices {gpus}" in srun
    assert "--trainer.strategy ddp" in srun and srun.endswith("--trainer.max_epochs 50")
    assert "--ckpt_path" not in srun  # Lightning resumes from the SLURM checkpoint only without it
    assert script.index("module load cuda") < script.index("srun ")
    assert not (tmp_path / "slurm").exists()


def test_submit_writes_the_script_and_calls_sbatch(tmp_path, monkeypatch, capsys):
    record = tmp_path / "calls.txt"
    monkeypatch.chdir(tmp_path)
    env = fake_commands(tmp_path / "bin", record, sbatch='echo "Submitted batch job 1234"')
    monkeypatch.setenv("PATH", env["PATH"])
    setup = tmp_path / "setup.sh"
    setup.write_text("module load python\nsource .venv/bin/activate\n")
    status = amal_status(
        "submit",
        "--config",
        str(CONFIGS / "autoencoder.yaml"),
        "--gpus-per-node",
        "2",
        "--time",
        "1-00:00:00",
        "--partition",
        "a100",
        "--setup-file",
        str(setup),
        "--signal-lead",
        "120",
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    scripts = list((tmp_path / "slurm").glob("autoencoder-*.sbatch"))
    assert len(scripts) == 1
    assert record.read_text().split() == [str(tmp_path / "bin" / "sbatch"), str(Path("slurm") / scripts[0].name)]
    assert "Submitted batch job 1234" in captured.out
    script = scripts[0].read_text()
    assert directives(script)["signal"] == "SIGUSR1@120"
    assert "source .venv/bin/activate" in script


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus-per-node", "-1"], "amal: error: --gpus-per-node '-1': not an integer, 0 or more\n"),
        (["--time", "2h"], "amal: error: --time '2h': not a time limit, HH:MM:SS or D-HH:MM:SS\n"),
        (["--partition", "gpu --uid=0"], "amal: error: --partition 'gpu --uid=0': not a SLURM name"),
        (["--setup-fil", "x"], "--setup-fil is not an option (did you mean --setup-file?)"),
        (["--config", "missing.yaml"], "--config missing.yaml: no such file"),
    ],
)
def test_bad_submit_arguments_write_nothing(tmp_path, monkeypatch, capsys, args, message):
    defaults = {"--config": str(CONFIGS / "classifier.yaml"), "--time": "01:00:00", "--partition": "gpu"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [item for key, value in {**defaults, **given}.items() for item in (key, value)]
    record = tmp_path / "calls.txt"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", fake_commands(tmp_path / "bin", record, sbatch="exit 0")["PATH"])
    code, error = submit_refusal(capsys, *argv)  # checks that it wrote nothing and called no sbatch
    assert code != 0
    assert message in error and "Traceback" not in error
    assert not (tmp_path / "slurm").exists() and not record.exists()


@pytest.mark.parametrize(
    "given",
    [
        ["--gpus-per-node", "-1"],
        ["--time=2h"],
        ["--bogus"],
        [],
        ["--mem", "8G", "--mem-per-gpu=2G"],
        ["--gres", "gpu:v100:2", "--gpus-per-node", "4"],
        ["--sbatch", "mail type=END"],
    ],
)
def test_bad_submit_options_are_one_usage_line_without_torch(tmp_path, monkeypatch, capsys, given):
    """A refused option of `amal submit` is one line and a hint, exit 2, and imports no torch to say so."""
    monkeypatch.chdir(tmp_path)
    script = f"""if True:
        import sys
        from amal_lightning.command_line.main import main
        try:
            main({["submit", "--config", "c.yaml", *(["--time", "01:00:00"] if given else []), *given]!r})
        finally:
            print("torch" in sys.modules, file=sys.stderr)
    """
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    error, hint, torch_loaded = result.stderr.splitlines()
    assert error.startswith("amal: error: --") and hint == "  (all options: amal submit --help)"
    assert torch_loaded == "False" and result.stdout == ""


def test_a_mistyped_fit_option_after_the_separator_is_refused_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIGS / "regression.yaml")
    with pytest.raises(SystemExit) as exit_info:
        main(["submit", "--config", config, "--time", "01:00:00", "--dry-run", "--", "--trainer.max_epohcs", "5"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == "" and "Traceback" not in captured.err
    errors = [line for line in captured.err.splitlines() if line.startswith("amal: error:")]
    assert errors == ["amal: error: --trainer.max_epohcs is not an option (did you mean --trainer.max_epochs?)"]
    assert not (tmp_path / "slurm").exists()


def dry_run(capsys, *args: str) -> str:
    """The script that ``amal submit ARGS`` prints with ``--dry-run`` (before any ``--``), run in this process."""
    split = args.index("--") if "--" in args else len(args)
    capsys.readouterr()
    main(["submit", *args[:split], "--dry-run", *args[split:]])
    return capsys.readouterr().out


def test_submit_without_a_partition_leaves_it_to_the_cluster_and_runs_this_amal(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    script = dry_run(capsys, "--config", str(CONFIGS / "classifier.yaml"), "--time", "01:00:00")
    assert "partition" not in directives(script) and "--partition" not in script
    srun = shlex.split(next(line for line in script.splitlines() if line.startswith("srun ")))
    assert srun[1] == AMAL[0] and Path(srun[1]).is_absolute() and os.access(srun[1], os.X_OK)
    assert srun[2:4] == ["fit", "--config"]
    assert not (tmp_path / "slurm").exists()


def test_submit_without_an_amal_script_runs_this_python(tmp_path, monkeypatch):
    """``python -m amal_lightning`` in an environment without the console script, and none on PATH."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert shlex.split(amal_command()) == [str(tmp_path / "bin" / "python"), "-m", "amal_lightning"]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "amal").write_text("#!/bin/sh\n")
    assert amal_command() == str(tmp_path / "bin" / "amal")


def test_submit_example_of_the_readme_runs_as_written(monkeypatch, capsys):
    readme = (REPO / "README.md").read_text()
    command = re.search(r"^(?:\.venv/bin/)?amal submit .*?[^\\]$", readme, re.MULTILINE | re.DOTALL).group(0)
    args = shlex.split(command.replace("\\\n", " "))[2:]
    monkeypatch.chdir(REPO)
    script = dry_run(capsys, *args)
    assert "#SBATCH --gpus-per-node=4" in script and "module load cuda" in script
    assert re.search(r"^srun /\S+/amal fit --config configs/classifier.yaml .* --trainer.max_epochs 50$", script, re.M)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--partition", "gpu\nrm -rf ~"], "--partition: 'gpu\\nrm -rf ~' holds a line break"),
        (["--account", "lab\r"], "--account: 'lab\\r' holds a line break"),
        (["--setup", "module load cuda\nrm -rf ~"], "--setup: 'module load cuda\\nrm -rf ~' holds a line break"),
        (["--", "--trainer.max_epochs", "5\nrm -rf ~"], "an option for amal fit: '5\\nrm -rf ~' holds a line break"),
        (["--setup-file", "nul.sh"], "--setup-file nul.sh: 'module\\x00load' holds a line break or a NUL character"),
        (["--config", "a\nb.yaml"], "--config: 'a\\nb.yaml' holds a line break"),
    ],
)
def test_submit_refuses_a_value_that_would_break_the_script_in_one_line(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    Path("nul.sh").write_text("module\x00load\n")
    Path("a\nb.yaml").write_text((CONFIGS / "classifier.yaml").read_text())
    defaults = ["--config", str(CONFIGS / "classifier.yaml")] if args[0] != "--config" else []
    with pytest.raises(SystemExit) as exit_info:
        dry_run(capsys, *defaults, "--time", "01:00:00", *args)
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(f"amal: error: {message}")
    assert len(captured.err.splitlines()) == 1 and not (tmp_path / "slurm").exists()


SLURM_JOB = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "classifier",
    "SLURM_NTASKS": "1",
    "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_NNODES": "1",
    "SLURM_NODEID": "0",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODELIST": "localhost",
}
FIT = [
    "fit",
    "--config",
    str(CONFIGS / "classifier.yaml"),
    "--data.source=sample",
    "--trainer.max_epochs=4",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.enable_progress_bar=false",
]


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.mark.slow
def test_preempted_job_resumes_from_its_signal_checkpoint_to_the_same_result(workdir, monkeypatch, capsys, caplog):
    """The job is a process that gets a real SIGUSR1 and is killed; the straight and requeued runs run here."""
    straight = workdir / "straight"
    straight.mkdir()
    with inside(straight):
        assert amal_status(*FIT) == 0
    expected = torch.load(straight / "checkpoints/classifier/version_0/last.ckpt", weights_only=True)

    record = workdir / "scontrol.txt"
    env = {**fake_commands(workdir / "bin", record, scontrol="exit 0"), **SLURM_JOB}
    run_dir = workdir / "checkpoints" / "classifier" / "slurm-4242"
    job = subprocess.Popen(
        [*AMAL, *FIT],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: (run_dir / "last.ckpt").exists())  # a first epoch is done
    job.send_signal(signal.SIGUSR1)
    wait_for(lambda: record.exists() and (run_dir / "hpc_ckpt_1.ckpt").exists())
    assert record.read_text().split()[1:] == ["requeue", "4242"]
    os.killpg(job.pid, signal.SIGKILL)  # SLURM ends the job it requeued
    job.wait()
    preempted = torch.load(run_dir / "hpc_ckpt_1.ckpt", weights_only=True)
    assert preempted["global_step"] < 4 * 29, "the job finished before it was preempted"

    for name in ("PATH", *SLURM_JOB):  # the requeued job: the same job, started again
        monkeypatch.setenv(name, env[name])
    capsys.readouterr()
    caplog.clear()
    assert amal_status(*FIT) == 0
    captured = capsys.readouterr()
    restored = captured.err + captured.out + caplog.text
    assert re.search(r"Restoring states from the checkpoint path at .*hpc_ckpt_1\.ckpt", restored), restored[-3000:]
    resumed = torch.load(run_dir / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == expected["global_step"] == 4 * 29
    for name, value in expected["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], value, rtol=1e-6, atol=1e-7)


def test_last_picks_a_newer_signal_checkpoint(workdir, shrunk, capsys, caplog):
    """A signal checkpoint is a file of a run's folder: renaming a last.ckpt makes one, no signal needed."""
    run = workdir / "checkpoints" / "classifier" / "version_0"
    fit = [*FIT[:4], "--trainer.max_epochs=1", "--test=false", *shrunk]
    assert amal_status(*fit) == 0
    os.replace(run / "last.ckpt", run / "hpc_ckpt_1.ckpt")
    assert amal_status(*fit) == 0  # version_1: an older run's file is older
    os.utime(run / "hpc_ckpt_1.ckpt")  # now the newest state of the experiment
    capsys.readouterr()
    caplog.clear()
    status = amal_status(
        "test",
        "--config",
        str(CONFIGS / "classifier.yaml"),
        "--data.source=sample",
        "--ckpt_path",
        "last",
        *shrunk,
    )
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "hpc_ckpt_1.ckpt" in captured.err + captured.out + caplog.text  # Lightning logs what it restores


@pytest.mark.slow
def test_two_process_ddp_on_cpu_writes_one_run(tmp_path):
    run_amal(
        "fit",
        "--config",
        str(CONFIGS / "classifier.yaml"),
        "--data.source=sample",
        "--trainer.max_epochs=2",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        "--trainer.enable_progress_bar=false",
        cwd=tmp_path,
    )
    runs = list((tmp_path / "checkpoints" / "classifier").iterdir())
    assert [run.name for run in runs] == ["version_0"]
    assert sorted(path.name for path in runs[0].glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
    checkpoint = torch.load(runs[0] / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2 * 15  # 29 batches a epoch shared by 2 processes: 15 each
    assert [run.name for run in (tmp_path / "logs" / "classifier").iterdir()] == ["version_0"]
    assert len(list((tmp_path / "logs" / "classifier" / "version_0").glob("events.out.tfevents.*"))) == 1


def test_prepare_data_checks_the_files_a_config_needs(workdir, capsys):
    write_synthetic_mnist(workdir / "data", train=120, test=30)
    assert amal_status("prepare-data", "--config", str(CONFIGS / "classifier.yaml"), "--data.source=full") == 0
    assert "MNISTDataModule: data ready" in capsys.readouterr().out
    assert not (workdir / "checkpoints").exists() and not (workdir / "logs").exists()


def test_compute_nodes_never_download(workdir, monkeypatch, capsys):
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    status = amal_status("fit", "--config", str(CONFIGS / "classifier.yaml"), "--data.source=full")
    error = capsys.readouterr().err
    assert status == 1
    assert "downloads are off inside a SLURM job: run `amal prepare-data`" in error
    assert "Traceback" not in error


@pytest.mark.slow
def test_requeued_job_without_a_signal_checkpoint_goes_on_from_its_last_epoch(workdir, monkeypatch, capsys, caplog):
    """Preemption, a node failure or an admin requeue come with no SIGUSR1: last.ckpt is the state."""
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    first = [arg for arg in FIT if not arg.startswith("--trainer.max_epochs")]
    assert amal_status(*first, "--trainer.max_epochs=2") == 0
    capsys.readouterr()
    caplog.clear()
    assert amal_status(*first, "--trainer.max_epochs=3") == 0  # the job started again, with more epochs
    captured = capsys.readouterr()
    restored = captured.err + captured.out + caplog.text
    run_dir = workdir / "checkpoints/classifier/slurm-4242"
    assert re.search(r"Restoring states from the checkpoint path at .*slurm-4242/last\.ckpt", restored), restored
    assert sorted(p.name for p in run_dir.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
    assert torch.load(run_dir / "last.ckpt", weights_only=True)["global_step"] == 3 * 29


def test_bad_setup_file_and_compute_settings_get_one_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    binary = tmp_path / "setup.bin"
    binary.write_bytes(b"\xff\xfe\x00module load")
    with pytest.raises(SystemExit) as exit_info:
        dry_run(capsys, "--config", str(CONFIGS / "classifier.yaml"), "--time", "01:00:00", "--partition", "gpu",
                "--setup-file", str(binary))  # fmt: skip
    error = capsys.readouterr().err
    assert exit_info.value.code == 1 and "Traceback" not in error
    assert f"--setup-file {binary}: cannot read it as text" in error


def test_prepare_data_refuses_to_call_the_sample_ready(workdir, monkeypatch, capsys):
    for name, value in SLURM_JOB.items():  # a SLURM job: downloads are off, as where nothing can be downloaded
        monkeypatch.setenv(name, value)
    status = amal_status("prepare-data", "--config", str(CONFIGS / "autoencoder.yaml"))
    error = capsys.readouterr().err
    assert status == 1 and "Traceback" not in error
    assert "MNIST is not in data/MNIST/raw/" in error


@pytest.mark.slow
def test_two_process_ddp_skips_and_takes_the_same_checkpoints(tmp_path):
    """last.ckpt is skipped within a second of the previous one; saving is collective: the processes decide together."""
    command = [
        *AMAL,
        "fit",
        "--config",
        str(CONFIGS / "regression.yaml"),
        "--trainer.max_epochs=300",
        "--trainer.accelerator=cpu",
        "--trainer.devices=2",
        "--trainer.strategy=ddp",
        "--trainer.enable_progress_bar=false",
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "checkpoints/regression/version_0/last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 300


def submit_refusal(capsys, *args: str) -> tuple[int, str]:
    """``amal submit ARGS`` here, to be refused: its exit status and stderr, once checked that it wrote nothing."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["submit", *args])
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert not Path("slurm").exists() and not Path("calls.txt").exists()
    return exit_info.value.code, captured.err


def test_every_cluster_option_is_its_sbatch_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = str(CONFIGS / "classifier.yaml")
    script = dry_run(
        capsys, "--config", config, "--time", "01:00:00", "--gres", "gpu:a100:2", "--mem", "64G", "--qos", "high",
        "--constraint", "a100&ib", "--mail-type", "end,fail", "--mail-user", "me@lab.org", "--exclusive",
        "--job-name", "long-run", "--sbatch", "reservation=lab", "--sbatch=nice=-5", "--sbatch", "overcommit",
        "--max-requeues", "3",
    )  # fmt: skip
    lines = script.splitlines()
    for line in (
        "--gres=gpu:a100:2", "--mem=64G", "--qos=high", "--constraint=a100&ib", "--mail-type=END,FAIL",
        "--mail-user=me@lab.org", "--exclusive", "--job-name=long-run", "--reservation=lab", "--nice=-5",
        "--overcommit", "--ntasks-per-node=2",
    ):  # fmt: skip
        assert f"#SBATCH {line}" in lines, line
    assert "gpus-per-node" not in directives(script)  # --gres says how many, and of which type
    assert "export AMAL_MAX_REQUEUES=3" in script and script.index("AMAL_MAX_REQUEUES") < script.index("srun ")
    srun = next(line for line in lines if line.startswith("srun "))
    assert "--trainer.devices 2" in srun  # --gpus-per-node follows --gres's count
    assert directives(script)["output"] == "slurm/classifier-%j.out"  # the logs keep the experiment's name

    script = dry_run(capsys, "--config", config, "--time", "01:00:00", "--gres", "gpu:v100", "--gpus-per-node", "4",
                     "--mem-per-gpu", "16G")  # fmt: skip
    settings = directives(script)
    assert settings["gres"] == "gpu:v100:4" and settings["mem-per-gpu"] == "16G" and "mem" not in settings
    assert "exclusive" not in script and "export AMAL_MAX_REQUEUES=10" in script
    assert not (tmp_path / "slurm").exists()


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--mem", "8G", "--mem-per-gpu", "2G"], 2, "--mem 8G and --mem-per-gpu 2G: SLURM takes one of them"),
        (["--gres", "gpu:2", "--gpus-per-node", "4"], 2, "--gres gpu:2 asks for 2 GPUs per node, --gpus-per-node 4"),
        (["--gres", "gpu:a100:1", "--gpus-per-node=2"], 2, "--gres gpu:a100:1 asks for 1 GPU per node"),
        (["--sbatch", "mem-per-cpu=4G", "--mem", "8G"], 2, "SLURM takes one of --mem, --mem-per-cpu, --mem-per-gpu"),
        (["--sbatch", "reservation=lab\n#SBATCH --uid=0"], 1, "--sbatch: 'reservation=lab\\n#SBATCH --uid=0' holds"),
        (["--sbatch", "mail type=END"], 2, "--sbatch 'mail type=END': 'mail type' is not an sbatch option's name"),
        (["--sbatch", "comment=a --uid=0"], 2, "the value must be one word of printable ASCII, without spaces"),
        (["--sbatch", "comment=#x"], 2, "without spaces, quotes, backslashes or #"),
        (["--sbatch", "time=02:00:00"], 2, "--sbatch 'time=02:00:00': amal writes --time itself (use --time)"),
        (["--sbatch", "ti=02:00:00"], 2, "--ti abbreviates --time: amal writes --time itself (use --time)"),
        (["--sbatch", "output=x.out"], 2, "amal writes --output itself (its logs are slurm/<name>-<job id>.out"),
        (["--job-name", "bash"], 2, "--job-name bash: a job of that name is not seen as a batch job"),
        (["--mail-type", "SOMETIMES"], 2, "--mail-type 'SOMETIMES': not SLURM mail events"),
        (["--max-parallel", "2"], 2, "--max-parallel: only for a job array (amal study --submit)"),
    ],
)
def test_conflicting_or_unsafe_cluster_options_are_refused_in_one_line(
    tmp_path, monkeypatch, capsys, args, status, message
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", fake_commands(tmp_path / "bin", tmp_path / "calls.txt", sbatch="exit 0")["PATH"])
    code, error = submit_refusal(capsys, "--config", str(CONFIGS / "classifier.yaml"), "--time", "01:00:00", *args)
    assert code == status and error.startswith("amal: error: --"), error
    assert message in error.splitlines()[0] and len(error.splitlines()) == (2 if status == 2 else 1)  # and a hint


PROFILE = """# a cluster
partition: gpu
time: 04:00:00
gpus_per_node: 2
mem: 64G
exclusive: true
max-parallel: 3
setup:
  - module load cuda
sbatch: {reservation: lab, nice: 10}
"""


def test_a_profile_gives_its_options_and_the_command_line_overrides_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("cluster.yaml").write_text(PROFILE)
    config = str(CONFIGS / "classifier.yaml")
    script = dry_run(capsys, "--partition", "a100", "--mem-per-gpu", "8G", "--profile", "cluster.yaml",
                     "--config", config, "--setup", "echo ready", "--sbatch", "nice=5")  # fmt: skip
    settings = directives(script)
    assert settings["partition"] == "a100" and settings["time"] == "04:00:00"  # 04:00:00 is not read as 14400
    assert settings["gpus-per-node"] == "2" and settings["mem-per-gpu"] == "8G" and "mem" not in settings
    assert settings["reservation"] == "lab" and settings["nice"] == "5" and "#SBATCH --exclusive" in script
    assert "array" not in settings  # max-parallel is a job array's
    assert script.index("module load cuda") < script.index("echo ready") < script.index("srun ")
    script = dry_run(capsys, "--profile=cluster.yaml", "--config", config, "--no-exclusive", "--time", "00:10:00")
    assert "exclusive" not in script and directives(script)["time"] == "00:10:00"
    assert not (tmp_path / "slurm").exists()


def test_the_example_profile_is_read_and_a_study_array_takes_max_parallel(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    example = str(REPO / "configs" / "clusters" / "example.yaml")
    script = dry_run(capsys, "--profile", example, "--config", str(CONFIGS / "classifier.yaml"))
    assert directives(script)["gres"] == "gpu:a100:4" and "#SBATCH --array" not in script
    grid = ["--name", "eps", "--config", str(CONFIGS / "tme1_gradient_descent.yaml")]
    grid += ["--grid", "model.learning_rate=0.01,0.1,0.5"]
    main(["study", *grid, "--submit", "--profile", example, "--max-parallel", "2", "--qos", "long", "--dry-run"])
    settings = directives(capsys.readouterr().out)
    assert settings["array"] == "0-2%2" and settings["qos"] == "long" and settings["gres"] == "gpu:a100:4"
    assert not (tmp_path / "slurm").exists() and not (tmp_path / "studies").exists()


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        ("gpus: 2\n", 1, "'gpus' is not an option of a cluster profile (did you mean gpus-per-node?)"),
        ("config: x.yaml\n", 1, "'config' is not an option of a cluster profile"),
        ("partition: [gpu\n", 1, "not YAML (line 2, column 1:"),
        (b"partition: \xe9t\xe9\n", 1, "not UTF-8 text"),
        ("- partition\n", 1, "not a mapping of options"),
        ("exclusive: maybe\n", 1, "exclusive: expected true or false, not 'maybe'"),
        ("time: 2h\n", 2, "--time '2h': not a time limit"),
        ('setup: "a\\nb"\n', 1, "--setup: 'a\\nb' holds a line break"),
        ("sbatch: [time=01:00:00]\n", 2, "--sbatch 'time=01:00:00': amal writes --time itself"),
    ],
)
def test_a_bad_profile_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys, text, status, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", fake_commands(tmp_path / "bin", tmp_path / "calls.txt", sbatch="exit 0")["PATH"])
    Path("p.yaml").write_bytes(text if isinstance(text, bytes) else text.encode())
    code, error = submit_refusal(capsys, "--config", str(CONFIGS / "classifier.yaml"), "--time=01:00:00",
                                 "--profile", "p.yaml")  # fmt: skip
    assert code == status and error.splitlines()[0].startswith("amal: error: --profile p.yaml: "), error
    assert message in error.splitlines()[0]


class JobEndedError(Exception):
    """SLURM ending a job it has requeued (it sends SIGTERM, then SIGKILL)."""


class SignalAfterBatches(Callback):
    """SLURM's SIGUSR1 to this process after ``batches`` batches of this start; SLURM ending the job, once
    requeued, at the next batch. Each start's first step goes to ``record``."""

    def __init__(self, batches: int = 3, record: str = "starts.txt") -> None:
        self.batches, self.record, self.seen, self.sent = batches, Path(record), 0, False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        with self.record.open("a") as record:
            record.write(f"{trainer.global_step}\n")

    def on_train_batch_start(self, *args: object) -> None:
        if self.sent:
            raise JobEndedError

    def on_train_batch_end(self, *args: object) -> None:
        self.seen += 1
        if self.seen == self.batches:
            os.kill(os.getpid(), signal.SIGUSR1)
            self.sent = True


def test_three_signals_requeue_twice_then_stop_at_max_requeues_keeping_one_checkpoint(workdir, monkeypatch, capsys):
    """A job submitted with --max-requeues 2: SIGUSR1 on each of three starts, in this process (no real SLURM)."""
    script = dry_run(capsys, "--config", str(CONFIGS / "regression_minibatch.yaml"), "--time=01:00:00",
                     "--max-requeues", "2")  # fmt: skip
    exported = re.search(r"^export (AMAL_MAX_REQUEUES)=(\d+)", script, re.M)
    monkeypatch.setenv(*exported.groups())  # as srun passes it on to the job
    monkeypatch.setenv("PATH", fake_commands(workdir / "bin", workdir / "scontrol.txt", scontrol="exit 0")["PATH"])
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    fit = [
        "fit", "--config", str(CONFIGS / "regression_minibatch.yaml"), "--data.batch_size=16",
        "--trainer.max_epochs=1", "--trainer.limit_train_batches=12", "--trainer.limit_val_batches=1",
        "--trainer.limit_test_batches=1", "--trainer.accelerator=cpu", "--trainer.devices=1",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--trainer.callbacks+=tests.test_slurm.SignalAfterBatches",
    ]  # fmt: skip
    run_dir = workdir / "checkpoints" / "regression_minibatch" / "slurm-4242"

    def hpc_checkpoints() -> list[str]:
        return sorted(path.name for path in run_dir.glob("hpc_ckpt_*.ckpt"))

    for restarts in (0, 1):  # SLURM counts the requeues; each start saves after 3 batches and requeues
        monkeypatch.setenv("SLURM_RESTART_COUNT", str(restarts))
        with pytest.raises(JobEndedError):
            main(fit)
        assert hpc_checkpoints() == [f"hpc_ckpt_{restarts + 1}.ckpt"]  # the older one removed
        assert (workdir / "scontrol.txt").read_text().count("requeue 4242") == restarts + 1
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(fit)
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert exit_info.value.code == 1 and len(errors) == 1, errors
    assert errors[0].startswith("amal: error: SLURM job 4242 reached its --max-requeues 2 (SLURM_RESTART_COUNT=2)")
    assert "hpc_ckpt_3.ckpt but did not requeue it" in errors[0]
    assert (workdir / "scontrol.txt").read_text().count("requeue 4242") == 2  # not a third time
    assert hpc_checkpoints() == ["hpc_ckpt_3.ckpt"]
    assert (workdir / "starts.txt").read_text().split() == ["0", "3", "6"]  # each start went on from the last
    assert torch.load(run_dir / "hpc_ckpt_3.ckpt", weights_only=True)["global_step"] == 9

    # Submitted again as its error says: a new job goes on from that checkpoint, in the same run folder.
    monkeypatch.setenv("SLURM_JOB_ID", "4343")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    main([*fit[:-1], "--trainer.callbacks+=tests.test_slurm.SignalAfterBatches", "--trainer.callbacks.batches=99",
          "--ckpt_path", "last"])  # fmt: skip
    assert (workdir / "starts.txt").read_text().split()[-1] == "9"
    assert torch.load(run_dir / "last.ckpt", weights_only=True)["global_step"] == 12
    assert hpc_checkpoints() == ["hpc_ckpt_3.ckpt"] and (workdir / "scontrol.txt").read_text().count("4242") == 2


def test_each_cluster_option_is_on_every_submitting_command_and_in_profiles(tmp_path):
    """One line of CLUSTER_OPTIONS is an option of amal submit (a job array's only on amal study --submit),
    of a search's array, and a key of a cluster profile, written as the profile's kind says."""
    from amal_lightning.cluster.profile import IGNORED
    from amal_lightning.cluster.submission import CLUSTER_OPTIONS, build_parser, profile_options
    from amal_lightning.parse_errors import known_options

    submit, array = known_options(build_parser()), known_options(build_parser("amal study --submit", array=True))
    search = known_options(build_parser("amal study --submit", array=True, workers=True))
    for option in CLUSTER_OPTIONS:
        assert f"--{option.name}" in array and f"--{option.name}" in search
        assert (f"--{option.name}" in submit) != option.array_only
        assert profile_options(array=True)[option.name] == option.kind
        assert profile_options(array=False)[option.name] == (IGNORED if option.array_only else option.kind)
    assert "--workers" in search and "--workers" not in array


class FailAtTheFirstStep(Callback):
    """A fit that ends in an exception (a bug in a model, a full disk)."""

    def on_train_batch_end(self, *args: object) -> None:
        raise JobEndedError("planned failure")


def tiny_fit(config: str, *more: str) -> list[str]:
    return ["fit", "--config", str(CONFIGS / config), "--trainer.max_epochs=2", "--trainer.limit_train_batches=3",
            "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1", "--trainer.accelerator=cpu",
            "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", *more]  # fmt: skip


def test_a_signal_between_fits_is_said_and_the_next_fit_checkpoints_and_requeues(workdir, monkeypatch, capsys):
    """SLURM's SIGUSR1 during the test after a fit, or between two fits of one process (a search's worker):
    said in the log, not the end of the process (SIGUSR1's default action), and kept for the next fit."""
    record = workdir / "scontrol.txt"
    monkeypatch.setenv("PATH", fake_commands(workdir / "bin", record, scontrol="exit 0")["PATH"])
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    before = signal.getsignal(signal.SIGUSR1)
    try:
        main(tiny_fit("regression_minibatch.yaml", "--data.batch_size=16"))
        assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, None), "SIGUSR1 would end the process"
        capsys.readouterr()
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)  # Python runs the handler between two instructions of the main thread
        assert "SIGUSR1 after the fit: nothing left to save here, the job goes on" in capsys.readouterr().err
        assert not record.exists()
        main(tiny_fit("regression.yaml"))  # the next fit of the process: it saves and requeues at its first step
        assert record.read_text().split()[1:] == ["requeue", "4242"]
        saved = workdir / "checkpoints/regression/slurm-4242/hpc_ckpt_1.ckpt"
        assert torch.load(saved, weights_only=True)["global_step"] == 1
    finally:
        signal.signal(signal.SIGUSR1, before)
        CheckpointAndRequeue.signalled_between_fits = False


def test_after_a_failed_fit_the_signals_are_the_processs_own_again(workdir, monkeypatch, capsys):
    """Lightning puts back, after a fit that failed, the handlers it found at its start: the callbacks'.
    Those of a fit that is over say SIGUSR1 and pass Ctrl+C on, instead of swallowing them silently."""
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    before = signal.getsignal(signal.SIGUSR1), signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(JobEndedError):
            main(tiny_fit("regression.yaml", "--trainer.callbacks+=tests.test_slurm.FailAtTheFirstStep"))
        capsys.readouterr()
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.05)
        assert "SIGUSR1 after the fit" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):  # the first Ctrl+C, not only a second one
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGUSR1, before[0])
        signal.signal(signal.SIGINT, before[1])
        CheckpointAndRequeue.signalled_between_fits = False
