"""Run ``amal fit``, ``validate``, ``test`` and ``predict`` from Python, and get back what happened.

::

    from amal_lightning.api import fit

    outcome = fit("configs/classifier.yaml", "--trainer.max_epochs", "3")
    outcome = fit("configs/classifier.yaml", {"trainer.max_epochs": 3, "model.init": "kaiming"})
    outcome = fit({"model": {...}, "data": {...}, "trainer": {...}}, callbacks=[MyCallback()])
    outcome.status                      # "finished" (or "interrupted" after Ctrl+C)
    outcome.test_metrics["test/acc"]    # the test of best.ckpt after the fit
    outcome.best_checkpoint             # checkpoints/classifier/version_0/best.ckpt

The config is a YAML file or a mapping of the same structure; the options are ``amal fit``'s, as
command-line words or as mappings of dotted option names without dashes, applied in order after
the config (:mod:`amal_lightning.api.options`, which also says how a mapping config's run is
named); ``callbacks`` are Lightning callbacks added to the run's Trainer. Run from Python, a run
leaves ``sys.argv`` and ``os.environ`` as they were (:mod:`amal_lightning.api.scope`).

A run that cannot start or goes wrong raises one of :mod:`amal_lightning.errors`' types, with the
message ``amal`` would print: :class:`~amal_lightning.errors.UsageError` for an option,
:class:`~amal_lightning.errors.DivergedError` when training diverges,
:class:`~amal_lightning.errors.OutOfDeviceMemoryError`, and :class:`~amal_lightning.errors.AmalError`
for a bad file or data. Where the run had started, the error's ``outcome`` says what it had done
(its folders, its epochs). Nothing here prints an error or ends the process: that is the command
line's part (:mod:`amal_lightning.command_line`).
"""

from collections.abc import Sequence

from lightning.pytorch.callbacks import Callback

from amal_lightning.api.arguments import check_arguments
from amal_lightning.api.check import PRINTING_OPTIONS, check_command_line, check_options
from amal_lightning.api.lightning_cli import AmalCLI
from amal_lightning.api.options import Config, Option, command_line
from amal_lightning.api.parser import CLI_ARGUMENTS
from amal_lightning.api.scope import is_console_run, run_scope
from amal_lightning.api.trainer_parts import with_logger_folders
from amal_lightning.data.readiness import fetch_for_offline_use
from amal_lightning.errors import UsageError, as_user_errors
from amal_lightning.runs.outcome import Outcome

__all__ = [
    "Outcome",
    "check_command_line",
    "check_options",
    "fit",
    "predict",
    "prepare_data",
    "run",
    "test",
    "validate",
]

COMMANDS = ("fit", "validate", "test", "predict")


def run(argv: Sequence[str], callbacks: Sequence[Callback] = ()) -> Outcome:
    """Runs ``amal ARGV`` (``["fit", "--config", ...]``) here and returns its outcome; ``callbacks`` join
    its Trainer's (LightningCLI's ``trainer_defaults``: always present, configurable by no option).

    Raises the project's errors (see the module's docstring), never prints one, never exits.
    """
    argv = with_logger_folders([str(word) for word in argv])
    if not argv or argv[0] not in COMMANDS:
        raise UsageError(f"expected one of {', '.join(COMMANDS)} first, got {argv[0] if argv else 'nothing'}")
    check_arguments(argv)
    console = is_console_run(argv)
    with as_user_errors(), run_scope(argv):
        cli = AmalCLI(
            subcommand=argv[0],
            **CLI_ARGUMENTS,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            # The datamodules give each process its share of the batches themselves.
            trainer_defaults={"use_distributed_sampler": False, "callbacks": list(callbacks)},
            args=None if console else argv,  # None: sys.argv, which multi-device runs start again
        )
    if cli.outcome is None:  # `--help` or `--print_config` printed and the parser ended
        raise UsageError(f"amal {argv[0]}: an option that prints and exits ({', '.join(PRINTING_OPTIONS)})")
    return cli.outcome


def fit(config: Config = None, *options: Option, callbacks: Sequence[Callback] = ()) -> Outcome:
    """``amal fit --config CONFIG OPTIONS...``: trains, tests the best checkpoint, returns the outcome."""
    return run(command_line("fit", config, options), callbacks=callbacks)


def validate(config: Config = None, *options: Option, callbacks: Sequence[Callback] = ()) -> Outcome:
    """``amal validate --config CONFIG OPTIONS...`` (e.g. ``{"ckpt_path": "best"}``)."""
    return run(command_line("validate", config, options), callbacks=callbacks)


def test(config: Config = None, *options: Option, callbacks: Sequence[Callback] = ()) -> Outcome:
    """``amal test --config CONFIG OPTIONS...`` (e.g. ``{"ckpt_path": "best"}``)."""
    return run(command_line("test", config, options), callbacks=callbacks)


test.__test__ = False  # not a test function, for pytest


def predict(config: Config = None, *options: Option, callbacks: Sequence[Callback] = ()) -> Outcome:
    """``amal predict --config CONFIG OPTIONS...``: writes predictions.csv, its path in ``outcome.predictions``."""
    return run(command_line("predict", config, options), callbacks=callbacks)


def prepare_data(argv: Sequence[str]) -> str:
    """``amal prepare-data --config X``: downloads what the config's data needs, checks it reads; says which data."""
    check_arguments(argv)
    with as_user_errors(), run_scope():
        cli = AmalCLI(
            **CLI_ARGUMENTS,
            run=False,
            args=list(argv),
            save_config_callback=None,
            trainer_defaults={"logger": False},
        )
        fetch_for_offline_use(cli.datamodule)
    return f"{type(cli.datamodule).__name__}: data ready"
