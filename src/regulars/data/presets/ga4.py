"""Google Analytics 4: the BigQuery export's event rows, as JSON lines.

One JSON object per line, shaped like the ``events_YYYYMMDD`` tables
(``bq extract --destination_format NEWLINE_DELIMITED_JSON`` writes exactly
this): ``event_name``, ``event_timestamp`` (microseconds since the epoch, a
number or a string), ``user_pseudo_id`` (the cookie), ``user_id`` (the shop's
customer id, once the visitor logs in), ``event_params`` (an array of
``{key, value: {string_value | int_value | double_value | float_value}}``),
``traffic_source``, ``items`` and ``ecommerce``. Nested values arrive in the
staging table as JSON text and are read with DuckDB's JSON functions.

When a visitor logs in, the rows that carry both ``user_pseudo_id`` and
``user_id`` link the cookie to the customer, and that visitor's earlier
anonymous events are attributed to the customer.
"""

from __future__ import annotations

from regulars.data.ingest.convert import Target
from regulars.data.ingest.readers import lit
from regulars.data.presets import register
from regulars.data.presets._common import (
    Header,
    HeaderPreset,
    Layout,
    blank,
    case_map,
    exprs_and_labels,
    signature_of,
)

#: GA4 event names -> canonical event types; other names are kept as they are.
EVENT_TYPES = {
    "page_view": "page_view",
    "view_item": "product_view",
    "view_search_results": "search",
    "search": "search",
    "add_to_cart": "add_to_cart",
    "begin_checkout": "begin_checkout",
    "add_shipping_info": "add_shipping_info",
    "add_payment_info": "add_payment_info",
    "purchase": "purchase",
    "add_to_wishlist": "wishlist_add",
    "video_start": "video_play",
    "file_download": "download",
    "form_submit": "form_submit",
}

#: Parameters that have a column of their own (the rest go to ``properties``).
MAPPED_PARAMS = ("page_location", "ga_session_id", "search_term")

LAYOUT = Layout("events", "GA4 BigQuery event export", (("event_name",), ("event_timestamp",), ("user_pseudo_id",)))


#: Shape of ``event_params`` for DuckDB's ``from_json`` (one fast, lenient parse per row).
PARAMS_SHAPE = (
    '[{"key": "VARCHAR", "value": {"string_value": "VARCHAR", "int_value": "VARCHAR", '
    '"float_value": "VARCHAR", "double_value": "VARCHAR"}}]'
)


def _params(col: str) -> str:
    """SQL: ``event_params`` as a list of ``{key, value}`` structs (NULL when absent or not JSON)."""
    return f"(CASE WHEN json_valid({col}) THEN from_json({col}, {lit(PARAMS_SHAPE)}) END)"


def _value(p: str) -> str:
    """SQL: the JSON value of one parsed parameter ``p`` (a string, or a number for numeric values)."""
    v = f"{p}.value"
    num = f"coalesce({v}.double_value, {v}.float_value)"
    return (
        f"CASE WHEN {v}.string_value IS NOT NULL THEN to_json({v}.string_value) "
        f"WHEN {v}.int_value IS NOT NULL THEN coalesce(try_cast({v}.int_value AS BIGINT)::JSON, to_json({v}.int_value)) "
        f"WHEN {num} IS NOT NULL THEN coalesce(try_cast({num} AS DOUBLE)::JSON, to_json({num})) END"
    )


def param(params_col: str, key: str) -> str:
    """SQL: the text value of event parameter *key* (NULL when absent)."""
    found = f"list_filter({_params(params_col)}, lambda p: p.key = {lit(key)})"
    v = f"{found}[1].value"
    return f"coalesce({v}.string_value, {v}.int_value, {v}.double_value, {v}.float_value)"


def _timestamp(col: str) -> str:
    """SQL: epoch digits -> ``YYYY-MM-DD HH:MM:SS.ffffff`` text (16 digits = µs, 13 = ms, 10 = s).

    Anything else is passed through unchanged, so the validation step reports it.
    """
    n = f"coalesce(try_cast({blank(col)} AS BIGINT), try_cast(try_cast({blank(col)} AS DOUBLE) AS BIGINT))"
    return (
        f"CASE WHEN {n} >= 100000000000000 THEN strftime(make_timestamp({n}), '%Y-%m-%d %H:%M:%S.%f') "
        f"WHEN {n} >= 100000000000 THEN strftime(make_timestamp({n} * 1000), '%Y-%m-%d %H:%M:%S.%f') "
        f"WHEN {n} >= 100000000 THEN strftime(make_timestamp({n} * 1000000), '%Y-%m-%d %H:%M:%S.%f') "
        f"ELSE {col} END"
    )


def _json_field(col: str | None, path: str) -> str:
    if col is None:
        return "NULL"
    return f"(CASE WHEN json_valid({col}) THEN json_extract_string({col}, {lit(path)}) END)"


def _events(columns: list[str]) -> list[Target]:
    h = Header(columns, "GA4 event export")
    name = h.need("event_name")
    ts = h.need("event_timestamp")
    pseudo = h.col("user_pseudo_id")
    user = h.col("user_id")
    params = h.col("event_params")
    items = h.col("items")
    ecommerce = h.col("ecommerce")
    traffic = h.col("traffic_source")

    session = None
    if params:
        sid = param(params, "ga_session_id")
        session = f"coalesce({blank(pseudo) if pseudo else 'NULL'} || '-', '') || {sid}"  # NULL without a session id

    source = None
    if traffic:
        src, med = _json_field(traffic, "$.source"), _json_field(traffic, "$.medium")
        source = f"nullif(concat_ws(' / ', nullif(trim({src}), ''), nullif(trim({med}), '')), '')"

    props = ["'{}'::JSON"]
    if params:
        # Unmapped parameters as one JSON object; a repeated key keeps its last value.
        rest = (
            f"list_filter({_params(params)}, lambda p: p.key IS NOT NULL "
            f"AND NOT list_contains({list(MAPPED_PARAMS)}, p.key))"
        )
        props[0] = (
            f"coalesce(list_reduce(list_transform({rest}, lambda p: json_object(p.key, {_value('p')})), "
            "lambda a, b: json_merge_patch(a, b), '{}'::JSON), '{}'::JSON)"
        )
    extra = []
    for key, col in (("ecommerce", ecommerce), ("items", items)):
        if col:
            # Empty arrays/objects and nulls add nothing.
            extra.append(f"{lit(key)}, CASE WHEN json_valid({col}) AND {col} NOT IN ('[]', '{{}}', 'null') THEN {col}::JSON END")
    properties = props[0] if not extra else f"json_merge_patch({props[0]}, json_object({', '.join(extra)}))"

    exprs, labels = exprs_and_labels({
        "anonymous_id": (pseudo, 'field "user_pseudo_id" (anonymous_id)'),
        "customer_id": (user, 'field "user_id" (customer_id)'),
        "event_type": (case_map(name, EVENT_TYPES, blank(name)), 'field "event_name" (event_type)'),
        "occurred_at": (_timestamp(ts), 'field "event_timestamp" (microseconds since 1970)'),
        "session_id": (session, 'event parameter "ga_session_id" (session_id)'),
        "page_url": (param(params, "page_location") if params else None, 'event parameter "page_location" (page_url)'),
        "search_query": (param(params, "search_term") if params else None, 'event parameter "search_term" (search_query)'),
        "product_id": (_json_field(items, "$[0].item_id") if items else None, 'field "items[0].item_id" (product_id)'),
        "traffic_source": (source, 'field "traffic_source" (source / medium)'),
        "properties": (properties, "other event parameters, ecommerce and items (properties)"),
    })
    return [Target("events", exprs, labels)]


PRESET = register(
    HeaderPreset(
        name="ga4",
        title="GA4 (BigQuery export)",
        format="jsonl",
        signature=signature_of(LAYOUT),
        builders={"events": _events},
        layouts=(LAYOUT,),
    )
)
