"""``amal study FILE --quick``: a study at a tenth of its training budget, to try it before running it in full.

A study's budget is the ``trainer.max_epochs`` or ``trainer.max_steps`` its fits train for: in the
study's common options, in a variant's own options, or in the config they start from (a study
driven by steps, as ``tme2_step_size``, sets ``max_steps`` and ``max_epochs: -1``). Each one that
is set is cut to a tenth (at least 1), wherever it stands, so a study driven by steps is cut as one
driven by epochs. The quick study has a name and a folder of its own, ``<name>-quick``: its variants
would otherwise take the place of the full study's records (other options, another variant).
"""

import dataclasses
import math
from pathlib import Path
from typing import Any, Optional

import yaml

from amal_lightning.studies.spec import Study
from amal_lightning.words import given_value

QUICK_FRACTION = 10  # --quick trains a tenth of the epochs or steps
QUICK_SUFFIX = "-quick"
BUDGET = ("trainer.max_epochs", "trainer.max_steps")


def config_budget(config: Optional[Path]) -> dict[str, Any]:
    """The ``max_epochs`` and ``max_steps`` a config file sets in its ``trainer`` (unreadable: none)."""
    try:
        trainer = (yaml.safe_load(Path(str(config)).read_text()) or {}).get("trainer") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}
    return {f"trainer.{key}": trainer[key] for key in ("max_epochs", "max_steps") if key in trainer}


def cut(value: Any) -> Any:
    """A tenth of a positive budget, at least 1; -1 (no limit) and anything that is not a number as it is."""
    try:
        number = int(str(value))
    except ValueError:
        return value
    return max(1, math.ceil(number / QUICK_FRACTION)) if number > 0 else number


def quick_study(study: Study) -> Study:
    """``study`` at a tenth of its epochs or steps, named ``<name>-quick``."""
    budget = config_budget(study.config or (study.variants[0].config if study.variants else None))
    for key in BUDGET:
        given = given_value(f"--{key}", list(study.common))
        if given is not None:
            budget[key] = given
    common = (*study.common, *(f"--{key}={cut(value)}" for key, value in budget.items()))
    variants = tuple(
        dataclasses.replace(variant, options={**variant.options, **budget_of(variant.options)})
        for variant in study.variants
    )
    name = f"{study.name}{QUICK_SUFFIX}"
    data = dict(study.data, name=name)
    if isinstance(data.get("common"), dict):  # study.yaml says what ran
        data["common"] = {
            **data["common"],
            **{key: cut(data["common"].get(key, value)) for key, value in budget.items()},
        }
    described = f"{study.description} (--quick: a tenth of its epochs or steps)"
    return dataclasses.replace(study, name=name, common=common, variants=variants, data=data, description=described)


def budget_of(options: dict[str, Any]) -> dict[str, Any]:
    """A variant's own epochs or steps, cut to a tenth."""
    return {key: cut(options[key]) for key in BUDGET if key in options}
