"""The canonical tables of a workspace: columns, types, keys and grain.

Why this module is long: it is the declaration of every canonical table (columns, types, keys,
grain, PII), one table after another; a table's definition is a few lines and reads best beside the
others it joins.

Every input format is mapped onto these tables. Conventions:

- keys end in ``_id``; timestamps end in ``_at`` and are naive **UTC**;
  booleans start with ``is_`` or ``accepts_``;
- money is ``DECIMAL(18, 2)`` in the order's currency (no conversion);
- ``_run_id`` on a loaded row is the ingest run that last wrote it;
- PII lives only in the columns listed in :data:`PII_COLUMNS`, so access
  control and erasure have one place to look. Identifiers such as e-mail
  addresses are stored as keyed hashes in ``identities``.

Examples
--------
>>> TABLES["orders"].key
('order_id',)
>>> "email" in PII_COLUMNS["customers"]
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regulars.values import CANCELLED_STATUSES, EXCLUDED_STATUSES, NEVER_SOLD_STATUSES  # noqa: F401  (re-exported)

MONEY = "DECIMAL(18,2)"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    type: str
    doc: str = ""
    required: bool = False
    #: Added by a later migration (not by the first one, which creates the original tables).
    later: bool = False


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns, key and the grain (one row per ...)."""

    name: str
    grain: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    customer_column: str | None = "customer_id"
    time_column: str | None = None
    extra_columns: tuple[Column, ...] = field(default=())
    #: Created by a later migration (not by the first one).
    later: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _c(name: str, type_: str, doc: str = "", required: bool = False, later: bool = False) -> Column:
    return Column(name, type_, doc, required, later)


#: Largest amount accepted in a money column (absolute value; larger ones are quarantined).
#: DECIMAL(18,2) holds 10^16, so a customer's total stays exact over ten million such orders.
MAX_AMOUNT = 10**9
#: Largest quantity accepted on an order line (absolute value): quantity x unit price stays
#: within DECIMAL(18,2).
MAX_QUANTITY = 10**6

RUN = _c("_run_id", "BIGINT", "ingest run that last wrote this row")

CUSTOMERS = Table(
    "customers",
    "one row per customer (after identity resolution)",
    (
        _c("customer_id", "VARCHAR", "the shop's customer id, or e-/p- + keyed hash when only an e-mail/phone is known", True),
        _c("email", "VARCHAR", "PII; lower-cased and trimmed (data/normalize.py)"),
        _c("phone", "VARCHAR", "PII; digits, with a leading + when written internationally (data/normalize.py)"),
        _c("first_name", "VARCHAR", "PII"),
        _c("last_name", "VARCHAR", "PII"),
        _c("created_at", "TIMESTAMP", "when the customer account was created"),
        _c("city", "VARCHAR"),
        _c("region", "VARCHAR"),
        _c("country", "VARCHAR"),
        _c("postal_code", "VARCHAR", "PII (quasi-identifier)"),
        _c("acquisition_channel", "VARCHAR", "e.g. organic, paid_search, social, referral, email, store"),
        _c("birth_date", "DATE", "PII (quasi-identifier)"),
        _c("accepts_email", "BOOLEAN", "current consent to marketing e-mail"),
        _c("accepts_sms", "BOOLEAN", "current consent to marketing SMS"),
        _c("accepts_personalization", "BOOLEAN", "current consent to personalised offers (default true unless opted out)"),
        _c("tags", "VARCHAR"),
        RUN,
        _c("consent_at", "TIMESTAMP", "when the source says the marketing consent was last stated (e.g. Shopify's "
           "accepts_marketing_updated_at, a consent_date or opt_in_date column); NULL when the file gives no date",
           later=True),
    ),
    key=("customer_id",),
    time_column="created_at",
)

IDENTITIES = Table(
    "identities",
    "one row per identifier known for a customer (shop id, e-mail, phone, anonymous web id)",
    (
        _c("kind", "VARCHAR", "shop_id | email | phone | anonymous_id", True),
        _c("value", "VARCHAR", "the identifier; e-mail and phone as a keyed hash of the normalised value (data/keyed.py)", True),
        _c("customer_id", "VARCHAR", "the customer this identifier belongs to", True),
        _c("source", "VARCHAR", "which load first linked it (kind and file)"),
        _c("reason", "VARCHAR", "why the link was made, in words"),
        _c("linked_at", "TIMESTAMP", "when the link was made"),
        RUN,
    ),
    key=("kind", "value"),
)

PRODUCTS = Table(
    "products",
    "one row per product (or variant, when the shop sells variants by SKU)",
    (
        _c("product_id", "VARCHAR", "", True),
        _c("sku", "VARCHAR"),
        _c("name", "VARCHAR"),
        _c("category", "VARCHAR"),
        _c("brand", "VARCHAR"),
        _c("price", MONEY),
        _c("is_active", "BOOLEAN", "in stock / sellable"),
        RUN,
    ),
    key=("product_id",),
    customer_column=None,
)

ORDERS = Table(
    "orders",
    "one row per order (a refund-only transaction, such as a credit note, is an order with a negative total)",
    (
        _c("order_id", "VARCHAR", "the source's order id, or o- + hash of the row when it has none", True),
        _c("customer_id", "VARCHAR", "NULL for a guest order (walk-in, guest checkout): counted in shop-level "
           "figures (revenue, orders, forecast, baskets), skipped by customer-level ones"),
        _c("ordered_at", "TIMESTAMP", "", True),
        _c("status", "VARCHAR", "paid | pending | refunded | partially_refunded | cancelled | ..."),
        _c("currency", "VARCHAR"),
        _c("subtotal", MONEY),
        _c("discount", MONEY, "order-level discount, positive number"),
        _c("shipping", MONEY),
        _c("tax", MONEY),
        _c("total", MONEY, "amount charged; negative for a return", True),
        _c("refunded", MONEY, "amount refunded later (positive); net revenue = total - refunded"),
        _c("channel", "VARCHAR", "web | pos | app | marketplace ..."),
        _c("location", "VARCHAR"),
        _c("discount_code", "VARCHAR"),
        RUN,
        _c("refunded_at", "TIMESTAMP", "when the refund happened (UTC): the source's refund date, else the time "
           "of the export that first showed it (the file's modification time); NULL when nothing was refunded. "
           "Before this time the order's net revenue is its total.", later=True),
        _c("cancelled_at", "TIMESTAMP", "when the order was cancelled or voided (UTC): the source's date, else "
           "the time of the export that first showed it; NULL when it was not. Before this time the order "
           "counts as placed.", later=True),
    ),
    key=("order_id",),
    time_column="ordered_at",
)

ORDER_LINES = Table(
    "order_lines",
    "one row per line of an order (negative quantity = returned items)",
    (
        _c("order_id", "VARCHAR", "", True),
        _c("line_number", "INTEGER", "1-based position in the order", True),
        _c("product_id", "VARCHAR"),
        _c("sku", "VARCHAR"),
        _c("product_name", "VARCHAR"),
        _c("category", "VARCHAR"),
        _c("quantity", "INTEGER", "", True),
        _c("unit_price", MONEY, "", True),
        _c("discount", MONEY, "line discount, positive number"),
        RUN,
    ),
    key=("order_id", "line_number"),
    customer_column=None,
)

EVENTS = Table(
    "events",
    "one row per web/app event",
    (
        _c("event_id", "VARCHAR", "the source's id, or v- + hash of the row", True),
        _c("customer_id", "VARCHAR", "null until the visitor is identified"),
        _c("anonymous_id", "VARCHAR", "cookie / device id"),
        _c("session_id", "VARCHAR"),
        _c("event_type", "VARCHAR", "page_view | product_view | search | add_to_cart | begin_checkout | add_shipping_info | add_payment_info | purchase | wishlist_add | video_play | download | form_submit | ...", True),
        _c("occurred_at", "TIMESTAMP", "", True),
        _c("page_url", "VARCHAR"),
        _c("product_id", "VARCHAR"),
        _c("search_query", "VARCHAR"),
        _c("traffic_source", "VARCHAR", "utm source / medium"),
        _c("properties", "JSON", "anything else, as JSON"),
        RUN,
    ),
    key=("event_id",),
    time_column="occurred_at",
)

MESSAGES = Table(
    "messages",
    "one row per e-mail/SMS engagement event (sent, delivered, opened, clicked, unsubscribed, bounced, converted)",
    (
        _c("message_id", "VARCHAR", "the source's id, or m- + hash of the row", True),
        _c("customer_id", "VARCHAR", "", True),
        _c("campaign_id", "VARCHAR"),
        _c("channel", "VARCHAR", "email | sms"),
        _c("event_type", "VARCHAR", "sent | delivered | opened | clicked | unsubscribed | bounced | converted | spam_complaint", True),
        _c("occurred_at", "TIMESTAMP", "", True),
        RUN,
    ),
    key=("message_id",),
    time_column="occurred_at",
)

CAMPAIGNS = Table(
    "campaigns",
    "one row per marketing campaign",
    (
        _c("campaign_id", "VARCHAR", "", True),
        _c("name", "VARCHAR"),
        _c("channel", "VARCHAR"),
        _c("sent_at", "TIMESTAMP"),
        RUN,
    ),
    key=("campaign_id",),
    customer_column=None,
    time_column="sent_at",
)

MARKETING_SPEND = Table(
    "marketing_spend",
    "one row per day and channel",
    (
        _c("spent_on", "DATE", "", True),
        _c("channel", "VARCHAR", "same vocabulary as customers.acquisition_channel", True),
        _c("amount", MONEY, "", True),
        RUN,
    ),
    key=("spent_on", "channel"),
    customer_column=None,
    time_column="spent_on",
)

TICKETS = Table(
    "tickets",
    "one row per support ticket",
    (
        _c("ticket_id", "VARCHAR", "", True),
        _c("customer_id", "VARCHAR", "", True),
        _c("opened_at", "TIMESTAMP", "", True),
        _c("closed_at", "TIMESTAMP"),
        _c("channel", "VARCHAR"),
        _c("topic", "VARCHAR"),
        _c("body", "VARCHAR", "free text; may contain PII"),
        _c("csat", "INTEGER", "1..5"),
        RUN,
    ),
    key=("ticket_id",),
    time_column="opened_at",
)

REVIEWS = Table(
    "reviews",
    "one row per product review",
    (
        _c("review_id", "VARCHAR", "", True),
        _c("customer_id", "VARCHAR", "", True),
        _c("product_id", "VARCHAR"),
        _c("rating", "INTEGER", "1..5", True),
        _c("body", "VARCHAR", "free text; may contain PII"),
        _c("created_at", "TIMESTAMP", "", True),
        RUN,
    ),
    key=("review_id",),
    time_column="created_at",
)

SURVEYS = Table(
    "surveys",
    "one row per survey answer (NPS 0..10, CSAT 1..5, or other)",
    (
        _c("response_id", "VARCHAR", "", True),
        _c("customer_id", "VARCHAR", "", True),
        _c("survey", "VARCHAR", "nps | csat | other", True),
        _c("score", "INTEGER", "", True),
        _c("comment", "VARCHAR", "free text; may contain PII"),
        _c("answered_at", "TIMESTAMP", "", True),
        RUN,
    ),
    key=("response_id",),
    time_column="answered_at",
)

CONSENTS = Table(
    "consents",
    "one row per consent decision (customer, purpose, time); the latest per purpose is current",
    (
        _c("customer_id", "VARCHAR", "", True),
        _c("purpose", "VARCHAR", "email | sms | personalization", True),
        _c("is_granted", "BOOLEAN", "", True),
        _c("recorded_at", "TIMESTAMP", "", True),
        _c("source", "VARCHAR"),
        RUN,
        _c("from_load", "BOOLEAN", "true when the source gave no date for the decision: recorded_at is then when "
           "the file was loaded, not when the customer decided", later=True),
    ),
    key=("customer_id", "purpose", "recorded_at"),
    time_column="recorded_at",
)

INGEST_RUNS = Table(
    "ingest_runs",
    "one row per ingest run (one command, one transaction)",
    (
        _c("run_id", "BIGINT", "", True),
        _c("kind", "VARCHAR"),
        _c("format", "VARCHAR"),
        _c("files", "VARCHAR", "JSON list of file paths"),
        _c("started_at", "TIMESTAMP"),
        _c("finished_at", "TIMESTAMP"),
        _c("rows_read", "BIGINT"),
        _c("rows_new", "BIGINT"),
        _c("rows_updated", "BIGINT"),
        _c("rows_unchanged", "BIGINT"),
        _c("rows_quarantined", "BIGINT"),
        _c("summary", "JSON", "per-table counts and warnings"),
    ),
    key=("run_id",),
    customer_column=None,
    time_column="started_at",
)

QUARANTINE = Table(
    "quarantine",
    "one row per rejected input row: which file, which row, why, and the raw row",
    (
        _c("run_id", "BIGINT", "", True),
        _c("kind", "VARCHAR"),
        _c("file", "VARCHAR"),
        _c("row_number", "BIGINT", "1-based data row in the file (the header is not counted)"),
        _c("column_name", "VARCHAR", "the source column at fault, when one is"),
        _c("reason", "VARCHAR"),
        _c("raw", "JSON", "the row as read, column -> text"),
        _c("raw_hash", "VARCHAR"),
    ),
    key=("kind", "file", "row_number", "raw_hash"),
    customer_column=None,
)

INGEST_WARNINGS = Table(
    "ingest_warnings",
    "one row per value a load dropped from a row it still loaded (a junk phone, a malformed e-mail, "
    "an unreadable optional date): the row loaded without it",
    (
        _c("run_id", "BIGINT", "", True),
        _c("kind", "VARCHAR"),
        _c("file", "VARCHAR"),
        _c("row_number", "BIGINT", "1-based data row in the file (the header is not counted)"),
        _c("column_name", "VARCHAR", "the source column whose value was dropped"),
        _c("value", "VARCHAR", "the dropped value (may be personal data)"),
        _c("reason", "VARCHAR"),
        _c("customer_id", "VARCHAR", "the customer of the row, when it has one (erasure and merges follow it)"),
    ),
    key=("run_id", "file", "row_number", "column_name"),
    later=True,
)

ERASURES = Table(
    "erasures",
    "one row per right-to-erasure request carried out (holds no PII)",
    (
        _c("erasure_id", "VARCHAR", "", True),
        _c("erased_at", "TIMESTAMP", "", True),
        _c("subject_hash", "VARCHAR", "no longer kept (NULL since the privacy migration: a hash of a customer id can be reversed by guessing)"),
        _c("rows_deleted", "JSON", "table -> number of rows deleted"),
        _c("requested_by", "VARCHAR"),
    ),
    key=("erasure_id",),
    customer_column=None,
)

DEMO_TRUTH = Table(
    "demo_truth",
    "one row per demo customer: the planted latent type and process parameters (demo shop only)",
    (
        _c("customer_id", "VARCHAR", "", True),
        _c("latent_type", "VARCHAR", "", True),
        _c("purchase_rate", "DOUBLE", "expected orders per week while alive"),
        _c("dropout_probability", "DOUBLE", "probability of churning after each order"),
        _c("favourite_category", "VARCHAR"),
        _c("discount_affinity", "DOUBLE"),
        _c("email_engagement", "DOUBLE"),
        _c("acquired_at", "TIMESTAMP"),
        _c("churned_at", "TIMESTAMP", "when the customer silently dropped out (null = still alive)"),
        _c("is_alive", "BOOLEAN", "alive at the end of the demo period"),
        _c("orders_next_365d", "DOUBLE", "expected orders in the year after the demo period"),
    ),
    key=("customer_id",),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CUSTOMERS,
        IDENTITIES,
        PRODUCTS,
        ORDERS,
        ORDER_LINES,
        EVENTS,
        MESSAGES,
        CAMPAIGNS,
        MARKETING_SPEND,
        TICKETS,
        REVIEWS,
        SURVEYS,
        CONSENTS,
        INGEST_RUNS,
        QUARANTINE,
        INGEST_WARNINGS,
        ERASURES,
        DEMO_TRUTH,
    )
}

#: What ``regulars ingest KIND`` accepts, and the table each kind loads.
KINDS: dict[str, str] = {
    "customers": "customers",
    "products": "products",
    "orders": "orders",
    "order-lines": "order_lines",
    "events": "events",
    "messages": "messages",
    "campaigns": "campaigns",
    "tickets": "tickets",
    "reviews": "reviews",
    "surveys": "surveys",
    "consents": "consents",
    "spend": "marketing_spend",
}

PII_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("email", "phone", "first_name", "last_name", "postal_code", "birth_date"),
    "tickets": ("body",),
    "reviews": ("body",),
    "surveys": ("comment",),
}

#: Tables that hold one customer's rows (by ``customer_id``), for erasure and access.
CUSTOMER_TABLES = [t.name for t in TABLES.values() if t.customer_column]


def create_table_sql(table: Table, original: bool = False) -> str:
    """The ``CREATE TABLE`` statement for a canonical table.

    With *original*, only the columns the first migration created (later ones are added by
    their own migration, so that every workspace ends up with the same column order).

    >>> print(create_table_sql(TABLES["marketing_spend"]).splitlines()[0])
    CREATE TABLE IF NOT EXISTS marketing_spend (
    >>> "refunded_at" in create_table_sql(TABLES["orders"], original=True)
    False
    """
    cols = ",\n".join(f"    {c.name} {c.type}" for c in table.columns if not (original and c.later))
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n{cols}\n)"
