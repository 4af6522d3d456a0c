"""`regulars serve` and `regulars keys create|list|revoke`.

The lead wires these in with :func:`register`; ``regulars demo`` calls
:func:`start_server` to open the dashboard afterwards.
"""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from regulars.cli.common import WorkspaceOption, console, err_console, fail, render_frame

keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is printed once, when created).",
                       no_args_is_help=True)

_LOCKED_HINT = ("if `regulars serve` is running on this workspace, manage keys on the dashboard's Settings page "
                "or with POST/DELETE /api/keys instead")


def _open(path) -> Workspace:
    from regulars.data.workspace import Workspace, WorkspaceError
    try:
        return Workspace(path)
    except WorkspaceError as exc:
        fail(f"{exc}; {_LOCKED_HINT}")


def ensure_admin_key(ws: Workspace) -> str | None:
    """Create an admin key when the workspace has none; return its secret (else None)."""
    from regulars.data import auth

    if auth.count_active_admins(ws):
        return None
    with ws.transaction():
        _key, secret = auth.create_key(ws, "admin", name="first admin (created by regulars serve)", created_by="cli")
    return secret


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start_server(workspace: Path | str | None = None, host: str = "127.0.0.1", port: int = 8000,
                 log_level: str = "info") -> None:
    """Open the workspace, make sure an admin key exists, print the address and serve until Ctrl+C."""
    import uvicorn

    from regulars.api import Settings, create_app
    from regulars.api.middleware import configure_logging

    settings = Settings.from_env(workspace=workspace, host=host, port=port, log_level=log_level)
    if not _port_free(settings.host, settings.port):
        fail(f"port {settings.port} on {settings.host} is in use; pick another with --port")
    ws = _open(settings.workspace_path)
    try:
        secret = ensure_admin_key(ws)
        path = ws.path
    finally:
        ws.close()
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


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Serve the dashboard and the REST API (JSON under /api/, OpenAPI at /openapi.json)."""
    start_server(workspace, host=host, port=port, log_level=log_level)


@keys_app.command("create")
def keys_create(
    role: str = typer.Option(..., "--role", help="viewer (no personal data), analyst, or admin."),
    name: str = typer.Option("", "--name", help="What the key is for, e.g. 'CRM sync'."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Create an API key and print it (once: only its hash is stored)."""
    from regulars.data import auth

    ws = _open(workspace)
    try:
        with ws.transaction():
            key, secret = auth.create_key(ws, role, name=name, created_by="cli")
    except auth.AuthError as exc:
        fail(str(exc))
    finally:
        ws.close()
    console.print(f"created {key.role} key [bold]{key.key_id}[/] ({key.name}). It is shown only now:")
    print(secret)


@keys_app.command("list")
def keys_list(
    all_: bool = typer.Option(False, "--all", help="Include revoked keys."),
    format: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    workspace: Path = WorkspaceOption,
) -> None:
    """List API keys (never their secrets)."""
    import pandas as pd

    from regulars.data import auth

    ws = _open(workspace)
    try:
        keys = auth.list_keys(ws, include_revoked=all_)
    finally:
        ws.close()
    df = pd.DataFrame([k.as_dict() for k in keys],
                      columns=["key_id", "name", "role", "created_at", "created_by", "last_used_at", "revoked_at", "active"])
    render_frame(df, format, title="API keys")


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (second part of rk_<key id>_…), see `regulars keys list`."),
    workspace: Path = WorkspaceOption,
) -> None:
    """Revoke an API key; tools and sign-ins using it stop working."""
    from regulars.data import auth

    ws = _open(workspace)
    try:
        with ws.transaction():
            key = auth.revoke_key(ws, key_id, revoked_by="cli")
    except auth.AuthError as exc:
        fail(str(exc))
    finally:
        ws.close()
    console.print(f"revoked {key.role} key {key.key_id} ({key.name})")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the main CLI."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
