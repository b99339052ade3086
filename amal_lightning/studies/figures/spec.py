"""A study file's ``figures``: each entry read as its kind's options (:mod:`~amal_lightning.studies.figures.registry`).

:data:`FigureEntry` is the pydantic type of one entry, a union of the kinds' models told apart by
``kind`` (``curves`` where it is missing), for a study file's model (``figures: list[FigureEntry]``)
and its JSON Schema. Before a kind's model reads the entry, the entry is checked to be a mapping of
a known kind whose keys are that kind's, so that a key of another kind is said as such
(``vline is a key of sweep figures, not of curves ones``). :func:`figure_specs` reads the entries
and checks the variants they name; every error is one line naming the file, the figure and the key.
"""

from collections.abc import Sequence
from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Discriminator, Tag, TypeAdapter, ValidationError

from amal_lightning.errors import AmalError
from amal_lightning.studies.figures.curves import Curves
from amal_lightning.studies.figures.options import FigureOptions, text
from amal_lightning.studies.figures.registry import KINDS
from amal_lightning.studies.validation import one_line

__all__ = ["DEFAULT_FIGURES", "FigureEntry", "FigureOptions", "figure_specs"]
FIGURE_KEYS = tuple(dict.fromkeys(key for kind in KINDS.values() for key in kind.options.model_fields))
DEFAULT_FIGURES: tuple[FigureOptions, ...] = (Curves(name="loss"),)  # train/loss and test/loss against epochs


def kind_of(entry: Any) -> str:
    """An entry's kind: its ``kind`` key (``curves`` if it has none), or the kind of a model already made."""
    if isinstance(entry, dict):
        return text(entry.get("kind", "curves"))
    return getattr(entry, "kind", "curves")


def known_keys(entry: Any) -> Any:
    """The entry, if it is a mapping of a known kind whose keys are all of that kind (else ValueError)."""
    if isinstance(entry, FigureOptions):
        return entry
    if not isinstance(entry, dict):
        raise ValueError(f"expected a mapping with {', '.join(FIGURE_KEYS)}")
    kind = kind_of(entry)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {entry['kind']!r}")
    for key in entry:
        if key not in FIGURE_KEYS:
            raise ValueError(f"unknown key {key!r} (known: {', '.join(FIGURE_KEYS)})")
        if key not in KINDS[kind].options.model_fields:
            owners = " and ".join(name for name, other in KINDS.items() if key in other.options.model_fields)
            raise ValueError(f"{key} is a key of {owners} figures, not of {kind} ones")
    return entry


KIND_MODELS = tuple(Annotated[kind.options, Tag(name)] for name, kind in KINDS.items())
# One entry of a study file's ``figures``: the options of its kind.
FigureEntry = Annotated[Union[KIND_MODELS], Discriminator(kind_of), BeforeValidator(known_keys)]
ENTRY: TypeAdapter[FigureOptions] = TypeAdapter(FigureEntry)


def figure_spec(here: str, entry: Any, names: set[str]) -> FigureOptions:
    """One entry (as written, or already read), read and checked against the variants' ``names``."""
    try:
        spec = ENTRY.validate_python(entry)
    except ValidationError as error:
        raise AmalError(one_line(here, error, entry, ENTRY.json_schema())) from None
    for key, name in spec.named_variants():
        if name not in names:
            raise AmalError(f"{here}: {key}: no variant named {name!r}")
    return spec


def figure_specs(where: str, figures: Any, names: set[str]) -> tuple[FigureOptions, ...]:
    """A study file's ``figures`` (``where`` names them), each checked against the variants' ``names``:
    the entries as written, or as a study file's model read them (:data:`FigureEntry`)."""
    if not isinstance(figures, Sequence) or isinstance(figures, str) or not figures:
        raise AmalError(f"{where}: figures must be a non-empty list of mappings")
    return tuple(figure_spec(f"{where}, figure {index + 1}", entry, names) for index, entry in enumerate(figures))
