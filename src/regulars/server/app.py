"""The app factory and composition root: one FastAPI app serving the JSON API under ``/api/`` and the pages.

The only module of :mod:`regulars.server` that imports the interfaces: it mounts the routes of
:mod:`regulars.api` and the pages of :mod:`regulars.web`, and gives :mod:`regulars.server.errors`
the page layout to draw errors for browsers in.

>>> app = create_app(Settings(workspace="unused.duckdb"))   # nothing is opened until the server starts
>>> "/api/customers/{customer_id}" in app.openapi()["paths"]
True
"""

from __future__ import annotations

import contextlib
import logging
import time

from fastapi import FastAPI

from regulars import __version__
from regulars.data import auth
from regulars.data.realtime import SharedWorkspace
from regulars.server import cli_channel, errors
from regulars.server.actions import reload_keys
from regulars.server.cache import ReportCache
from regulars.server.middleware import ServerMiddleware
from regulars.server.profiles import ProfileCache
from regulars.server.security import SessionCache
from regulars.server.settings import Settings

log = logging.getLogger("regulars.server")

DESCRIPTION = """
The REST API of **regulars**: read customer profiles, segments, KPIs and predictions; post events; upload files.

**Authentication.** Every route needs an API key: `Authorization: Bearer rk_…`. Create one with
`regulars keys create --role viewer|analyst|admin` (it is printed once) or on the dashboard's Settings page.

| role | can |
|---|---|
| viewer | read everything except personal data (names, e-mails, phones, postal codes, birth dates, free text, search queries, page URLs and event properties are `"***"`) |
| analyst | read personal data, post events, upload files |
| admin | erase customers, export a customer's data, lift erasure suppressions, manage keys, change settings |

**Errors** are JSON: `{"error": "not_found", "message": "…", "status": 404}`.
**Lists** are paginated: `?limit=50&offset=0`, answering `{"total", "limit", "offset", "items"}`.
"""

TAGS = [
    {"name": "customers", "description": "Search customers and read one customer's 360 profile; erasure."},
    {"name": "analytics", "description": "KPIs, segments, personas, cohorts, funnel, predictions and their backtests."},
    {"name": "data in", "description": "Post events in real time; upload export files through the ingest pipeline."},
    {"name": "admin", "description": "Keys, settings, audit log, ingest runs and quarantine."},
    {"name": "experiments", "description": "A/B tests and holdouts: create, assign, analyse in money, plan, bandits."},
    {"name": "recommendations", "description": "What to offer each customer, bought-together pairs, next best actions."},
    {"name": "activation", "description": "Journeys (approval, results, send log), audience exports, webhooks, "
                                          "the Monday report, alerts and activation settings."},
    {"name": "text", "description": "What customers say: sentiment and topics of reviews, tickets and survey comments."},
    {"name": "trust", "description": "Anomaly and fraud flags, fairness audits of the models, model cards."},
]


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. The workspace is opened when the server starts (lifespan) and closed when it stops."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        from regulars.data.lake import lake_location

        # a lake workspace: the pages read its results (predictions, segments, KPIs) from the lake
        shared = SharedWorkspace(settings.workspace_path, readers=settings.read_connections,
                                 memory_limit=settings.memory_limit, lake=lake_location(settings.workspace_path))
        app.state.shared = shared
        from regulars.server.uploads import clean_stale_uploads

        if clean_stale_uploads(shared.path):
            log.info("removed upload folders left by an interrupted server")
        app.state.sessions = SessionCache(shared)
        app.state.cache = ReportCache(shared)
        reload_keys(app)
        with shared.read() as ws:
            app.state.app_settings = auth.get_settings(ws)
            shared.write_transaction(auth.purge_sessions)
        app.state.profiles = ProfileCache(shared, max_profiles=settings.max_profiles)
        from regulars.server import consent_hook  # noqa: F401 - registers the consent listener once per process
        from regulars.server.refresh import install as install_refresh

        refresher = install_refresh(app)
        from regulars.server.activation_runner import install as install_activation, uninstall as stop_activation

        install_activation(app)
        from regulars.server.schedule import Schedule

        schedule = Schedule(shared).start()  # retention limit, daily
        shared.warm(min(4, settings.read_connections))
        if settings.warm_reports:
            from regulars.server.views import warm

            warm(app)
        if settings.warm_profiles:
            app.state.profiles.start_warm(shared.read)
        log.info("serving workspace %s (%d active keys)%s", shared.path.name, len(app.state.keyring),
                 f", results from the lake {shared.lake}" if shared.lake else "")
        cli_channel.install(app)  # `regulars` commands in a terminal run through this server meanwhile
        try:
            yield
        finally:
            cli_channel.uninstall(app)
            used = app.state.keyring.drain_last_used()
            if used:
                shared.submit(lambda ws: auth.touch_keys(ws, used))
            stop_activation(app)
            refresher.stop()
            schedule.stop()
            shared.close()

    app = FastAPI(
        title="regulars",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,   # Swagger UI needs a CDN; the spec is at /openapi.json and docs/api.md explains it
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.sessions = None
    app.state.last_touch = time.monotonic()
    from regulars.web.currency import ShopCurrencyMiddleware

    app.add_middleware(ShopCurrencyMiddleware)
    app.add_middleware(ServerMiddleware)
    from regulars.web.layout import error_page

    errors.install(app, error_page)

    from regulars.api.routes import (activation, admin, analytics, customers, data_in, experiments, lists, privacy,
                                     recommend, text, trust)
    from regulars.web import experiments as experiments_page
    from regulars.web import lists as lists_page
    from regulars.web import pages, static

    for module in (customers, analytics, data_in, admin, experiments, privacy, recommend, activation, text, trust,
                   lists):
        app.include_router(module.router, prefix="/api")
    app.include_router(cli_channel.router)
    app.include_router(static.router)
    app.include_router(pages.router)
    app.include_router(experiments_page.router)
    app.include_router(lists_page.router)

    return app
