"""Study files (``configs/studies/NAME.yaml``): what a study runs and draws, read and checked here.

A study file is a mapping::

    name: tme1_step_size                      # default: the file's name
    description: Hand-gradient descent, ...   # the figures' title
    config: configs/tme1_gradient_descent.yaml
    common: {trainer.max_epochs: 300}         # options of every variant
    variants:                                 # either named variants ...
      eps 0.1: {model.learning_rate: 0.1}
      eps 0.2 raw: {config: configs/other.yaml, model.learning_rate: 0.2}
    grid:                                     # ... or a grid: all combinations
      model.learning_rate: [0.01, 0.1, 1]
    search:                                   # ... or a search (Optuna): see studies/search/spec.py
      params: {model.learning_rate: {type: float, low: 0.001, high: 1, log: true}}
      n_trials: 20
      metric: best val/loss
    max_variants: 10000                       # a larger grid is refused before it is expanded
    jobs: 2                                   # variants trained at once (auto: a worker per GPU or core)
    seeds: [0, 1, 2]                          # each variant once per seed: mean, std, bands
    comparisons:                              # paired differences, per seed, with a 95 % interval
      - {a: eps 0.2 raw, b: eps 0.1, metric: tested test/loss}
    figures:                                  # default: train/loss and test/loss against epochs
      - {name: loss, metrics: [train/loss, test/loss], x: [epoch, time], ylabel: "MSE ($1000²)"}
      - {name: gap, metrics: [train/loss], y: gap, x: train_seconds}
      - {name: step-size, kind: sweep, x: model.learning_rate, group: data.batch_size,
         metric: final train/loss, vline: reference/step_limit, vline_label: "2/λ_max"}
      - {name: depth, kind: sweep, metric: final train/loss, xlabel: "depth (blocks)",
         lines: {plain: {plain 10: 10, plain 20: 20}, highway: {highway 10: 10, highway 20: 20}}}
      - {name: gates, kind: layers, metric_prefix: val/gate/layer_, variant: highway 50}
    images: [test/interpolation]              # image tags saved as PNG files, per variant

A figure (:mod:`amal_lightning.studies.figures.spec` reads them) has a ``name`` (its files are
``<name>-<x>.png`` for curves, ``<name>.png`` otherwise), a ``title`` (default: the description),
a ``ylabel`` (with its unit), ``variants`` (default: all), and a ``kind``:

- ``curves`` (the default): ``metrics`` against each ``x`` of ``epoch``, ``step``, ``time``
  (wall-clock) and ``train_seconds`` (the seconds inside training steps); ``y``: ``auto`` (log
  when the values span more than two decades), ``linear``, ``log``, or ``gap`` (the metric minus
  its ``reference/<metric>``, L − L*, on a log axis); ``references: true`` (or a list of metrics)
  draws each metric's ``reference/<metric>`` as a horizontal line, named by ``reference_label``
  (default: least-squares optimum for losses, chance for accuracies, PCA at the code size for
  MSEs); ``pairs: [[tied 80, untied 80], ...]``: the variants of a pair share a colour and differ
  in line style (solid, dashed, dotted in the pair's order), for figures of one stage's metrics.
- ``sweep``: a summary column (``metric: final train/loss``, ``best …``, ``tested …``) against the
  option ``x`` (``model.learning_rate``, read from each variant's options) on log–log axes, one
  line per value of the option ``group``; diverged runs are crosses on the top edge, unstable ones
  (final training loss not below the first) hollow; ``vline: reference/step_limit`` a vertical
  line named ``vline_label``. Where the swept quantity is no one option (a depth that one model
  counts by ``model.num_layers`` and another by ``model.num_hidden_layers``, one more), ``lines``
  replaces ``x`` and ``group``: each line's label and its variants with the x of each, and
  ``xlabel`` (needed then) says what x counts. ``y``: ``auto`` (log if every point is positive),
  ``linear`` or ``log``.
- ``layers``: the last value of each ``<metric_prefix>NN`` curve (``val/gate/layer_``) against the
  layer number NN, for the ``variant`` (or ``variants``) named; ``xlabel`` what a layer is.

With ``seeds``, curves are the mean over a variant's seeds with a ±1 std band, sweeps and layers
the mean with ±1 std error bars; the legends say n. Each figure's footer (and its PNG's
``Description``) says its data, its seeds and its study.

Options are ``amal fit`` options without their dashes, as a mapping (``model.learning_rate: 0.1``)
or as a list of command-line words (``[--model.learning_rate, "0.1"]``); a variant's ``config``
replaces the study's. Whether each variant's command line is one ``amal fit`` accepts is checked
by :mod:`amal_lightning.studies.check`; this module checks the file's own shape. Every error is
one line naming the file.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import PLAIN_NAME
from amal_lightning.studies.comparisons import Comparison, comparison_specs
from amal_lightning.studies.figures.spec import FigureSpec, figure_specs
from amal_lightning.studies.search.spec import SearchSpec, search_spec
from amal_lightning.studies.variants import (
    MAX_VARIANTS,
    Variant,
    config_path,
    grid_variants,
    named_variants,
    option_words,
    seed_list,
    slug,
    with_seeds,
)

STUDY_DIR = Path("studies")
STUDY_KEYS = (
    "name",
    "description",
    "config",
    "common",
    "variants",
    "grid",
    "figures",
    "images",
    "max_variants",
    "jobs",
    "seeds",
    "comparisons",
    "search",
)
# A table of the model's layers before each of many fits says nothing new (a variant's options can turn it on).
QUIET = ("--trainer.enable_model_summary=false",)


@dataclass(frozen=True)
class Study:
    """A study: its variants, the options they share, and what to draw."""

    name: str
    description: str
    common: tuple[str, ...]
    variants: tuple[Variant, ...]
    figures: tuple[FigureSpec, ...] = (FigureSpec("loss"),)
    images: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # the study file, or how an ad-hoc study was given
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # as written: saved in the study folder
    comparisons: tuple[Comparison, ...] = ()
    search: Optional[SearchSpec] = None  # a search: its trials are its variants, made as it runs
    config: Optional[Path] = None  # the study's config (that of a search's trials)

    @property
    def seeded(self) -> bool:
        """Whether the study runs each variant once per seed (its ``seeds``)."""
        return self.data.get("seeds") is not None

    @property
    def jobs(self) -> Union[int, str]:
        """The study file's ``jobs`` (workers training variants at once; ``auto``), 1 if it has none."""
        return self.data.get("jobs", 1)

    @property
    def folder(self) -> Path:
        return STUDY_DIR / self.name

    def experiment(self, variant: Variant) -> str:
        """The variant's experiment name: its runs are ``logs/<study>.<slug>/<run>``."""
        return f"{self.name}.{variant.slug}"

    def fit_args(self, variant: Variant) -> list[str]:
        """The variant's ``amal fit`` command line (after ``amal``)."""
        return ["fit", "--config", str(variant.config), *QUIET, *self.common, *variant.options]


def check_keys(where: str, data: Any, keys: tuple[str, ...]) -> None:
    """Fails unless ``data`` is a mapping whose keys are among ``keys`` (a misspelt key would be ignored)."""
    if not isinstance(data, dict):
        raise AmalError(f"{where}: expected a mapping with {', '.join(keys)}")
    unknown = [key for key in data if key not in keys]
    if unknown:
        raise AmalError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(keys)})")


def build_study(where: str, data: Any, default_name: str) -> Study:
    """A Study from a study file's content; ``where`` names the file in errors."""
    check_keys(where, data, STUDY_KEYS)
    name = str(data.get("name") or default_name)
    if not PLAIN_NAME.match(name):
        raise AmalError(f"{where}: name {name!r} is not a plain folder name (letters, digits, '.', '_', '-')")
    if "search" in data and ("variants" in data or "grid" in data):
        raise AmalError(f"{where}, search: give a search or {'variants' if 'variants' in data else 'a grid'}, not both")
    if "search" not in data and ("variants" in data) == ("grid" in data):
        raise AmalError(f"{where}: give either variants or a grid (or a search)")
    config = config_path(f"{where}, config", data.get("config"))
    _, common = option_words(f"{where}, common", data.get("common"))
    max_variants = data.get("max_variants", MAX_VARIANTS)
    if not isinstance(max_variants, int) or isinstance(max_variants, bool) or max_variants < 1:
        raise AmalError(f"{where}: max_variants must be a positive integer, got {max_variants!r}")
    seeds = seed_list(f"{where}, seeds", data.get("seeds"))
    search = search_spec(where, data["search"]) if "search" in data else None
    if search is not None:
        variants = []
    elif "grid" in data:
        variants = grid_variants(f"{where}, grid", data["grid"], config, max_variants, len(seeds or [None]))
    else:
        variants = named_variants(f"{where}, variants", data["variants"], config)
    slugs = [variant.slug for variant in variants]
    clash = next((variant.name for variant in variants if slugs.count(variant.slug) > 1), None)
    if clash is not None:
        raise AmalError(f"{where}: variant {clash!r} has the same folder name as another ({slug(clash)})")
    names = {variant.name for variant in variants}
    figures = (FigureSpec("loss"),)
    if "figures" in data:
        figures = figure_specs(f"{where}, figures", data["figures"], names)
    comparisons = comparison_specs(f"{where}, comparisons", data.get("comparisons"), names, seeds)
    variants = with_seeds(variants, seeds)
    images = data.get("images") or []
    if not isinstance(images, list) or not all(isinstance(tag, str) for tag in images):
        raise AmalError(f"{where}, images: expected a list of image tags, e.g. [test/interpolation]")
    jobs = data.get("jobs", 1)
    if jobs != "auto" and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise AmalError(f"{where}: jobs must be a positive number of workers or auto, got {jobs!r}")
    description = str(data.get("description") or name)
    saved = {**data, "name": name}
    return Study(
        name, description, common, tuple(variants), figures, tuple(images), where, saved, comparisons, search, config
    )


def load_study(path: Path) -> Study:
    """Reads and checks a study file (its shape; the options are checked by studies.check)."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as error:
        reason = f"not UTF-8 text, byte {error.start}" if isinstance(error, UnicodeDecodeError) else error.strerror
        raise AmalError(f"{path}: cannot read the study file ({reason})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise AmalError(f"{path}{line}: not valid YAML ({getattr(error, 'problem', None) or error})") from None
    return build_study(str(path), data, path.stem)


def adhoc_study(name: str, config: str, grid: list[str], common: list[str], seeds: Optional[int] = None) -> Study:
    """The study of ``amal study --name N --config C --grid KEY=V1,V2 ... -- OPTIONS``."""
    axes: dict[str, list[str]] = {}
    for text in grid:
        key, equals, values = text.partition("=")
        if not equals or not key:
            raise AmalError(f"--grid {text}: expected KEY=V1,V2,... (e.g. model.learning_rate=0.01,0.1)")
        axes[key.removeprefix("--")] = [value for value in values.split(",") if value]
    description = f"{name}: {', '.join(axes)}"
    data = {"name": name, "description": description, "config": config, "grid": axes, "common": list(common)}
    if seeds is not None:
        data["seeds"] = list(range(seeds))
    return build_study("amal study", data, name)
