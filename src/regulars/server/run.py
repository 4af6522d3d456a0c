"""Starting the server: open the workspace, make sure an admin key exists, print the address, serve.

Both ``regulars serve`` (:mod:`regulars.cli.server`) and ``python -m regulars.api`` call
:func:`start_server`; a problem the user can fix is a :class:`StartError` saying what to do.
"""

from __future__ import annotations

import socket
from pathlib import Path

from rich.console import Console

#: What to do when the workspace is locked by a running server.
LOCKED_HINT = ("if `regulars serve` is running on this workspace, manage keys on the dashboard's Settings page "
               "or with POST/DELETE /api/keys instead")


class StartError(Exception):
    """The server cannot start; the message says what to fix."""


def ensure_admin_key(ws) -> str | None:
    """Create an admin key when the workspace has none; return its secret (else None)."""
    from regulars.data import auth

    if auth.count_active_admins(ws):
        return None
    with ws.transaction():
        _key, secret = auth.create_key(ws, "admin", name="first admin (created by regulars serve)", created_by="cli")
    return secret


def port_free(host: str, port: int) -> bool:
    """Whether *port* on *host* can be listened on."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _first_admin_key(path: Path) -> tuple[str | None, Path]:
    from regulars.data.workspace import Workspace, WorkspaceError

    try:
        ws = Workspace(path)
    except WorkspaceError as exc:
        raise StartError(f"{exc}; {LOCKED_HINT}") from None
    try:
        return ensure_admin_key(ws), ws.path
    finally:
        ws.close()


def start_server(workspace: Path | str | None = None, host: str = "127.0.0.1", port: int = 8000,
                 log_level: str = "info", console: Console | None = None, err_console: Console | None = None) -> None:
    """Open the workspace, make sure an admin key exists, print the address and serve until Ctrl+C.

    Raises
    ------
    StartError
        The port is in use, or the workspace cannot be opened.
    """
    import uvicorn

    from regulars.server.app import create_app
    from regulars.server.middleware import configure_logging
    from regulars.server.settings import Settings

    console = console or Console()
    err_console = err_console or Console(stderr=True)
    settings = Settings.from_env(workspace=workspace, host=host, port=port, log_level=log_level)
    if not port_free(settings.host, settings.port):
        raise StartError(f"port {settings.port} on {settings.host} is in use; pick another with --port")
    secret, path = _first_admin_key(settings.workspace_path)
    shown_host = "localhost" if settings.host in ("127.0.0.1", "::1", "localhost") else settings.host
    console.print(f"[bold green]regulars dashboard[/] on [bold]http://{shown_host}:{settings.port}[/] "
                  f"(workspace {path}); API under /api/, spec at /openapi.json. Ctrl+C stops it.")
    if secret:
        console.print("[bold]First start: an admin key was created. It is shown only now — keep it safe:[/]")
        console.print(f"  [bold yellow]{secret}[/]")
        console.print("  Sign in with it, then create keys for other people and tools on the Settings page.")
    if settings.host not in ("127.0.0.1", "::1", "localhost"):
        err_console.print("[yellow]warning:[/] listening beyond this machine; put it behind an https proxy "
                          "so keys and session cookies are not sent in clear text")
    configure_logging(settings.log_level)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, server_header=False, lifespan="on", timeout_graceful_shutdown=10)
