"""The ``regulars`` command group: what happens before any command runs.

1. While ``regulars serve`` holds the command's workspace, the command runs through the server
   (:mod:`regulars.cli.forward`).
2. With ``--format csv|json`` (or ``--json``) stdout carries only the data: every note, table
   title or hint goes to stderr (:func:`regulars.cli.common.machine_output`), so the output can be
   piped into a file or a program.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from typer.core import TyperGroup

from regulars.cli.common import machine_output
from regulars.cli.forward import forward_if_served

MACHINE_FORMATS = ("csv", "json")


def wants_machine_output(group, args: Sequence[str]) -> bool:
    """True when *args* ask the command they name for csv or json on stdout."""
    command, rest = group, list(args)
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    if hasattr(command, "commands"):
        return False
    output_format = next((p for p in command.params if "--format" in p.opts and "table" in (p.help or "")), None)
    if "--json" in rest and any("--json" in p.opts for p in command.params):
        return True
    if output_format is None:
        return False
    for i, arg in enumerate(rest):
        if arg in output_format.opts and i + 1 < len(rest) and rest[i + 1] in MACHINE_FORMATS:
            return True
        if arg.startswith("--format=") and arg.split("=", 1)[1] in MACHINE_FORMATS:
            return True
    return False


class RegularsGroup(TyperGroup):
    """Runs a command through the server holding its workspace, else here; csv/json alone on stdout."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        code = forward_if_served(args)
        if code is not None:
            sys.stdout.flush()
            if standalone_mode:
                sys.exit(code)
            return code
        machine_output(wants_machine_output(self, args))
        return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                            standalone_mode=standalone_mode, **extra)
