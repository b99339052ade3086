"""The labs' notebooks: each percent-format script executed by a Jupyter kernel on tiny settings, and its
paired ``.ipynb`` (the executed copy a code host shows) holding the same cells."""

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("tme*.py"))
# What each notebook's `parameters` cell is given in the tests: a few steps, a few batches.
TINY = {"tme1": "STEPS = 20", "tme2": "EPOCHS = 2\nQ2_EPOCHS = 3", "tme3": "EPOCHS = 1\nBATCHES = 3"}


def parameters_index(notebook: nbformat.NotebookNode) -> int:
    return next(index for index, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))


def test_there_is_a_notebook_per_lab_with_its_parameters():
    assert [path.stem for path in NOTEBOOKS] == ["tme1", "tme2", "tme3"]
    for path in NOTEBOOKS:
        cell = jupytext.read(path).cells[parameters_index(jupytext.read(path))]
        assert "WORKDIR" in cell.source, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_notebook_runs_in_a_kernel_and_draws_its_figures(path, tmp_path):
    notebook = jupytext.read(path)
    given = f"WORKDIR = {str(tmp_path)!r}\n{TINY[path.stem]}"
    notebook.cells.insert(parameters_index(notebook) + 1, nbformat.v4.new_code_cell(given))
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(pictures) >= 2, f"{path.name} drew {len(pictures)} figures"
    assert any((tmp_path / "logs").iterdir()) and any((tmp_path / "checkpoints").iterdir())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_executed_copy_holds_the_scripts_cells(path):
    """``make notebooks`` writes the ``.ipynb`` from the ``.py``: an edit of one alone shows here."""
    paired = path.with_suffix(".ipynb")
    assert paired.is_file(), f"{paired.name} is missing: make notebooks writes it"
    script = [(cell.cell_type, cell.source) for cell in jupytext.read(path).cells]
    executed = nbformat.read(paired, as_version=4)
    assert [(cell.cell_type, cell.source) for cell in executed.cells] == script
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), f"{paired.name} was not executed"
    assert any("image/png" in output.get("data", {}) for cell in code for output in cell.get("outputs", []))
