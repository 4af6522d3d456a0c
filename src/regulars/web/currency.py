"""Every amount a page shows carries the shop's currency and every time is in the shop's time zone:
this ASGI middleware puts ``app_settings.currency`` and ``app_settings.timezone`` in
:data:`regulars.web.html.CURRENCY` and :data:`~regulars.web.html.TIMEZONE` for the request, so
:func:`~regulars.web.html.money` writes ``1,234.50 EUR`` and :func:`~regulars.web.html.when`
``14:30`` (Paris) for a stored 12:30 UTC, without each page passing them."""

from __future__ import annotations

from regulars.server.middleware import HttpMiddleware
from regulars.web.html import CURRENCY, TIMEZONE


class ShopCurrencyMiddleware(HttpMiddleware):
    """The request's pages format money in the shop's currency."""

    async def http(self, scope, receive, send):
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "app_settings", None) or {}
        token = CURRENCY.set(settings.get("currency") or None)
        zone = TIMEZONE.set(settings.get("timezone") or None)
        try:
            await self.app(scope, receive, send)
        finally:
            TIMEZONE.reset(zone)
            CURRENCY.reset(token)
