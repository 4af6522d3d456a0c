"""The mapping part of the Data page's upload form: choose a saved mapping or paste one (TOML),
and optionally save the pasted one by name, so a semicolon / decimal-comma file loads from the
browser exactly as ``regulars ingest --mapping FILE`` loads it."""

from __future__ import annotations

from fastapi import Request

from regulars.server.errors import ApiError
from regulars.web.html import HTML, el, join, void

EXAMPLE = '[parse]\ndelimiter = ";"\ndecimal = ","\n\n[columns]\norder_id = "Bestellnummer"'


def mapping_fields(saved: list[str]) -> HTML:
    """Form controls: a saved-mapping choice, a TOML box and a "save as" name."""
    return join([
        el("div", el("label", "Saved mapping", for_="saved_mapping"),
           el("select", el("option", "none (columns named as regulars expects)", value=""),
              *[el("option", name, value=name) for name in saved], id="saved_mapping", name="saved_mapping")),
        el("div", el("label", "Or paste a mapping (TOML)", for_="mapping_toml"),
           el("textarea", "", id="mapping_toml", name="mapping_toml", rows="4", cols="40",
              placeholder=EXAMPLE)),
        el("div", el("label", "Save the pasted mapping as", for_="save_mapping_as"),
           void("input", type="text", id="save_mapping_as", name="save_mapping_as", maxlength="60",
              placeholder="e.g. till export")),
    ])


def chosen_mapping(request: Request, principal, saved: str, pasted: str, save_as: str) -> str | None:
    """The TOML to load with: the pasted text (saved under *save_as* when given), else the saved one."""
    from regulars.data import saved_mappings

    pasted, saved, save_as = (pasted or "").strip(), (saved or "").strip(), (save_as or "").strip()
    if pasted:
        if save_as:
            try:
                request.app.state.shared.write_transaction(
                    lambda con: saved_mappings.save_mapping(con, save_as, pasted, by=principal.actor))
            except ValueError as exc:
                raise ApiError(422, f"the mapping was not saved: {str(exc).splitlines()[0]}") from None
        return pasted
    if saved:
        with request.app.state.shared.read() as ws:
            try:
                return saved_mappings.mapping_text(ws, saved)
            except KeyError as exc:
                raise ApiError(422, exc.args[0]) from None
    return None


def saved_names(ws) -> list[str]:
    from regulars.data.saved_mappings import saved_mappings

    return saved_mappings(ws)
