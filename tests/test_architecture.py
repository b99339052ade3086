"""The package's layers: imports point down, never close a circle, and the commands that train nothing
import neither torch nor Lightning.

Each module's imports are read with ``ast`` (those inside functions too: a lazy import is still a
dependency). A module's layer is that of its top-level part of the package (``amal_lightning.api``,
``amal_lightning.data``, ...); a module may import from its own layer or a lower one.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "amal_lightning"
# From the bottom up: what a part may import is what lies below it (or beside it in its own layer).
LAYERS = [
    # the vocabulary every part shares, and the one writer of figure files (png: labs' pictures, studies' figures)
    {"errors", "checks", "batches", "parse_errors", "words", "png", "__init__"},
    {"data"},  # the datasets, and what the data itself allows (reference values)
    {"base_module"},  # the models' shared base
    {"runs"},  # a run: folders, checkpoint files, outcome, event files
    {"cluster"},  # SLURM: the job's identity, sbatch scripts
    {"callbacks"},  # what every run saves, guards, shows
    {"tme1", "tme2", "tme3"},  # the labs: their models, what they know, what their runs draw
    {"api"},  # one function runs a command and returns its outcome
    {"studies"},  # studies: grids and seeds, figures, search
    {"command_line", "__main__"},  # the only part that prints errors and exits
]
# The rooms every lab shares: they reach a lab's classes only through a config's class path.
GENERIC_ROOMS = ("callbacks", "api", "runs", "cluster", "studies", "command_line")
LAYER_OF = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The ``amal_lightning`` modules that ``path`` imports, anywhere in its code."""
    name = module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import, from the module's package
                base = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from package import module`
    modules = {module_name(source) for source in PACKAGE.rglob("*.py")}
    return {module for module in found if module in modules and module != name}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYER_OF["__init__"] if len(parts) == 1 else LAYER_OF[parts[1]]


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in PACKAGE.rglob("*.py")}


def test_every_part_of_the_package_has_a_layer():
    parts = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYER_OF), f"parts without a layer in this test: {sorted(parts - set(LAYER_OF))}"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in graph.items()
        for target in targets
        if layer(target) > layer(module)
    )


def import_circles(graph: dict[str, set[str]]) -> list[str]:
    """Each circle found by a depth-first walk, as ``a -> b -> a``."""
    state: dict[str, str] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return circles


def test_imports_point_down():
    upward = upward_imports(import_graph())
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def test_no_import_closes_a_circle():
    circles = import_circles(import_graph())
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_checks_catch_an_upward_import_and_a_circle():
    """The checks themselves, on made-up graphs: a model importing the command line, a circle of two."""
    upward = {"amal_lightning.tme1.functions": {"amal_lightning.command_line.main"}}
    assert upward_imports(upward) == [
        "amal_lightning.tme1.functions (layer 6) imports amal_lightning.command_line.main (layer 9)"
    ]
    circle = {"amal_lightning.api.a": {"amal_lightning.api.b"}, "amal_lightning.api.b": {"amal_lightning.api.a"}}
    assert import_circles(circle) == ["amal_lightning.api.a -> amal_lightning.api.b -> amal_lightning.api.a"]
    assert not upward_imports(circle) and not import_circles(upward)


def test_models_and_data_know_nothing_of_the_shell():
    shell = ("amal_lightning.command_line", "amal_lightning.studies", "amal_lightning.api")
    crossing = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.startswith(("amal_lightning.data", "amal_lightning.tme", "amal_lightning.base_module"))
        for target in targets
        if target.startswith(shell)
    ]
    assert not crossing, "\n".join(crossing)


def lab_imports(graph: dict[str, set[str]]) -> list[str]:
    """The imports of a lab's module (``tme1``–``tme3``) by a module of a generic room."""
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[1:2] and module.split(".")[1] in GENERIC_ROOMS
        for target in targets
        if target.split(".")[1:2] and target.split(".")[1].startswith("tme")
    )


def test_no_generic_room_imports_a_lab():
    """Adding a lab model is one room: nothing in callbacks/, api/, runs/, cluster/, studies/ or
    command_line/ names a lab's module (the labs' own knowledge is asked of the model itself)."""
    crossing = lab_imports(import_graph())
    assert not crossing, "\n".join(crossing)


def test_the_lab_check_catches_a_generic_room_importing_a_lab():
    graph = {
        "amal_lightning.callbacks.x": {"amal_lightning.tme3.autoencoder"},
        "amal_lightning.tme3.a": {"amal_lightning.callbacks.x"},
    }
    assert lab_imports(graph) == ["amal_lightning.callbacks.x imports amal_lightning.tme3.autoencoder"]


def test_a_housing_fit_imports_no_module_of_tme3(tmp_path):
    """A housing fit builds its model from the config's class path: TME3's modules (and their figure
    callbacks) stay unimported."""
    script = (
        "import sys\n"
        "from amal_lightning.api import fit\n"
        f"fit({str(PACKAGE.parent / 'configs' / 'regression.yaml')!r}, '--trainer.max_epochs', '1',"
        " '--trainer.enable_progress_bar', 'false', '--trainer.logger', 'false',"
        " '--trainer.enable_checkpointing', 'false')\n"
        "print('TME3', sorted(name for name in sys.modules if name.startswith('amal_lightning.tme3')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert "TME3 []" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["plot", "--help"],
        ["plot", "logs/none", "--metric", "train/loss", "-o", "x.png"],
        ["runs"],
        ["study", "--help"],
        ["study", "--schema"],
        ["submit", "--help"],
    ],
)
def test_commands_that_train_nothing_import_no_torch(args, tmp_path):
    """``amal --help`` and ``amal plot`` import neither torch nor Lightning (they start at once)."""
    script = (
        "import sys\n"
        "from amal_lightning.command_line.main import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('torch', 'lightning', 'torchvision', 'torchmetrics')\n"
        "loaded = sorted(name for name in heavy if name in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "LOADED []" in result.stdout, result.stdout + result.stderr
