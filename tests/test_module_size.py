"""Small modules (issue 15, item 6): a module over :data:`LIMIT` lines says why at its top.

The module docstring of a longer module holds a paragraph starting "Why this module is long:"
(one cohesive thing that would be harder to follow in pieces, e.g. one table's schema or one
algorithm); otherwise split it. :data:`NOT_YET_EXPLAINED` lists the long modules that another
change is moving (their reason is written when they land); it only shrinks.
"""

from __future__ import annotations

import ast
from pathlib import Path


SRC = Path(__file__).resolve().parents[1] / "src" / "regulars"
LIMIT = 400
REASON = "Why this module is long:"

#: Long modules without a reason yet, and why: the list fails once one is explained or short.
NOT_YET_EXPLAINED: dict[str, str] = {}


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _explained(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    at = doc.find(REASON)
    return at >= 0 and len(doc[at + len(REASON):].split("\n\n")[0].split()) >= 8  # a reason, not a word


def long_modules(src: Path = SRC) -> dict[str, int]:
    """Modules over the limit without a reason at their top, with their line counts."""
    return {str(p.relative_to(src)): _lines(p) for p in sorted(src.rglob("*.py"))
            if _lines(p) > LIMIT and not _explained(p)}


def test_every_long_module_says_why():
    unexplained = {m: n for m, n in long_modules().items() if m not in NOT_YET_EXPLAINED}
    assert not unexplained, (f"modules over {LIMIT} lines: split them, or write a paragraph starting "
                             f"{REASON!r} in the module docstring: {unexplained}")


def test_the_pending_list_only_shrinks():
    done = sorted(set(NOT_YET_EXPLAINED) - set(long_modules()))
    assert not done, f"{done} are short or explained now: take them out of NOT_YET_EXPLAINED"


def test_the_check_sees_a_long_module_and_its_reason(tmp_path):
    body = "\n".join(f"x{i} = {i}" for i in range(LIMIT + 1))
    (tmp_path / "long.py").write_text('"""Things."""\n' + body)
    (tmp_path / "why.py").write_text(f'"""Things.\n\n{REASON} one table\'s schema reads best whole, beside the tables it joins."""\n' + body)
    (tmp_path / "vague.py").write_text(f'"""Things.\n\n{REASON} big."""\n' + body)
    (tmp_path / "short.py").write_text('"""Things."""\nx = 1\n')
    assert long_modules(tmp_path) == {"long.py": LIMIT + 2, "vague.py": LIMIT + 4}
