"""The shape of the package, computed from its source: sub-packages in layers that import only
downwards, no import cycle, no package import hidden in a function without a reason, and
modules and functions of a readable size.

Layers, bottom to top (weedout/__init__.py says what each holds):

    core -> data -> config -> analysis | viz -> axes -> pipeline -> cluster -> report -> entry points

A module may import its own sub-package and any layer below; `analysis` and `viz` are siblings
(neither imports the other); the core imports nothing else of weedout.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "weedout"
LAYERS = {"core": 0, "data": 1, "config": 2, "analysis": 3, "viz": 3, "axes": 4, "pipeline": 5,
          "cluster": 6, "report": 7}
TOP = 8  # weedout/*.py and weedout/bench/: cli, fetch, notebook_filter, the benchmark
MAX_MODULE, MAX_FUNCTION = 300, 60


def modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def _target(mods: dict, name: str, node) -> list[str]:
    """The weedout modules an import statement names (a package's attribute import of a
    submodule counts as that submodule)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = name.split(".") if mods[name].name == "__init__.py" else name.split(".")[:-1]
        if node.level:
            base = base[:len(base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        names = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module
                 for a in node.names]
    out = []
    for t in names:
        while t and t not in mods:
            t = t.rpartition(".")[0]
        if t.startswith("weedout") and t != name:
            out.append(t)
    return out


def graph() -> tuple[dict, list]:
    """Import edges between weedout modules, and the package imports made inside functions
    (module, line, has a comment saying why)."""
    mods, edges, inner = modules(), {}, []
    for name, f in mods.items():
        src = f.read_text()
        lines = src.splitlines()
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.setdefault(name, set()).update(_target(mods, name, node))
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and _target(mods, name, node):
                        inner.append((name, node.lineno, "#" in lines[node.lineno - 1]))
    return edges, inner


def layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS[parts[1]], parts[1]
    return TOP, parts[-1]


def cycles(edges: dict) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), a package's
    __init__ re-exporting its own children excepted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 and not all(m == min(comp) or m.startswith(min(comp) + ".")
                                         for m in comp):
                out.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    assert cycles(graph()[0]) == []


def test_layers_import_only_downwards():
    bad = []
    for src, targets in graph()[0].items():
        lo, pkg = layer(src)
        for t in targets:
            lt, tpkg = layer(t)
            if tpkg == pkg:
                continue
            if lt > lo or lt == lo < TOP:  # upwards, or across siblings of one layer
                bad.append(f"{src} -> {t}")
    assert bad == [], "imports against the layers:\n" + "\n".join(bad)


def test_the_core_imports_nothing_else_of_weedout():
    edges = graph()[0]
    bad = [f"{s} -> {t}" for s, ts in edges.items() if s.startswith("weedout.core")
           for t in ts if not t.startswith("weedout.core")]
    assert bad == []


def test_package_imports_inside_functions_say_why():
    silent = [f"{m}:{line}" for m, line, why in graph()[1] if not why]
    assert silent == [], "a package import inside a function needs a comment saying why"


def test_modules_and_functions_stay_readable():
    long_modules, long_functions = [], []
    for name, f in modules().items():
        src = f.read_text()
        if len(src.splitlines()) > MAX_MODULE:
            long_modules.append(f"{name} ({len(src.splitlines())} lines)")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION:
                    long_functions.append(f"{name}.{node.name} ({n} lines)")
    assert long_modules == [] and long_functions == [], (long_modules, long_functions)


def test_the_checker_sees_a_cycle_and_a_layer_breach():
    """The graph code itself, on a made-up graph: a cycle and an upward import are found."""
    assert cycles({"weedout.a": {"weedout.b"}, "weedout.b": {"weedout.a"}}) == [
        ["weedout.a", "weedout.b"]]
    assert layer("weedout.core.models") < layer("weedout.pipeline.stages")


@pytest.mark.parametrize("alias,module", [("search", "weedout.core.search"),
                                          ("experiment", "weedout.pipeline.stages")])
def test_documented_aliases(alias, module):
    import importlib

    import weedout
    assert getattr(weedout, alias) is importlib.import_module(module)
    ns = {}
    exec(f"from weedout import {alias}", ns)
    assert ns[alias].__name__ == module
