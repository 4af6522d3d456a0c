"""Property-based fuzzing of every operation in the OpenAPI spec: no input may cause a server error (5xx).

Bounded to a few examples per operation so it runs in about a minute. It runs
against its own server and shop, because it creates keys, changes settings,
uploads random files and posts random events.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from regulars.api import Settings, create_app
from tests.api.conftest import prepare
from tests.api.server import start
from tests.api.shop import build_shop

# The spec comes from the app factory itself (no server needed to collect the tests).
schema = schemathesis.openapi.from_dict(create_app(Settings(workspace="unused.duckdb")).openapi())
# A full segment refresh takes seconds; it is exercised once in test_access.
schema = schema.exclude(path="/api/segments/refresh")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    shop = build_shop(tmp_path_factory.mktemp("fuzz") / "shop.duckdb", n_customers=40, seed=3)
    prepare(shop.path, predictions=False)
    running = start(shop.path, warm_profiles=False, warm_reports=False)
    running.extra["shop"] = shop
    yield running
    running.stop()


@schema.parametrize()
@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "12")), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, fuzz_server):
    role = "admin"
    response = case.call_and_validate(
        base_url=fuzz_server.base_url,
        headers={"Authorization": f"Bearer {fuzz_server.keys[role]}"},
        checks=[not_a_server_error],
        timeout=60,
    )
    _SEEN[(case.operation.label, response.status_code)] += 1


_SEEN: "collections.Counter" = __import__("collections").Counter()


def teardown_module():
    print("\nfuzzing calls (operation, status): ", dict(_SEEN))
