"""What ``amal fit`` (and ``validate``, ``test``, ``predict``) prints at its end, from the run's outcome."""

from typing import Any

from amal_lightning.runs.outcome import Outcome, number


def format_metrics(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{name} {number(value)}" for name, value in sorted(metrics.items()))


def report_lines(outcome: Outcome) -> list[str]:
    """The summary of a fit (why it stopped, its best validation, its test, its folders); one line otherwise."""
    if outcome.command == "predict":
        return [outcome.reason]
    if outcome.command != "fit":  # Lightning's own table says the metrics; this line, by what and where they are
        weights = outcome.tested_checkpoint or "an untrained model (no --ckpt_path)"
        logged = f": logs in {outcome.log_dir}/" if outcome.log_dir is not None else ""
        return [f"{outcome.command.capitalize()} of {weights}{logged}"]
    this_time = f", {outcome.epochs} of them this time" if outcome.first_epoch else ""  # a resumed fit
    done = (
        f"{outcome.total_epochs} epoch{'' if outcome.total_epochs == 1 else 's'}{this_time} in {outcome.seconds:.0f} s"
    )
    lines = [f"Fit: {done} ({outcome.reason}), {outcome.steps} steps"]
    if outcome.best_epoch is not None:
        lines.append(f"  best validation (epoch {outcome.best_epoch}): {format_metrics(outcome.best_metrics)}")
    if outcome.tested_checkpoint is not None:
        lines.append(f"  test of {outcome.tested_checkpoint.name}: {format_metrics(outcome.test_metrics)}")
    lines.append(f"  checkpoints: {outcome.checkpoint_dir}/")
    if outcome.log_dir is not None:
        lines.append(f"  logs:        {outcome.log_dir}/  (curves: tensorboard --logdir {outcome.log_dir.parent})")
    if outcome.status == "interrupted":
        lines.append(
            f"  interrupted: `--ckpt_path {outcome.checkpoint_dir}/last.ckpt` goes on from its last checkpoint"
        )
    return lines
