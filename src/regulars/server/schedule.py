"""Work the server does on a schedule: the retention limit, once a day (and a minute after starting).

Runs through the writer; a run that fails is logged and tried again the next day. Stopped with the server.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("regulars.server")

FIRST_DELAY = 60.0
EVERY = 24 * 3600.0


class Schedule:
    def __init__(self, shared, first_delay: float = FIRST_DELAY, every: float = EVERY):
        self.shared = shared
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(first_delay, every), daemon=True,
                                        name="regulars-schedule")

    def start(self) -> "Schedule":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self, first_delay: float, every: float) -> None:
        wait = first_delay
        while not self._stop.wait(wait):
            wait = every
            if self.shared.closing:
                return
            try:
                from regulars.jobs.retention import retention

                result = self.shared.write(lambda ws: retention(ws))
                if result.get("applied"):
                    log.info("retention: %s events before %s aggregated and deleted",
                             result["events_deleted"], result["cutoff"])
            except Exception as exc:  # noqa: BLE001 - the next day's run tries again
                log.warning("scheduled retention failed: %s", type(exc).__name__)
