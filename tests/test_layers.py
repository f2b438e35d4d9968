"""The import layers of src/genlab (docs/architecture.md): no module imports a higher layer, and no modules import
each other in a circle. Every import statement counts, those inside functions (lazy imports) and ``TYPE_CHECKING``
blocks included, and so do ``importlib.import_module("genlab...")`` calls with a literal name.

The checker is run on the real tree (0 upward imports, 0 circles) and on temporary copies of it with one planted
upward import, or one planted circle, each of which it must catch.
"""

from __future__ import annotations

import ast
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: lowest first; a module may import its own layer or a lower one. The top-level name of a module decides its layer
#: (``genlab.diffusion.samplers.sde`` is in ``diffusion``'s); "__init__" is the package ``genlab`` itself.
LAYERS = [
    {"errors", "_version", "checks", "registry", "rng", "device"},
    {"data", "nn", "ode", "mcmc", "config"},
    {"diffusion", "flow"},
    {"model", "checkpoint", "manifest", "training"},
    {"families", "inverse"},
    {"models", "distillation", "colorization"},
    {"apps", "metrics", "frechet", "plots", "bench", "figures"},
    {"cli", "__init__", "__main__"},
]


def layer_of(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else "__init__"
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def modules(src: Path) -> dict[str, Path]:
    """Dotted name -> file for every module of the genlab package under ``src`` (a package by its own name)."""
    out = {}
    for p in sorted((src / "genlab").rglob("*.py")):
        name = ".".join(p.relative_to(src).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _imported(node: ast.AST, package: str) -> list[str]:
    """The dotted names one AST node imports (absolute; relative imports resolved against ``package``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(parts + ([base] if base else []))
        return [f"{base}.{a.name}" for a in node.names] + [base]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def import_graph(src: Path) -> dict[str, set[str]]:
    """module -> the genlab modules it imports anywhere in its file. ``from genlab.x import y`` is an edge to
    ``genlab.x.y`` when that is a module, else to ``genlab.x``; a module's import of its own enclosing package (its
    ``__init__``, the package's face) is not an edge, except of ``genlab`` itself (the top of the layers)."""
    files = modules(src)
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = _imported(node, package)
            if isinstance(node, ast.ImportFrom):  # "from a import b": a.b when it is a module, else a
                base = names.pop()
                names = [n if n in files else base for n in names]
            for t in names:
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != mod and (t == "genlab" or not mod.startswith(t + ".")):
                    edges[mod].add(t)
    return edges


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, bs in edges.items() for b in bs
                  if layer_of(a) is not None and layer_of(b) is not None and layer_of(b) > layer_of(a))


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    nodes = sorted(set(edges) | {b for bs in edges.values() for b in bs})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        u = stack.pop()
                        on.discard(u)
                        comp.append(u)
                        if u == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(edges.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def violations(src: Path) -> list[str]:
    edges = import_graph(src)
    unplaced = sorted({m.split(".")[1] for m in modules(src) if layer_of(m) is None})
    return ([f"upward: {u}" for u in upward_imports(edges)] + [f"circle: {' '.join(c)}" for c in circles(edges)]
            + [f"not in any layer (add it to LAYERS and docs/architecture.md): {n}" for n in unplaced])


def test_the_package_keeps_its_layers():
    assert violations(SRC) == []


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A pristine copy of src/genlab (Python files only); each planted test works on its own copy of it."""
    root = tmp_path_factory.mktemp("layers") / "src"
    shutil.copytree(SRC / "genlab", root / "genlab", ignore=lambda d, names: [
        n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir()) or n == "__pycache__"])
    return root


PLANTS = {
    # a lazy upward import, inside a function: the lowest layer reaches the command line
    "lazy upward": ({"errors.py": "\n\ndef _planted():\n    from genlab.cli import app  # noqa\n"},
                    "upward: genlab.errors -> genlab.cli.app"),
    # a module-level import of the package itself (which imports everything) from below
    "import genlab": ({"checkpoint.py": "\nimport genlab  # noqa\n"}, "upward: genlab.checkpoint -> genlab"),
    # a relative import upward
    "relative": ({"nn/mlp.py": "\nfrom ..families import gan  # noqa\n"}, "upward: genlab.nn.mlp -> genlab.families.gan"),
    # importlib with a literal name
    "importlib": ({"ode.py": "\n\ndef _planted():\n    import importlib\n    return importlib.import_module("
                             "'genlab.models')\n"}, "upward: genlab.ode -> genlab.models"),
    # a circle inside one layer, closed by a lazy import
    "circle": ({"data/dataset.py": "\n\ndef _planted():\n    from genlab.nn import mlp  # noqa\n",
                "nn/mlp.py": "\nfrom genlab.data import dataset  # noqa\n"},
               "circle: genlab.data.dataset genlab.nn.mlp"),
}


@pytest.mark.parametrize("plant", list(PLANTS))
def test_a_planted_upward_import_or_circle_fails(copy, tmp_path, plant):
    src = tmp_path / "src"
    shutil.copytree(copy, src)
    assert violations(src) == []  # the copy is clean before planting
    edits, expected = PLANTS[plant]
    for rel, text in edits.items():
        path = src / "genlab" / rel
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    found = violations(src)
    assert expected in found, found
    assert all(v.startswith(("upward", "circle")) for v in found)


def test_a_module_outside_every_layer_fails(copy, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(copy, src)
    (src / "genlab" / "newroom.py").write_text('"""A new top-level module, placed in no layer."""\n')
    assert violations(src) == ["not in any layer (add it to LAYERS and docs/architecture.md): newroom"]
