"""A real uvicorn server on 127.0.0.1 (a free port) over a temporary workspace, for API and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from regulars import Workspace
from regulars.api import Settings, create_app
from regulars.data import auth


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    base_url: str
    keys: dict[str, str]
    app: object
    server: uvicorn.Server
    thread: threading.Thread
    extra: dict = field(default_factory=dict)

    def client(self, role: str | None = None, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60, **kw)

    @property
    def shared(self):
        return self.app.state.shared

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def make_keys(path: Path) -> dict[str, str]:
    keys = {}
    with Workspace(path) as ws:
        with ws.transaction():
            for role in auth.ROLES:
                keys[role] = auth.create_key(ws, role, name=f"test {role}", created_by="tests")[1]
    return keys


def start(path: Path, **settings) -> RunningServer:
    keys = make_keys(path)
    port = free_port()
    app = create_app(Settings(workspace=path, port=port, **settings))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name=f"uvicorn-{port}")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return RunningServer(f"http://127.0.0.1:{port}", keys, app, server, thread)
