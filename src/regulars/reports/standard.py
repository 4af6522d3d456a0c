"""The reports a shop owner opens every day, read from the stored results when the data is unchanged.

Read commands, dashboard pages and the refresh job (:mod:`regulars.jobs.precompute`)
ask for these through the functions here, so the same options make the same
stored entry: what ``regulars demo`` or ``regulars segments refresh`` computed is what
``regulars funnel`` and the Funnel page show, without computing it again. Each
returns a :class:`~regulars.reports.stored.Stored` (the report in ``.value``); *save* is passed to
:func:`~regulars.reports.stored.stored` (the server gives its writer).
"""

from __future__ import annotations

from regulars.data.fairness_store import AUDIT_TABLES
from regulars.reports.stored import Stored, stored

#: ``regulars funnel``'s defaults (the dashboard's Funnel page uses them too).
FUNNEL_DEFAULTS = {"by": None, "segment_column": "segment", "steps": None, "unit": "session", "gap": 30.0,
                   "session": "inactivity", "paths": 10, "as_of": None}
#: ``regulars clusters``' defaults (the Segments page's persona cards use them too).
CLUSTER_DEFAULTS = {"method": "kmeans", "k": None, "as_of": None, "seed": 0}


def funnel(ws, refresh: bool = False, segments=None, save=None, like=None, **options) -> Stored:
    """The funnel report (:func:`regulars.reports.funnel.funnel_report`) with ``regulars funnel``'s options.

    With ``by="segment"`` pass *segments* (a table ``customer_id``, *segment_column*) or leave it
    None for the RFM segments computed from the orders. *like*: a funnel report with the same
    unit, sessions, gap, paths and date, whose paths and drop-off are reused when computing.
    """
    params = {**FUNNEL_DEFAULTS, **options}
    params["gap"] = float(params["gap"])

    def compute(w):
        from regulars.features.funnel import _steps
        from regulars.reports.funnel import funnel_report, overall_from_split

        if (like is not None and like.by == "source" and params["by"] is None
                and like.steps == _steps(params["steps"])):
            return overall_from_split(like)  # the sources partition the units: add them up
        seg = segments
        if params["by"] == "segment" and seg is None:
            if params["segment_column"] == "segment":
                from regulars.segments.rfm import rfm

                seg = rfm(w, as_of=params["as_of"])
            else:
                from regulars.features.mart import customer_features

                seg = customer_features(w, as_of=params["as_of"])
        return funnel_report(w, steps=params["steps"], by=params["by"], segments=seg,
                             segment_column=params["segment_column"], unit=params["unit"],
                             gap_minutes=params["gap"], session=params["session"], top_paths=params["paths"],
                             as_of=params["as_of"],
                             paths_and_drop_off=None if like is None else (like.paths, like.abandonment))

    if like is not None and (like.unit != params["unit"]):
        raise ValueError("like= needs a funnel report of the same unit")
    if segments is not None:  # segments given by the caller (e.g. the stored memberships): not an input-only report
        return Stored(compute(ws), None, params["as_of"], False)
    return stored(ws, "funnel", params, compute, refresh=refresh, save=save, reads="inputs", as_of=params["as_of"])


def clusters(ws, refresh: bool = False, save=None, **options) -> Stored:
    """Clusters and persona cards (:func:`regulars.reports.personas.cluster_report`)."""
    params = {**CLUSTER_DEFAULTS, **options}

    def compute(w):
        from regulars.reports.personas import cluster_report

        return cluster_report(w, method=params["method"], n_clusters=params["k"], as_of=params["as_of"],
                              random_state=params["seed"])

    return stored(ws, "clusters", params, compute, refresh=refresh, save=save, reads="inputs", as_of=params["as_of"])


def kpis(ws, by: str | None = None, refresh: bool = False, save=None) -> Stored:
    """The KPI report over the whole history (:func:`regulars.reports.kpis.kpis`)."""
    def compute(w):
        from regulars.reports.kpis import kpis as compute_kpis

        return compute_kpis(w, by=by)

    return stored(ws, "kpis", {"by": by}, compute, refresh=refresh, save=save, reads="inputs")


def doctor(ws, refresh: bool = False, save=None) -> Stored:
    """The data doctor (:func:`regulars.reports.doctor.doctor`): it reads the shop's own data only, so a
    segment refresh, a prediction run or the server installing its journey templates keeps it."""
    def compute(w):
        from regulars.reports.doctor import doctor as examine

        return examine(w)

    return stored(ws, "doctor", {}, compute, refresh=refresh, save=save, reads="inputs")


def segment_kpis(ws, kind: str, refresh: bool = False, save=None) -> Stored:
    """KPIs and predicted value per segment of *kind* (:func:`regulars.reports.segment_kpis.segment_kpis`)."""
    def compute(w):
        from regulars.reports.segment_kpis import segment_kpis as compute_segment_kpis

        return compute_segment_kpis(w, kind)

    return stored(ws, "segment_kpis", {"kind": kind}, compute, refresh=refresh, save=save, ignore=AUDIT_TABLES)


def monday(ws, as_of=None, shop_name: str = "My shop", refresh: bool = False, save=None) -> Stored:
    """The weekly report's data (:func:`regulars.reports.monday.monday_report`, as a dict); a fairness
    audit, which it does not show, keeps it."""
    def compute(w):
        from regulars.reports.monday import monday_report

        return monday_report(w, as_of=as_of, shop_name=shop_name).to_dict()

    if as_of is not None:  # another week: computed when asked, not kept (any date may be asked for)
        return Stored(compute(ws), None, as_of, False)
    return stored(ws, "monday", {"as_of": as_of, "shop_name": shop_name}, compute, refresh=refresh, save=save,
                  ignore=AUDIT_TABLES)
