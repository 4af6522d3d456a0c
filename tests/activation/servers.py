"""Real receivers on 127.0.0.1 for activation tests: an SMTP server (aiosmtpd) and a webhook receiver
that verifies signatures and can be told to fail."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from regulars.activation.webhooks import SIGNATURE_HEADER, verify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message; ``pause_at`` (n) makes the n-th message wait ``pause`` seconds
    before it is accepted (to kill a sender mid-message), ``arrived`` is set when it comes in."""

    def __init__(self):
        self.messages: list[email.message.Message] = []
        self.lock = threading.Lock()
        self.pause_at: int | None = None
        self.pause = 0.0
        self.arrived = threading.Event()
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        with self.lock:
            self.count += 1
            n = self.count
        if self.pause_at is not None and n == self.pause_at:
            self.arrived.set()
            await asyncio.sleep(self.pause)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def keys(self) -> list[str]:
        with self.lock:
            return [m["X-Regulars-Idempotency-Key"] for m in self.messages]

    def to(self) -> list[str]:
        with self.lock:
            return [m["To"] for m in self.messages]


class SmtpServer:
    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def settings(self) -> dict:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "mail_from": "shop@example.com"}


class WebhookReceiver:
    """Answers ``fail_with`` (e.g. 500) while set, else 200; keeps each request with whether its signature verified."""

    def __init__(self, secret: str = ""):
        self.secret = secret
        self.received: list[dict] = []
        self.fail_with: int | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get(SIGNATURE_HEADER) or ""
                record = {"body": json.loads(body), "raw": body, "signature": header,
                          "verified": verify(receiver.secret, body, header) if receiver.secret else None,
                          "idempotency_key": self.headers.get("Idempotency-Key"), "at": time.time(),
                          "status": receiver.fail_with or 200}
                with receiver.lock:
                    receiver.received.append(record)
                self.send_response(receiver.fail_with or 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[dict]:
        with self.lock:
            return [r for r in self.received if r["status"] == 200]
