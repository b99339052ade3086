"""Study files (``configs/studies/NAME.yaml``): what a study runs and draws, read and checked here.

The file is read as a :class:`StudyFile`, a pydantic model whose blocks are typed classes too
(:class:`~amal_lightning.studies.search.spec.SearchBlock`,
:class:`~amal_lightning.studies.comparisons.ComparisonEntry`, and each figure a
:data:`~amal_lightning.studies.figures.spec.FigureEntry`); a refusal is one line naming the file and the key
(:mod:`amal_lightning.studies.validation`). Every key, with examples, is described in
docs/STUDIES.md; ``amal study --schema`` prints the JSON Schema an editor checks a study file with.

Whether each variant's command line is one ``amal fit`` accepts is checked by
:mod:`amal_lightning.studies.check`; what needs the variants (their names, in comparisons and
figures; their folder names) is checked here once they are made.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from amal_lightning.errors import AmalError
from amal_lightning.runs.folders import PLAIN_NAME
from amal_lightning.studies.comparisons import Comparison, ComparisonEntry, comparison_specs
from amal_lightning.studies.figures.spec import DEFAULT_FIGURES, FigureEntry, FigureOptions, figure_specs
from amal_lightning.studies.search.spec import SearchBlock, SearchSpec
from amal_lightning.studies.validation import FileModel, validated
from amal_lightning.studies.variants import (
    MAX_VARIANTS,
    Variant,
    config_path,
    grid_variants,
    named_variants,
    option_words,
    slug,
    with_seeds,
)

STUDY_DIR = Path("studies")


Options = Union[dict[str, Any], list[Union[str, int, float]]]
OPTIONS = "a mapping such as {model.learning_rate: 0.1} or a list of command-line words"
Seed = Annotated[int, Field(strict=True, ge=0, lt=2**32, description="an integer from 0 to 4294967295")]
VariantOptions = Annotated[Optional[Options], Field(description=f"the variant's options: {OPTIONS} (config: its own)")]
GridValues = Annotated[list[Any], Field(description="the option's values, a list such as [0.01, 0.1, 1]")]
ImageTag = Annotated[str, Field(description="an image tag, e.g. test/interpolation")]
Jobs = Union[Annotated[StrictInt, Field(gt=0)], Literal["auto"]]


class StudyFile(FileModel):
    """A study file (configs/studies/NAME.yaml): its variants (named, a grid, or a search), the options they
    share, their seeds, and what to draw and compare. Every key: docs/STUDIES.md."""

    name: Optional[str] = Field(
        None, pattern=PLAIN_NAME.pattern, description="a plain folder name (letters, digits, '.', '_', '-')"
    )
    description: Optional[str] = Field(None, description="text: the figures' title (default: the name)")
    config: str = Field(min_length=1, description="the config every variant starts from, e.g. configs/regression.yaml")
    common: Optional[Options] = Field(None, description=f"options of every variant: {OPTIONS}")
    variants: Optional[dict[str, VariantOptions]] = Field(
        None, description="a mapping of variant names to their options"
    )
    grid: Optional[dict[str, GridValues]] = Field(
        None, description="a mapping of options to their values: a variant per combination"
    )
    search: Optional[SearchBlock] = Field(None, description="an Optuna search: the options it tries, trial by trial")
    max_variants: StrictInt = Field(MAX_VARIANTS, gt=0, description="a positive integer (a larger grid is refused)")
    jobs: Jobs = Field(1, description="a positive number of workers training variants at once, or auto")
    seeds: Optional[list[Seed]] = Field(
        None,
        min_length=1,
        description="a non-empty list of distinct seeds, e.g. [0, 1, 2]: each variant once per seed",
        json_schema_extra={"uniqueItems": True},
    )
    splits: Optional[StrictInt] = Field(
        None,
        gt=0,
        description="a positive number of data splits (data.split_seed 0, 1, ...), each crossed with the seeds",
    )
    comparisons: Optional[list[ComparisonEntry]] = Field(
        None, description="paired differences of two variants, seed by seed: [{a: V, b: W, metric: COLUMN}]"
    )
    figures: Optional[list[FigureEntry]] = Field(
        None, description="a list of figures (default: train/loss and test/loss against epochs)"
    )
    images: Optional[list[ImageTag]] = Field(
        None, description="a list of image tags saved as PNG files, per variant, e.g. [test/interpolation]"
    )

    @field_validator("search")
    @classmethod
    def alone(cls, search: Optional[SearchBlock], info: ValidationInfo) -> Optional[SearchBlock]:
        """A search makes its own variants: named ones or a grid beside it would be ignored."""
        for key, named in (("variants", "variants"), ("grid", "a grid")):
            if search is not None and info.data.get(key) is not None:
                raise ValueError(f"give a search or {named}, not both")
        return search

    @field_validator("seeds")
    @classmethod
    def distinct(cls, seeds: Optional[list[int]]) -> Optional[list[int]]:
        """A repeated seed would run the same fit twice and count it as two samples."""
        if seeds is not None and len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds repeat ({seeds})")
        return seeds

    @field_validator("splits")
    @classmethod
    def crossed(cls, splits: Optional[int], info: ValidationInfo) -> Optional[int]:
        """Splits are crossed with the seeds, and a search's trials run on one split."""
        if splits is not None and "seeds" in info.data and info.data["seeds"] is None:  # (not if refused)
            raise ValueError("splits are crossed with seeds: give seeds too (e.g. seeds: [0])")
        if splits is not None and info.data.get("search") is not None:
            raise ValueError("a search's trials run on one split: give splits with variants or a grid")
        return splits

    @field_validator("comparisons")
    @classmethod
    def paired(cls, comparisons: Optional[list[ComparisonEntry]], info: ValidationInfo) -> Any:
        """A comparison pairs the runs of two variants by seed: without seeds there is nothing to pair."""
        if comparisons is not None and "seeds" in info.data and info.data["seeds"] is None:  # (not if refused)
            raise ValueError("paired comparisons need seeds (e.g. seeds: [0, 1, 2])")
        return comparisons

    @model_validator(mode="after")
    def runs_something(self) -> "StudyFile":
        """The variants come from exactly one of variants, grid or search."""
        if self.search is None and (self.variants is None) == (self.grid is None):
            raise ValueError("give either variants or a grid (or a search)")
        return self


def study_schema() -> str:
    """The study file's JSON Schema (``amal study --schema``): an editor's YAML support checks a file with it."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **StudyFile.model_json_schema()}
    return json.dumps(schema, indent=2, ensure_ascii=False)


@dataclass(frozen=True)
class Study:
    """A study: its variants, the options they share, and what to draw."""

    name: str
    description: str
    common: tuple[str, ...]
    variants: tuple[Variant, ...]
    figures: tuple[FigureOptions, ...] = DEFAULT_FIGURES
    images: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # the study file, or how an ad-hoc study was given
    data: dict[str, Any] = field(default_factory=dict, compare=False)  # as written: saved in the study folder
    comparisons: tuple[Comparison, ...] = ()
    search: Optional[SearchSpec] = None  # a search: its trials are its variants, made as it runs
    config: Optional[Path] = None  # the study's config (that of a search's trials)
    seeds: Optional[list[int]] = None  # each variant once per seed: mean, std, bands
    jobs: Union[int, str] = 1  # workers training variants at once (auto: a worker per GPU or core)
    splits: Optional[int] = None  # and once per data split (split seeds 0 … splits − 1), crossed with the seeds

    @property
    def seeded(self) -> bool:
        """Whether the study runs each variant once per seed (its ``seeds``)."""
        return self.seeds is not None

    @property
    def folder(self) -> Path:
        return STUDY_DIR / self.name

    def experiment(self, variant: Variant) -> str:
        """The variant's experiment name: its runs are ``logs/<study>.<slug>/<run>``."""
        return f"{self.name}.{variant.slug}"

    def fit_options(self, variant: Variant) -> dict[str, Any]:
        """The variant's own options, as its fit gets them after the config and the common options: a mapping
        of dotted option names (no model summary before each of many fits, unless the variant asks for one)."""
        return {"trainer.enable_model_summary": False, **variant.options}


def build_study(where: str, data: Any, default_name: str) -> Study:
    """A Study from a study file's content; ``where`` names the file in errors."""
    file = validated(StudyFile, where, data)
    name = file.name or default_name
    if not PLAIN_NAME.match(name):  # the file's own name
        raise AmalError(f"{where}: name {name!r} is not a plain folder name (letters, digits, '.', '_', '-')")
    config = config_path(f"{where}, config", file.config)
    _, common = option_words(f"{where}, common", file.common)
    seeds = file.seeds
    if file.search is not None:
        variants = []
    elif file.grid is not None:
        runs = len(seeds or [None]) * (file.splits or 1)
        variants = grid_variants(f"{where}, grid", file.grid, config, file.max_variants, runs)
    else:
        variants = named_variants(f"{where}, variants", file.variants, config)
    slugs = [variant.slug for variant in variants]
    clash = next((variant.name for variant in variants if slugs.count(variant.slug) > 1), None)
    if clash is not None:
        raise AmalError(f"{where}: variant {clash!r} has the same folder name as another ({slug(clash)})")
    names = {variant.name for variant in variants}
    figures = DEFAULT_FIGURES
    if file.figures is not None:
        figures = figure_specs(f"{where}, figures", file.figures, names)
    comparisons = comparison_specs(f"{where}, comparisons", file.comparisons or [], names)
    search = file.search.spec() if file.search is not None else None
    return Study(
        name,
        file.description or name,
        common,
        tuple(with_seeds(variants, seeds, file.splits)),
        figures,
        tuple(file.images or ()),
        where,
        {**data, "name": name},  # as written
        comparisons,
        search,
        config,
        seeds,
        file.jobs,
        file.splits,
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
