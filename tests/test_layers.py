"""The layers of docs/for-contributors.md, checked on the source: one way in to the data, imports point down.

- Only ``regulars.data`` talks to the database: no ``.con``/``._con``, ``.sql(`` or ``duckdb``
  import anywhere else (docstrings included: examples are code too).
- Imports point down: interfaces (cli, api, web; server shared by api and web) -> jobs/reports ->
  core (features, segments, models, recommend, experiments, activation, text, ...) -> data ->
  ``regulars.values``. ``models`` imports only itself and ``regulars.values``. No interface imports
  another: ``api`` and ``web`` share ``server``; only ``server/app.py`` (the composition root)
  mounts both.

Every import counts, also the ones inside functions.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "regulars"

#: Layer of each top-level part of the package (higher imports lower, never the reverse).
LAYERS = {
    "values": 0,
    "data": 1,
    "features": 2, "segments": 2, "models": 2, "recommend": 2, "experiments": 2, "activation": 2, "text": 2,
    "fairness": 2, "anomalies": 2, "privacy": 2, "demo": 2,
    "jobs": 3, "reports": 3,
    "server": 4, "cli": 5, "api": 5, "web": 5,
}
INTERFACES = {"cli", "api", "web"}
#: What an interface may import of the other interfaces (and server of them): nothing but these.
INTERFACE_EXCEPTIONS = {
    "server.app": {"api", "web"},  # the composition root mounts the JSON routes and the pages
}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append((".".join(parts), path))
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every ``regulars.*`` module imported by the file at *path* (anywhere in it)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(["regulars", *base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{a.name}" for a in node.names}
    return {n[len("regulars."):] for n in found if n.startswith("regulars.")}


def _part(module: str) -> str:
    return module.split(".")[0]


DATABASE = re.compile(r"\._?con\b|\.sql\(|^\s*(import duckdb|from duckdb\b)", re.M)


@pytest.mark.parametrize("module, path", [m for m in _modules() if _part(m[0]) != "data"], ids=lambda v: str(v))
def test_only_the_data_layer_talks_to_the_database(module, path):
    text = path.read_text()
    hits = [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0).strip()}" for m in DATABASE.finditer(text)]
    assert not hits, f"{module} reaches the database outside regulars.data: {hits}"


def test_every_part_of_the_package_has_a_layer():
    parts = {_part(m) for m, _ in _modules() if "." in m} | {m for m, p in _modules() if p.parent == SRC}
    assert parts - {""} <= set(LAYERS), f"give these a layer in tests/test_layers.py: {sorted(parts - set(LAYERS))}"


def _violations() -> list[str]:
    out = []
    known = {m for m, _ in _modules()}
    for module, path in _modules():
        if path.parent == SRC and path.name == "__init__.py":
            continue  # regulars/__init__.py re-exports the Workspace for notebooks
        part = _part(module)
        for target in sorted(_imports(path, module)):
            if target not in known and target.rsplit(".", 1)[0] in known:
                target = target.rsplit(".", 1)[0]  # `from regulars.x import name`
            other = _part(target)
            if other == part or other not in LAYERS:
                continue
            allowed = INTERFACE_EXCEPTIONS.get(module, set())
            if part == "models" and other != "values":
                out.append(f"{module} -> {target}: models import only themselves and regulars.values")
            elif LAYERS[other] > LAYERS[part] and other not in allowed:
                out.append(f"{module} -> {target}: imports upward ({part} is below {other})")
            elif part in INTERFACES and other in INTERFACES and other not in allowed:
                out.append(f"{module} -> {target}: an interface imports another interface")
    return sorted(set(out))


def test_imports_point_down():
    problems = _violations()
    assert not problems, "\n".join(problems)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    fake = tmp_path / "regulars"
    (fake / "data").mkdir(parents=True)
    (fake / "jobs").mkdir()
    (fake / "data" / "__init__.py").write_text("")
    (fake / "jobs" / "__init__.py").write_text("")
    (fake / "jobs" / "thing.py").write_text("X = 1\n")
    (fake / "data" / "store.py").write_text("def f():\n    from regulars.jobs.thing import X\n    return X\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert _violations() == ["data.store -> jobs.thing: imports upward (data is below jobs)"]
