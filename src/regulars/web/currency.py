"""Every amount a page shows carries the shop's currency: this ASGI middleware puts the shop's
currency (``app_settings.currency``) in :data:`regulars.web.html.CURRENCY` for the request, so
:func:`regulars.web.html.money` writes ``1,234.50 EUR`` everywhere without each page passing it."""

from __future__ import annotations

from regulars.web.html import CURRENCY


class ShopCurrencyMiddleware:
    """Pure ASGI middleware: the request's pages format money in the shop's currency."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        settings = getattr(getattr(app, "state", None), "app_settings", None) or {}
        token = CURRENCY.set(settings.get("currency") or None)
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENCY.reset(token)
