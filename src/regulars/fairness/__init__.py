"""Fairness audits of the predictive models and model cards (no database: frames in, results out).

- :mod:`regulars.fairness.groups` -- the groups a shop's customers fall in (country and region,
  acquisition channel, age band from the birth date, gender when the data has it) and which of
  them a model used as inputs;
- :mod:`regulars.fairness.audit` -- metrics per group with fairlearn's ``MetricFrame`` and the gaps
  that deserve a look, in plain words (four-fifths rule for selection rates);
- :mod:`regulars.fairness.cards` -- a model card in Markdown from what the job knows about a model.
"""

from regulars.fairness.audit import AuditResult, audit_model
from regulars.fairness.groups import SENSITIVE_ATTRIBUTES, age_band, customer_groups, sensitive_inputs

__all__ = ["AuditResult", "SENSITIVE_ATTRIBUTES", "age_band", "audit_model", "customer_groups", "sensitive_inputs"]
