"""The activation runner inside ``regulars serve``: a background thread (journeys, webhooks, scheduled
reports and alerts) and the real-time hooks.

- Posted events: a listener on the server's writer (:meth:`SharedWorkspace.on_events`) runs right
  after the events commit (within the writer's 0.25 s refresh interval, before the slower segment
  refresh) and enters the customers whose events trigger an approved journey; their first step
  is scheduled at once.
- Segment changes: a hook registered with :func:`regulars.server.refresh.on_events` runs after the
  real-time segment update and wakes the runner, which enters customers who just joined a
  segment that triggers a journey.
"""

from __future__ import annotations

import threading

from regulars.data.access import SharedAccess
from regulars.jobs import activation
from regulars.server import refresh

_RUNNERS: dict[str, activation.BackgroundRunner] = {}
_LOCK = threading.Lock()


def _wake(ws, customer_ids) -> None:
    runner = _RUNNERS.get(str(ws.path))
    if runner is not None:
        runner.wake()


def install(app) -> activation.BackgroundRunner | None:
    """Start the runner for the app's workspace (unless ``Settings.run_activation`` is off)."""
    with _LOCK:
        if _wake not in refresh.REFRESHERS:
            refresh.on_events(_wake)
    if not getattr(app.state.settings, "run_activation", True):
        app.state.activation = None
        return None
    app.state.shared.on_events(activation.on_events)
    runner = activation.BackgroundRunner(SharedAccess(app.state.shared))
    _RUNNERS[str(app.state.shared.path)] = runner
    app.state.activation = runner
    return runner


def uninstall(app) -> None:
    runner = getattr(app.state, "activation", None)
    if runner is not None:
        _RUNNERS.pop(str(app.state.shared.path), None)
        runner.stop()
