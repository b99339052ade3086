"""A study's variants: named ones, or all the combinations of a grid, each a mapping of ``amal fit`` options.

A variant's options are dotted option names without dashes and their values
(``{"model.learning_rate": 0.1, "seed_everything": 0}``), given to :func:`amal_lightning.api.fit`
after the study's config and common options; a study file that lists a variant's options as
command-line words (``[--model.learning_rate, "0.1"]``) gets them as such a mapping too.

A grid's size is counted before anything is expanded: a grid of 200 × 200 × 200 values would
otherwise take minutes to list its 8 million variants before saying anything. More than
``max_variants`` (default :data:`MAX_VARIANTS`, a study file's key) is refused in one line.
"""

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from amal_lightning.checks import shown
from amal_lightning.errors import AmalError
from amal_lightning.runs.options import mapping_words, option_text

__all__ = ["MAX_VARIANTS", "SPLIT_OPTION", "Variant", "option_text", "variant_options", "with_seeds"]

MAX_VARIANTS = 10_000
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


# The option a study's ``splits`` sets: the data split's own seed (the housing datamodule's ``split_seed``).
SPLIT_OPTION = "data.split_seed"


@dataclass(frozen=True)
class Variant:
    """One ``amal fit`` of a study: its name (legends, progress lines), folder-safe slug, config and options.

    ``options`` maps dotted option names to values (``{"model.learning_rate": 0.1}``). In a study with
    ``seeds``, each variant runs once per seed (and per split, with ``splits``): ``group`` is the variant's
    name, ``seed`` the seed of this run (its ``seed_everything`` option) and ``split`` its data split's seed
    (its ``data.split_seed``, None without ``splits``); each such run has a name, slug and record of its own.
    """

    name: str
    slug: str
    config: Path
    options: dict[str, Any] = field(hash=False)
    group: str = ""
    seed: Optional[int] = None
    split: Optional[int] = None

    @property
    def label(self) -> str:
        """The variant it is a run of: its own name without seeds."""
        return self.group or self.name


def with_seeds(variants: list[Variant], seeds: Optional[list[int]], splits: Optional[int] = None) -> list[Variant]:
    """Each variant once per seed (seeds vary fastest), and with ``splits`` once per split seed 0 … splits − 1
    crossed with the seeds; or the variants as they are without seeds."""
    if seeds is None:
        return variants
    split_seeds: list[Optional[int]] = [None] if splits is None else list(range(splits))
    replicated = []
    for variant in variants:
        for split in split_seeds:
            for seed in seeds:
                where = "" if split is None else f"split {split}, "
                options = {**variant.options, **({} if split is None else {SPLIT_OPTION: split})}
                replicated.append(
                    Variant(
                        f"{variant.name} ({where}seed {seed})",
                        f"{variant.slug}{'' if split is None else f'.split{split}'}.seed{seed}",
                        variant.config,
                        {**options, "seed_everything": seed},
                        variant.name,
                        seed,
                        split,
                    )
                )
    return replicated


def slug(name: str) -> str:
    """A plain folder name for a variant's name: runs of other characters become ``_``."""
    return UNSAFE.sub("_", name).strip("_").lstrip(".") or "variant"


def word_options(where: str, words: list[Any]) -> dict[str, Any]:
    """A study file's list of words as a variant's options: ``[--model.learning_rate, "0.1", --data.batch_size=8]``
    as ``{"model.learning_rate": "0.1", "data.batch_size": "8"}`` (the parser reads the texts as it would the words)."""
    options: dict[str, Any] = {}
    index = 0
    while index < len(words):
        name, equals, value = str(words[index]).partition("=")
        if not name.startswith("--") or len(name) < 3:
            raise AmalError(f"{where}: {words[index]!r} is not an option (expected --name value or --name=value)")
        if not equals:
            if index + 1 >= len(words) or str(words[index + 1]).startswith("--"):
                raise AmalError(f"{where}: {name} has no value (expected --name value or --name=value)")
            index += 1
            value = str(words[index])
        options[name[2:]] = value
        index += 1
    return options


def variant_options(where: str, options: Any) -> tuple[Optional[str], dict[str, Any]]:
    """(the ``config`` it names or None, the options as a mapping of dotted names) from a mapping or a list of words."""
    if options is None:
        return None, {}
    if isinstance(options, list):
        return None, word_options(where, options)
    config = options.get("config")
    if config is not None and not isinstance(config, str):
        raise AmalError(f"{where}: config must be a file name")
    return config, {str(key): value for key, value in options.items() if key != "config"}


def option_words(where: str, options: Any) -> tuple[Optional[str], tuple[str, ...]]:
    """(the ``config`` it names or None, the options as command-line words): a study's common options."""
    if isinstance(options, list):
        return None, tuple(str(word) for word in options)
    config, mapping = variant_options(where, options)
    return config, tuple(mapping_words(mapping))


def config_path(where: str, text: Any) -> Path:
    if not isinstance(text, str) or not text:
        raise AmalError(f"{where}: expected a config file name")
    path = Path(text)
    if not path.is_file():
        hint = (
            ""
            if path.is_absolute()
            else f" in {shown(Path.cwd())} (a study's config paths are read from the folder amal runs in)"
        )
        raise AmalError(f"{where}: {text}: no such file{hint}")
    return path


def check_count(where: str, sizes: list[int], seeds: int, max_variants: int, unit: str = "") -> None:
    """Refuses more runs than ``max_variants``: the product of ``sizes`` (a grid's values; a search's trials,
    ``unit`` " trials"), each run ``seeds`` times (its seeds times its splits)."""
    count = math.prod(sizes) * seeds
    if count > max_variants:
        factors = " × ".join([*(f"{size}{unit}" for size in sizes), *([f"{seeds} seeded runs"] if seeds > 1 else [])])
        raise AmalError(f"{where}: {factors} = {count:,} variants, more than max_variants ({max_variants:,})")


def grid_variants(
    where: str, grid: Any, config: Path, max_variants: int = MAX_VARIANTS, seeds: int = 1
) -> list[Variant]:
    """All combinations of a grid's values, in order (the last key varies fastest): at most ``max_variants``
    runs, counting each combination ``seeds`` times (its seeds times its splits)."""
    if not grid:
        raise AmalError(f"{where}: the grid is empty (give each option a list of values)")
    for key, values in grid.items():
        if not values:
            raise AmalError(f"{where}: {key} has no values (expected a non-empty list)")
    check_count(where, [len(values) for values in grid.values()], seeds, max_variants)
    variants = []
    for combination in itertools.product(*(values for values in grid.values())):
        options = dict(zip(grid, combination, strict=True))
        pairs = [f"{key}={option_text(value)}" for key, value in options.items()]
        variants.append(Variant(", ".join(pairs), slug("-".join(pairs)), config, options))
    return variants


def named_variants(where: str, variants: Any, config: Path) -> list[Variant]:
    if not variants:
        raise AmalError(f"{where}: expected named variants (a mapping of names to options)")
    result = []
    for name, options in variants.items():
        variant_config, mapping = variant_options(f"{where}, variant {name!r}", options)
        own_config = config if variant_config is None else config_path(f"{where}, variant {name!r}", variant_config)
        result.append(Variant(str(name), slug(str(name)), own_config, mapping))
    return result
