"""Every variant's command line checked by ``amal fit``'s own parser before anything trains.

A misspelt option in the ninth variant of a study should stop the study at once, not after
eight trainings. The check parses each variant's full ``amal fit`` command line with the real
parser (LightningCLI's, with the config files, class paths and types it implies) and stops right
after parsing (:func:`amal_lightning.api.check_command_line`): no run folder is made, no model is
built, no data is read. Its error is the line ``amal fit`` itself would print.
"""

from amal_lightning.api import check_command_line
from amal_lightning.errors import AmalError
from amal_lightning.studies.spec import Study


def check_study(study: Study) -> None:
    """Checks the common options, then every variant's full ``amal fit`` command line.

    One line of error names the study file, the variant (or the common options) and the
    parser's reason, which names the option.
    """
    if study.variants:
        try:
            check_command_line(["fit", "--config", str(study.variants[0].config), *study.common])
        except AmalError as error:
            raise AmalError(f"{study.source}: common options: {error}") from None
    checked: set[tuple[str, ...]] = set()
    for variant in study.variants:
        # The runs of one variant differ only in their seed, a number the spec has checked already: the
        # parser sees each variant once (a 39-point grid with 3 seeds is 39 parses, not 117).
        command = tuple(word for word in study.fit_args(variant) if not word.startswith("--seed_everything="))
        if variant.seed is not None and command in checked:
            continue
        checked.add(command)
        try:
            check_command_line(study.fit_args(variant))
        except AmalError as error:
            raise AmalError(f"{study.source}: variant {variant.name!r}: {error}") from None
