"""Constants named once (issue 15, item 6): a window or a minimum is written in one place.

- The outcome windows of the churn and propensity labels are :data:`~regulars.features.labels.CHURN_WINDOW`
  and ``PROPENSITY_WINDOW``: no call passes the window as a number.
- Each shared constant is assigned in exactly one module (the others import it).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "regulars"

#: Functions whose window argument must be a named constant, not a number.
WINDOWED = {"churn_labels", "propensity_labels", "_labels"}
#: Constants that must have one definition.
SHARED = {"CHURN_WINDOW", "PROPENSITY_WINDOW", "ACTIVE_DAYS", "MIN_OBSERVED"}


def _trees():
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC), ast.parse(path.read_text(), str(path))


def literal_windows(trees) -> list[str]:
    out = []
    for rel, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in WINDOWED and any(isinstance(a, ast.Constant) and isinstance(a.value, int)
                                            and not isinstance(a.value, bool) for a in node.args):
                    out.append(f"{rel}:{node.lineno} {name}(...) with a number")
    return out


def definitions(trees) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rel, tree in trees:
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            for t in targets:
                if isinstance(t, ast.Name) and t.id in SHARED:
                    out.setdefault(t.id, []).append(str(rel))
    return out


def test_label_windows_are_named():
    assert literal_windows(_trees()) == []


def test_each_shared_constant_has_one_definition():
    found = definitions(_trees())
    assert set(found) == SHARED, f"not defined anywhere: {sorted(SHARED - set(found))}"
    assert {k: v for k, v in found.items() if len(v) > 1} == {}


def test_the_checks_see_a_number_and_a_second_definition():
    tree = ast.parse("ACTIVE_DAYS = 365\nx = churn_labels(orders, cutoff, 90)\ny = churn_labels(orders, cutoff, CHURN_WINDOW)\n")
    assert literal_windows([(Path("m.py"), tree)]) == ["m.py:2 churn_labels(...) with a number"]
    assert definitions([(Path("a.py"), tree), (Path("b.py"), tree)]) == {"ACTIVE_DAYS": ["a.py", "b.py"]}
