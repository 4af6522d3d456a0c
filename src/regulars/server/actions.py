"""What a JSON route and its dashboard page both do: one function each, called by both.

Keys and settings (admin), erasing a customer, dropping the caches after a change they cannot
follow, journeys (list, approve or pause, retry a webhook delivery), the Monday report and the
action lists. Each takes the request (for the server's writer and caches) and returns a dict;
an error the caller can fix is an :class:`~regulars.server.errors.ApiError`.
"""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI, Request

from regulars.data import auth, customer_queries
from regulars.reports import activation as activation_report
from regulars.server.errors import ApiError
from regulars.server.security import Principal


# -- keys and settings ------------------------------------------------------------------------------
def reload_keys(app: FastAPI) -> None:
    """Reload the active keys after a change (create/revoke)."""
    with app.state.shared.read() as ws:
        app.state.keyring = auth.Keyring.load(ws)


def make_key(request: Request, principal: Principal, role: str, name: str) -> dict:
    """Create a key of *role*; the answer holds its secret (shown once)."""
    key, secret = request.app.state.shared.write_transaction(
        lambda ws: auth.create_key(ws, role, name=name, created_by=principal.actor))
    reload_keys(request.app)
    return {**key.as_dict(), "secret": secret}


def drop_key(request: Request, principal: Principal, key_id: str) -> dict:
    """Revoke a key (never the last admin key); its sessions end."""
    def run(ws):
        key = auth.get_key(ws, key_id)
        if key is None:
            raise ApiError(404, f"no key {key_id!r}")
        if key.role == "admin" and key.active and auth.count_active_admins(ws) <= 1:
            raise ApiError(409, "this is the last admin key; create another admin key first")
        return auth.revoke_key(ws, key_id, revoked_by=principal.actor)

    key = request.app.state.shared.write_transaction(run)
    reload_keys(request.app)
    request.app.state.sessions.forget_key(key_id)
    return key.as_dict()


def change_settings(request: Request, principal: Principal, values: dict) -> dict:
    """Store the server settings in *values*; reports depending on money or days are recomputed."""
    try:
        new = request.app.state.shared.write_transaction(lambda ws: auth.set_settings(ws, values, principal.actor))
    except auth.AuthError as exc:
        raise ApiError(422, str(exc)) from None
    request.app.state.app_settings = new
    if {"currency", "exchange_rates", "timezone"} & set(values):
        request.app.state.cache.clear()  # every report's money and days depend on them
    return new


# -- customers ----------------------------------------------------------------------------------------
def erase(request: Request, principal: Principal, customer_id: str) -> dict:
    """Erase through the writer (the JSON route and the dashboard's erase button)."""
    from regulars.data.erasure import CustomerNotFound, forget

    def run(ws):
        if not customer_queries.customer_exists(ws, customer_id):
            raise CustomerNotFound(customer_id)
        record = forget(ws, customer_id, requested_by=principal.actor)
        auth.record(ws, principal.actor, principal.role, "customer.erase", record["erasure_id"],
                    {"rows_deleted": sum(record["rows_deleted"].values())})
        return record

    try:
        record = request.app.state.shared.write(run, exclusive=True)  # the file is rewritten: no reads meanwhile
    except CustomerNotFound:
        raise ApiError(404, f"no customer {customer_id!r}") from None
    forget_derived(request.app, erasure=True)  # nothing about them may be served from a cache
    return record


def forget_derived(app, erasure: bool = False) -> None:
    """Drop cached reports and profiles after a change the caches cannot follow (upload, erasure, refresh).

    After an erasure only the results that list customers go (aggregates are recomputed in the
    background as after any write); uploads and segment refreshes drop everything.
    """
    app.state.cache.clear(("predictions", "members", "backtests", "text_topics", "anomalies") if erasure else None)
    app.state.profiles.clear()
    if app.state.settings.warm_reports:
        from regulars.server.views import warm

        warm(app)
    if app.state.settings.warm_profiles:
        app.state.profiles.start_warm(app.state.shared.read)


# -- activation ---------------------------------------------------------------------------------------
def write(request: Request, fn):
    """Run ``fn(ws)`` in one transaction on the server's writer; activation errors become API errors."""
    from regulars.jobs.activation_admin import ActivationError

    def run(ws):
        with ws.transaction():
            return fn(ws)

    try:
        result = request.app.state.shared.write(run)
    except ActivationError as exc:
        raise ApiError(exc.status, str(exc)) from None
    return result


def _wake_runner(request: Request) -> None:
    runner = getattr(request.app.state, "activation", None)
    if runner is not None:
        runner.wake()


def journeys(request: Request, principal: Principal, ws) -> dict:
    """Every journey with its status and counts; the templates are installed on the first visit."""
    if not activation_report.journeys_overview(ws)["items"]:
        from regulars.jobs.journeys import install_templates

        write(request, lambda w: install_templates(w, principal.actor))
        with request.app.state.shared.read() as fresh:
            return activation_report.journeys_overview(fresh)
    return activation_report.journeys_overview(ws)


def set_journey_status(request: Request, principal: Principal, journey_id: str, status: str) -> dict:
    """Approve (turn on) or pause a journey (admin); the activation runner looks again at once."""
    from regulars.jobs.activation_admin import set_journey_status as store

    out = write(request, lambda ws: store(ws, journey_id, status, principal.actor, principal.role))
    _wake_runner(request)
    return out


def requeue_delivery(request: Request, principal: Principal, delivery_id: str) -> None:
    """Queue a dead webhook delivery again (admin)."""
    from regulars.data import webhook_store
    from regulars.jobs.activation import utcnow

    if not write(request, lambda ws: webhook_store.retry(ws, delivery_id, utcnow())):
        raise ApiError(404, f"no undelivered delivery {delivery_id!r}")
    _wake_runner(request)


def monday(request: Request, ws, as_of: dt.date | None) -> dict:
    """The Monday report (shared by the JSON route and the dashboard page)."""
    from regulars.reports import standard

    name = str((request.app.state.app_settings or {}).get("shop_name") or "My shop")
    return standard.monday(ws, as_of=as_of, shop_name=name, save=request.app.state.shared.submit).value


# -- action lists -------------------------------------------------------------------------------------
def lists_overview(ws) -> dict:
    """Every list with its title and size (the JSON route and the Lists page)."""
    from regulars.reports.action_lists import available

    return {"items": available(ws)}


def one_list(ws, name: str, principal: Principal):
    """The whole list *name*, names and e-mails masked for viewers (the JSON route and the Lists page)."""
    from regulars.reports.action_lists import UnknownList, action_list

    try:
        return action_list(ws, name, include_pii=principal.sees_pii)
    except UnknownList as exc:
        raise ApiError(404, exc.args[0]) from None
