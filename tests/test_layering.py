"""The package's architecture, checked: each layer of modules imports only from the layers below
it, the library's package ``__init__`` files import nothing, and every package ships.

The layers, bottom to top (README, "Layout"): the foundation (errors, escaping, paths, the work
budget, expressions, TeX, the size rules, the reference module); the records; the spec file's
reader; the layer classes; the spec loader; the analysis; the solver and the views (siblings:
neither imports the other); the renderers; the frameworks; teaching; the CLI. Imports under
``if TYPE_CHECKING:`` are for annotations only and are not counted. The records' one-line
delegations to the views and the renderers (``Report.to_dict``, ``Entry.to_dict``,
``Report.total_mult_adds``, ``Report._repr_markdown_``), imported when called, are the only
exceptions, listed here by the modules they reach.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "convcalc"

LAYERS: list[tuple[str, ...]] = [
    (
        "convcalc.errors",
        "convcalc.escape",
        "convcalc.paths",
        "convcalc.budget",
        "convcalc.expr",
        "convcalc.tex",
        "convcalc.arith",
        "convcalc.reference",
    ),
    ("convcalc.records",),
    ("convcalc.spec.document",),
    ("convcalc.layers",),
    ("convcalc.spec",),
    ("convcalc.analysis",),
    ("convcalc.solve", "convcalc.views"),
    ("convcalc.render",),
    ("convcalc.frameworks",),
    ("convcalc.teach",),
    ("convcalc.cli", "convcalc.__main__"),
]

# (importing module, imported module): Report.to_dict, Entry.to_dict, Report.total_mult_adds and
# Report._repr_markdown_ keep the library's API on the record while the work is a view's
DELEGATIONS = {
    ("convcalc.records", "convcalc.views.summary"),
    ("convcalc.records", "convcalc.views.costs"),
    ("convcalc.records", "convcalc.render.text"),
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def layer_of(module: str) -> tuple[int, str]:
    """The index of the layer holding ``module`` and the prefix that placed it (the longest)."""
    found = [
        (len(prefix), index, prefix)
        for index, prefixes in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    if not found:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and the README)")
    _, index, prefix = max(found)
    return index, prefix


def imports(path: Path) -> list[tuple[str, int]]:
    """The convcalc modules ``path`` imports (anywhere but under ``if TYPE_CHECKING:``), with
    the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "convcalc":
                names = [f"convcalc.{alias.name}" for alias in node.names]
                found += [(name, node.lineno) for name in names if name != "convcalc.__version__"]
            elif node.module.startswith("convcalc."):
                found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith("convcalc.")]
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda path: module_name(path))
def test_imports_point_down(path: Path) -> None:
    module = module_name(path)
    if module == "convcalc":
        return  # the package's lazy public names reach every layer by design
    own, _ = layer_of(module)
    upward = [
        f"line {line}: {module} imports {target}"
        for target, line in imports(path)
        if layer_of(target)[0] > own and (module, target) not in DELEGATIONS
    ]
    assert upward == []


def private_reaches(path: Path) -> list[str]:
    """Where a module takes another module's private name (one leading underscore): imported
    (``from convcalc.x import _name``, ``from . import _name``), or read from what it imported
    (``x._name``, ``convcalc.x._name`` after ``import convcalc.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    imported: set[str] = set()

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            node.level > 0 or (node.module or "").startswith("convcalc")
        ):
            source = "." * node.level + (node.module or "")
            for alias in node.names:
                if private(alias.name):
                    found.append(f"line {node.lineno}: imports {source}.{alias.name}")
                imported.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            names = [a for a in node.names if a.name.startswith("convcalc")]
            imported |= {a.asname or a.name.split(".")[0] for a in names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            root = node.value  # x._name, or convcalc.solve.stack._name: the chain's first name
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in imported:
                found.append(f"line {node.lineno}: reads {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda path: module_name(path))
def test_modules_keep_out_of_each_others_private_names(path: Path) -> None:
    """A name one module shares with another is public (no leading underscore): a reader
    of a module knows that its private names serve it alone."""
    assert private_reaches(path) == []


SIBLINGS = ("convcalc.solve", "convcalc.views")


@pytest.mark.parametrize("path", modules(), ids=lambda path: module_name(path))
def test_solver_and_views_stay_apart(path: Path) -> None:
    """The solver and the views sit on one layer and never import each other."""
    module = module_name(path)
    own = next((prefix for prefix in SIBLINGS if module.startswith(prefix + ".")), None)
    if own is None:
        return
    crossing = [
        target
        for target, _ in imports(path)
        for other in SIBLINGS
        if other != own and target.startswith(other + ".")
    ]
    assert crossing == []


@pytest.mark.full
def test_no_import_cycles_at_load() -> None:
    """Module-level imports form no cycle (the layers allow none; this names one if it
    appears)."""
    graph: dict[str, set[str]] = {}
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [node for node in tree.body if isinstance(node, ast.ImportFrom | ast.Import)]
        names = {target for target, line in imports(path) if any(n.lineno == line for n in top)}
        graph[module_name(path)] = names & {module_name(p) for p in modules()}
    state: dict[str, int] = {}
    for start in graph:
        stack = [(start, iter(sorted(graph[start])))]
        state[start] = state.get(start, 0) or 1
        if state[start] == 2:
            continue
        trail = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                trail.pop()
            elif state.get(child) == 1:
                raise AssertionError(" → ".join([*trail[trail.index(child) :], child]))
            elif not state.get(child):
                state[child] = 1
                trail.append(child)
                stack.append((child, iter(sorted(graph[child]))))


@pytest.mark.parametrize(
    "path",
    # the CLI's registers its commands; draw's is the drawing API (convcalc.render.draw.to_svg)
    [p for p in PACKAGE.rglob("__init__.py") if p.parent.name not in {"cli", "convcalc", "draw"}],
    ids=lambda path: module_name(path),
)
def test_library_packages_import_nothing(path: Path) -> None:
    """``import convcalc.views`` costs nothing: start-up stays fast whatever a command needs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    loaded = [
        node.lineno
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")
    ]
    assert loaded == []


# the input-size solver, bottom to top: the arithmetic, sizes of the input, the conditions, the
# boxes, the walk over a spec, the answer
INPUT_SOLVER = ("sizes", "terms", "conditions", "joint", "walk", "inputs")


@pytest.mark.parametrize("name", INPUT_SOLVER)
def test_the_input_solver_reads_bottom_up(name: str) -> None:
    """Each part of the input-size solver imports only the parts before it."""
    later = {f"convcalc.solve.{n}" for n in INPUT_SOLVER[INPUT_SOLVER.index(name) :]}
    path = PACKAGE / "solve" / f"{name}.py"
    assert [t for t, _ in imports(path) if t in later] == []


def test_every_package_ships() -> None:
    """pyproject lists every package (a forgotten one passes the tests and is missing from the
    wheel)."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {module_name(p) for p in PACKAGE.rglob("__init__.py")} | {"convcalc.specs"}
    assert listed == found
