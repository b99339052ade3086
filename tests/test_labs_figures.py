"""Every figure docs/LABS.md shows is one that `make figures` draws, and is in docs/figures.

The Makefile names what `make figures` writes: the figures of its studies (FIGURE_STUDIES, copied as
``<study>-<file>``; a search's too), the pictures of single runs (RUN_PICTURES, ``study:run:picture``) and the
outputs of the lab modules it calls (``docs/figures/...`` in its recipe; a name without ``.png`` is
the prefix of a module's files). A figure named in LABS.md outside all three would go stale: nothing
would redraw it when the labs change.
"""

import re

import pytest

from amal_lightning.studies.records import VariantRecord, write_record
from amal_lightning.studies.search.figures import search_file_names
from amal_lightning.studies.spec import load_study
from tests.helpers import CONFIGS, REPO

LABS = REPO / "docs" / "LABS.md"


def make_variable(text: str, name: str) -> list[str]:
    """The words of ``NAME := ...`` in the Makefile, continued over lines that end with a backslash."""
    match = re.search(rf"^{name} := ((?:.*\\\n)*.*)$", text, re.M)
    assert match, f"Makefile: no {name}"
    return match.group(1).replace("\\\n", " ").split()


def figures_make_draws() -> tuple[set[str], tuple[str, ...]]:
    """The files `make figures` writes in docs/figures, and the prefixes of those its modules name."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^figures:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    files = set()
    for study in make_variable(makefile, "FIGURE_STUDIES"):
        spec = load_study(CONFIGS / "studies" / f"{study}.yaml")
        files.update(f"{study}-{name}" for figure in spec.figures for _, name in figure.file_names())
        if spec.search is not None:  # a search's own figures
            files.update(f"{study}-{name}" for name in search_file_names(spec))
    for picture in make_variable(makefile, "RUN_PICTURES"):
        study, run, name = picture.split(":")
        files.add(f"{study}-{run.removesuffix('.seed0')}-{name}.png")
    named = re.findall(r"docs/figures/([\w.-]+)", recipe)
    files.update(name for name in named if name.endswith(".png"))
    return files, tuple(f"{name}-" for name in named if not name.endswith(".png"))


def test_every_figure_of_the_labs_is_drawn_by_make_figures_and_is_there():
    shown = sorted(set(re.findall(r"\(figures/([\w.-]+\.png)\)", LABS.read_text())))
    assert len(shown) > 30, shown  # the pattern still finds the labs' figures
    files, prefixes = figures_make_draws()
    not_drawn = [name for name in shown if name not in files and not name.startswith(prefixes)]
    assert not_drawn == [], f"docs/LABS.md shows figures that `make figures` does not draw: {not_drawn}"
    missing = [name for name in shown if not (REPO / "docs" / "figures" / name).is_file()]
    assert missing == [], f"docs/LABS.md shows figures missing from docs/figures: {missing}"


def test_make_figures_reads_the_run_a_study_s_record_names(tmp_path, monkeypatch, capsys):
    """Not version_0, not the newest folder: the run the record names (a variant run again has a newer one,
    and an `amal test` of an older run writes into its folder)."""
    from scripts.study_runs import main

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "studies/s"
    for name, run in (("a.seed0", "version_1"), ("b.seed0", "version_0")):
        write_record(folder, name, VariantRecord(name, f"s.{name}", "finished", run, checkpoint_root="ckpts"))
    (tmp_path / "logs/s.a.seed0/version_0/test-best-0").mkdir(parents=True)  # the newest folder, not the run
    assert main(["s", "a.seed0"]) == 0
    assert main(["s", "--checkpoint", "best.ckpt"]) == 0
    assert capsys.readouterr().out.split() == [
        "logs/s.a.seed0/version_1",
        "ckpts/s.a.seed0/version_1/best.ckpt",
        "ckpts/s.b.seed0/version_0/best.ckpt",
    ]
    with pytest.raises(SystemExit) as exit_info:
        main(["s", "c.seed0"])
    assert exit_info.value.code == 2 and "studies/s/variants/c.seed0.json: no run recorded" in capsys.readouterr().err
