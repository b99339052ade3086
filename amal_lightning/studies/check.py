"""Every variant's options checked by ``amal fit``'s own parser before anything trains.

A misspelt option in the ninth variant of a study should stop the study at once, not after
eight trainings. The check parses each variant's config, the study's common options and its own
(a mapping) with the real parser (LightningCLI's, with the config files, class paths and types it
implies) and stops right after parsing (:func:`amal_lightning.api.check_options`): no run folder is
made, no model is built, no data is read. Its error is the line ``amal fit`` itself would print.
"""

import json

from amal_lightning.api import check_options
from amal_lightning.errors import AmalError
from amal_lightning.studies.spec import Study


def check_study(study: Study) -> None:
    """Checks the common options, then every variant's options over them.

    One line of error names the study file, the variant (or the common options) and the
    parser's reason, which names the option.
    """
    if study.variants:
        try:
            check_options(study.variants[0].config, study.common)
        except AmalError as error:
            raise AmalError(f"{study.source}: common options: {error}") from None
    checked: set[str] = set()
    for variant in study.variants:
        # The runs of one variant differ only in their seed, a number the spec has checked already: the
        # parser sees each variant once (a 39-point grid with 3 seeds is 39 parses, not 117).
        options = study.fit_options(variant)
        unseeded = {key: value for key, value in options.items() if key != "seed_everything"}
        key = json.dumps([str(variant.config), unseeded], sort_keys=True, default=str)
        if variant.seed is not None and key in checked:
            continue
        checked.add(key)
        try:
            check_options(variant.config, study.common, options)
        except AmalError as error:
            raise AmalError(f"{study.source}: variant {variant.name!r}: {error}") from None
