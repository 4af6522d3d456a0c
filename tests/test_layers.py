"""The layers of docs/for-contributors.md, checked on the source: one way in to the data, imports point down.

- Only ``regulars.data`` talks to the database: no ``.con``/``._con``, ``.sql(`` or ``duckdb``
  import anywhere else (docstrings included: examples are code too).
- Imports point down: interfaces (cli, api, web; server shared by api and web) -> jobs/reports ->
  core (features, segments, models, recommend, experiments, activation, text, ...) -> data ->
  ``regulars.values`` (and ``regulars._lazy``). ``models`` imports only itself, ``regulars.values``
  and ``regulars._lazy``. No interface imports
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
    "values": 0, "_lazy": 0,  # what every layer shares: rules and dates; the lazy-export helper of packages
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
#: Interface-to-interface imports that remain, (importer prefix, imported prefix): why. Empty since
#: the modules api/ and web/ share moved to ``server/`` (issue 15, item 3).
SERVER_NOT_YET_MOVED: dict[tuple[str, str], str] = {}


#: Models that still build their input queries (Ibis over the shop's tables) and so reach into
#: the data layer: module -> (what it may import, why). Empty: the builders live in features/
#: (features/labels.py, features/purchase_history.py, features/leads.py); it may only stay empty.
MODELS_STILL_BUILDING_QUERIES: dict[str, tuple[set[str], str]] = {}
#: Models that may import ``ibis`` (an estimator takes arrays/frames and builds no query), and why.
MODELS_USING_IBIS = {
    "models.summary": "summarize/summary_expression take any transactions frame, an Ibis table too, and "
                      "summarise it on its own engine (DuckDB, Spark) as one expression; they read no shop table",
}


def _imports_ibis(path: Path) -> bool:
    tree = ast.parse(path.read_text(), str(path))
    return any(
        (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "ibis" for a in n.names))
        or (isinstance(n, ast.ImportFrom) and not n.level and (n.module or "").split(".")[0] == "ibis")
        for n in ast.walk(tree)
    )


def test_models_build_no_queries():
    """Item 2 of issue 15: models/ is pure (frames in, estimates out); query builders live in features/."""
    using = {m for m, p in _modules() if _part(m) == "models" and _imports_ibis(p)}
    assert using <= set(MODELS_USING_IBIS), f"models that build Ibis queries (move them to features/): {sorted(using - set(MODELS_USING_IBIS))}"
    assert set(MODELS_USING_IBIS) <= using, f"no longer import ibis: take them out of MODELS_USING_IBIS: {sorted(set(MODELS_USING_IBIS) - using)}"
    assert not MODELS_STILL_BUILDING_QUERIES, "models may not import the data layer"


def _not_yet_moved(module: str, target: str) -> bool:
    return any(module.startswith(m) and (target + ".").startswith(t) for m, t in SERVER_NOT_YET_MOVED)


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


DATABASE = re.compile(
    r"\._?con\b|\.(sql|raw_sql)\(|^\s*(import duckdb|from duckdb\b)|(get|has|set)attr\([^)\n]*[\"']_?con[\"']"
    r"|from regulars\.data\.connection import (?!has_database\s*$)|from regulars\.data\.rows import (?!jsonable\b)",
    re.M,
)
#: SQL as code: a statement at the start of a string literal (prose such as help texts that
#: *mention* a query does not start with one). Upper case, as every statement of ours is written.
SQL_TEXT = re.compile(
    r"^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\"?\w+\"?\s+SET\s|DELETE\s+FROM\s|"
    r"CREATE\s+(OR\s+REPLACE\s+)?(TEMP\w*\s+)?(TABLE|VIEW|SEQUENCE|INDEX|MACRO)\s|DROP\s+(TABLE|VIEW|SEQUENCE)\s|"
    r"ALTER\s+TABLE\s|WITH\s+\w+\s+AS\s*\(|COPY\s|ATTACH\s|DETACH\s|PRAGMA\s|SET\s+\w+\s*=|"
    r"BEGIN(\s+TRANSACTION)?\s*$|COMMIT\s*$|ROLLBACK\s*$|(FORCE\s+)?CHECKPOINT|SHOW\s+TABLES|DESCRIBE\s)"
)
#: Methods that run a query given as text (``ws.execute(expr)`` with an Ibis expression is fine).
RUNS_TEXT = {"execute", "executemany", "sql", "raw_sql", "query", "fetch"}

#: Modules outside ``regulars.data`` allowed to hold SQL text, and why. Keep it short.
SQL_ALLOWED: dict[str, str] = {}
#: Modules outside ``regulars.data`` that still reach the database (any finding above), and why:
#: their queries should move to a ``data/*_queries.py`` module. Empty since main's 122 commits
#: were merged with their queries moved; a listed module that no longer reaches the database
#: fails the test, so the list only shrinks.
DATABASE_NOT_YET_MOVED: dict[str, str] = {}


def _string_start(node) -> str | None:
    """The leading literal text of a str constant, f-string or ``"a" + b`` expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _string_start(node.left)
    return None


def _sql_in_code(path: Path) -> list[str]:
    """SQL statements in string literals and queries run from text, with their line numbers."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(n.body[0].value) for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)
    }
    hits: dict[int, str] = {}  # one finding per line (ast.walk meets a call before its arguments)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_TEXT:
            if node.args and _string_start(node.args[0]) is not None:
                hits.setdefault(node.lineno, f"line {node.lineno}: .{node.func.attr}() runs query text")
        elif isinstance(node, (ast.Constant, ast.JoinedStr)) and id(node) not in docstrings:
            text = _string_start(node)
            if text and SQL_TEXT.match(text):
                hits.setdefault(node.lineno, f"line {node.lineno}: SQL {text.strip()[:40]!r}")
    return [hits[line] for line in sorted(hits)]


@pytest.mark.parametrize("module, path", [m for m in _modules() if _part(m[0]) != "data"], ids=lambda v: str(v))
def test_only_the_data_layer_talks_to_the_database(module, path):
    text = path.read_text()
    hits = [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0).strip()}" for m in DATABASE.finditer(text)]
    if module not in SQL_ALLOWED:
        hits += _sql_in_code(path)
    if module in DATABASE_NOT_YET_MOVED:
        assert hits, f"{module} no longer reaches the database: remove it from DATABASE_NOT_YET_MOVED"
        return
    assert not hits, f"{module} reaches the database outside regulars.data: {hits}"


def test_the_pending_lists_name_real_modules():
    known = {m for m, _ in _modules()}
    listed = set(DATABASE_NOT_YET_MOVED) | set(SQL_ALLOWED) | set(MODELS_STILL_BUILDING_QUERIES)
    assert listed <= known, f"listed but gone (moved or renamed): {sorted(listed - known)}"


def test_the_connection_finder_sees_every_way_to_the_connection():
    seen = ['con = ws.con', 'ws._con.execute(q)', 'getattr(ws, "con", None)', "hasattr(ws, '_con')",
            'rows = ws.sql(q)', 'import duckdb', 'from regulars.data.connection import connection',
            'from regulars.data.connection import connection, has_database']
    fine = ['from regulars.data.connection import has_database', 'from regulars.data.rows import jsonable',
            'getattr(ws, "settings_con", None)', 'ws.execute(expr)', 'cons = 1']
    assert [s for s in seen if not DATABASE.search(s)] == []
    assert [s for s in fine if DATABASE.search(s)] == []


def test_the_sql_finder_sees_sql_and_not_prose(tmp_path):
    code = tmp_path / "thing.py"
    code.write_text(
        '"""SELECT in a docstring is documentation."""\n'
        'HELP = "One read-only query, e.g. SELECT count(*) FROM orders"\n'
        'Q = "SELECT count(*) FROM orders"\n'
        'def f(db, t):\n'
        '    db.execute(f"DELETE FROM {t}")\n'
        '    db.execute(expr)\n'
        '    return db.execute("SHOW TABLES")\n'
    )
    assert _sql_in_code(code) == [
        "line 3: SQL 'SELECT count(*) FROM orders'",
        "line 5: .execute() runs query text",
        "line 7: .execute() runs query text",
    ]


#: The tables of saved segments; one module writes them (erasure and identity merges reach every
#: customer table generically, by design: see regulars.data.identity.customer_tables).
SEGMENT_TABLES = ("segment_definitions", "segment_versions", "segment_refreshes", "segment_memberships",
                  "segment_history", "segment_sizes")
WRITES = re.compile(r"(INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE|CREATE\s+OR\s+REPLACE\s+TABLE)\s+\"?("
                    + "|".join(SEGMENT_TABLES) + r")\b")


def test_one_writer_of_the_segment_tables():
    writers = {m for m, p in _modules() if WRITES.search(p.read_text())}
    assert writers == {"data.segment_store"}, f"segment tables written outside data/segment_store.py: {sorted(writers)}"


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
            if part == "models" and other not in ("values", "_lazy") \
                    and target not in MODELS_STILL_BUILDING_QUERIES.get(module, (set(), ""))[0]:
                out.append(f"{module} -> {target}: models import only themselves, regulars.values and regulars._lazy")
            elif LAYERS[other] > LAYERS[part] and other not in allowed:
                out.append(f"{module} -> {target}: imports upward ({part} is below {other})")
            elif part in INTERFACES and other in INTERFACES and other not in allowed \
                    and not _not_yet_moved(module, target):
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
