"""Build the demo shop in a workspace: generate the files, load them like real exports, store the truth."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from regulars.data.ingest.pipeline import ingest
from regulars.demo.generate import generate
from regulars.data.demo_truth import write_demo_truth


def build_demo(
    workspace,
    n_customers: int = 20_000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    keep_files_in: str | Path | None = None,
) -> dict:
    """Generate a demo shop and load it into *workspace* through :func:`~regulars.data.ingest.pipeline.ingest`.

    Parameters
    ----------
    workspace : regulars.Workspace
    n_customers : int
    seed : int
        Same seed, same shop.
    progress : callable, optional
        Called with the name of each step (``"generate: orders"``, ``"load orders"``, ...).
    keep_files_in : path, optional
        Write the export files there and keep them; by default a temporary folder is used and removed.

    Returns
    -------
    dict
        ``rows`` (rows written per file), ``loaded`` (rows loaded per kind), ``quarantined`` (per kind),
        ``truth_rows``, ``seconds`` (per step, plus ``generate``, ``load`` and ``total``) and ``files_dir``
        (when kept).
    """
    say = progress or (lambda _s: None)
    started = time.perf_counter()
    if keep_files_in is not None:
        return _build(workspace, Path(keep_files_in), n_customers, seed, say, started, keep=True)
    with tempfile.TemporaryDirectory(prefix="regulars-demo-") as tmp:
        return _build(workspace, Path(tmp), n_customers, seed, say, started, keep=False)


def _build(ws, folder: Path, n_customers: int, seed: int, say, started: float, keep: bool) -> dict:
    files = generate(folder, n_customers=n_customers, seed=seed, progress=say)
    generated = time.perf_counter()
    seconds = {f"generate {k}": v for k, v in files.seconds.items()}
    loaded, quarantined = {}, {}
    for kind, path in files:
        say(f"load {kind}")
        t = time.perf_counter()
        result = ingest(ws, kind, [path])
        seconds[f"load {kind}"] = round(time.perf_counter() - t, 3)
        loaded[kind] = result.rows_loaded
        quarantined[kind] = result.rows_quarantined
    say("store the demo truth")
    t = time.perf_counter()
    truth_rows = write_demo_truth(ws, files.truth)
    if files.texts_truth is not None:
        from regulars.data.text_store import write_text_truth

        write_text_truth(ws, files.texts_truth)
    if files.anomalies_truth is not None:
        from regulars.data.anomaly_store import write_truth

        write_truth(ws, files.anomalies_truth)
    seconds["store truth"] = round(time.perf_counter() - t, 3)
    done = time.perf_counter()
    seconds["generate"] = round(generated - started, 3)
    seconds["load"] = round(done - generated, 3)
    seconds["total"] = round(done - started, 3)
    return {
        "customers": n_customers,
        "seed": seed,
        "rows": dict(files.rows),
        "loaded": loaded,
        "quarantined": quarantined,
        "truth_rows": truth_rows,
        "seconds": seconds,
        "files_dir": str(folder) if keep else None,
    }
