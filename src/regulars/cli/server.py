"""`regulars serve` and `regulars keys create|list|revoke`.

The lead wires these in with :func:`register`; ``regulars demo`` calls
:func:`start_server` to open the dashboard afterwards. The server itself is :mod:`regulars.server`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from regulars.cli.common import WorkspaceOption, console, err_console, fail, render_frame

keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is printed once, when created).",
                       no_args_is_help=True)


def _open(path) -> Workspace:
    from regulars.data.workspace import Workspace, WorkspaceError
    from regulars.server.run import LOCKED_HINT

    try:
        return Workspace(path)
    except WorkspaceError as exc:
        fail(f"{exc}; {LOCKED_HINT}")


def start_server(workspace: Path | str | None = None, host: str = "127.0.0.1", port: int = 8000,
                 log_level: str = "info") -> None:
    """Serve until Ctrl+C (:func:`regulars.server.run.start_server`); a problem is printed as an error."""
    from regulars.server.run import StartError, start_server as run

    try:
        run(workspace, host=host, port=port, log_level=log_level, console=console, err_console=err_console)
    except StartError as exc:
        fail(str(exc))


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
