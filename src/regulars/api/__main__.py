"""``python -m regulars.api [--workspace PATH] [--host H] [--port N]``: the server without the CLI."""

from __future__ import annotations

import argparse

from rich.console import Console

from regulars.server.run import StartError, start_server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m regulars.api", description=__doc__)
    parser.add_argument("--workspace", "-w", default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        start_server(args.workspace, host=args.host, port=args.port, log_level=args.log_level)
    except StartError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
