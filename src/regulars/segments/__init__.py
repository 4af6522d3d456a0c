"""Segments: RFM, lifecycle stages, behavioural tiers and saved rule segments.

Each builder returns an Ibis expression over a table provider (a Workspace or the
Spark provider); see ``docs/segments.md``. The names below are the *functions*; the
modules of the same name are ``regulars.segments.rfm`` etc. (import from them directly,
e.g. ``from regulars.segments.rfm import load_config``).

>>> from regulars.segments import rfm, lifecycle, tiers, compile_rule
>>> callable(rfm) and callable(lifecycle) and callable(tiers)
True
"""

from regulars.segments.lifecycle import lifecycle
from regulars.segments.rfm import rfm
from regulars.segments.rules import RuleError, compile_rule
from regulars.segments.tiers import tiers

__all__ = ["RuleError", "compile_rule", "lifecycle", "rfm", "tiers"]
