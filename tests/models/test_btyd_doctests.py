"""The examples in the docstrings of regulars.models run and give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "regulars.models._hyp2f1",
    "regulars.models.beta_geo",
    "regulars.models.pareto_nbd",
    "regulars.models.gamma_gamma",
    "regulars.models.clv",
    "regulars.models.summary",
    "regulars.models.simulation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
