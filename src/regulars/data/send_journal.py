"""The send journal: an append-only file beside the workspace recording, for each e-mail handed to
the mail server, that the attempt **started** and how it **ended**.

Why a file: the send log row is committed *before* sending (status ``claimed``), but writing the
outcome back to the database after every message would cost a transaction each. A line appended
to this file survives the process being killed (the kernel holds it), so after a crash the runner
knows, for every claimed message, whether it was never attempted (send it now), confirmed or
refused by the mail server (record it, never send again), or in flight when the process died
(the server had not confirmed it: send it again, with the same Message-ID). Outcomes are folded
into the database after each batch and the file is emptied.

>>> import tempfile, os
>>> j = SendJournal(os.path.join(tempfile.mkdtemp(), "shop.duckdb"))
>>> j.started("k1"); j.finished("k1", "sent", None); j.started("k2")
>>> sorted(j.read().items())
[('k1', ('sent', None)), ('k2', ('started', None))]
>>> j.clear(); j.read()
{}
>>> j.close()
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class SendJournal:
    """Append-only outcomes of e-mail sends for one workspace (``<workspace>.sends``)."""

    def __init__(self, workspace_path: str | os.PathLike):
        self.path = Path(str(workspace_path) + ".sends")
        self._fh = None

    def _file(self):
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8")
        return self._fh

    def _append(self, record: dict) -> None:
        fh = self._file()
        fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        fh.flush()  # in the kernel from here on: survives kill -9 of this process

    def started(self, key: str) -> None:
        self._append({"k": key, "s": "started"})

    def finished(self, key: str, status: str, reason: str | None, at: str | None = None) -> None:
        self._append({"k": key, "s": status, "r": reason, "t": at})

    def read(self) -> dict[str, tuple[str, str | None]]:
        """Latest state per key: ``started`` (no outcome yet) or the outcome, with its reason."""
        if not self.path.exists():
            return {}
        out: dict[str, tuple[str, str | None]] = {}
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash: its key stays 'started'
                if rec["s"] == "started" and rec["k"] in out:
                    continue
                out[rec["k"]] = (rec["s"], rec.get("r"))
        return out

    def read_times(self) -> dict[str, str]:
        """When each finished send was accepted (ISO text), for the send log."""
        if not self.path.exists():
            return {}
        out = {}
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("t"):
                    out[rec["k"]] = rec["t"]
        return out

    def clear(self) -> None:
        """Empty the journal (after its outcomes were committed to the database)."""
        self.close()
        with open(self.path, "w", encoding="utf-8"):
            pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
