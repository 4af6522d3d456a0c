"""Shopify: the admin's orders export and customers export (CSV).

Orders export (Admin > Orders > Export): one row per line item; the order's own
fields (status, totals, dates, addresses) are filled only on the first row of
each order, which is identified by ``Name`` (``#1001``). One file feeds both
``orders`` and ``order_lines``. ``order_id`` is ``Name`` (what the shop and its
customers see, present on every row); Shopify's numeric ``Id`` is ignored.

Customers export (Admin > Customers > Export): one row per customer. Newer
exports have ``Customer ID`` and ``Accepts Email Marketing``/``Accepts SMS
Marketing``; older ones have no id and a single ``Accepts Marketing``.

See ``docs/formats.md`` for every column and caveat.
"""

from __future__ import annotations

from regulars.data.ingest.convert import Target
from regulars.data.presets import register
from regulars.data.presets._common import (
    Header,
    HeaderPreset,
    Layout,
    blank,
    case_map,
    exprs_and_labels,
    first_row_per,
    line_number,
    name_id,
    signature_of,
    unquote_id,
)

#: The orders export's header, in Shopify's order (2024).
ORDER_COLUMNS = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes",
    "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level",
    "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name", "Tax 2 Value",
    "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value",
    "Phone", "Receipt Number", "Duties", "Billing Province Name", "Shipping Province Name",
    "Payment ID", "Payment Terms Name", "Next Payment Due At", "Payment References",
)

#: The customers export's header (2023+ layout).
CUSTOMER_COLUMNS = (
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing",
    "Default Address Company", "Default Address Address1", "Default Address Address2",
    "Default Address City", "Default Address Province Code", "Default Address Country Code",
    "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags",
)

ORDERS_LAYOUT = Layout(
    "orders", "Shopify orders export",
    (("Name",), ("Financial Status",), ("Created at",), ("Lineitem name",), ("Lineitem quantity",)),
)
CUSTOMERS_LAYOUT = Layout(
    "customers", "Shopify customers export",
    (("First Name",), ("Last Name",), ("Email",), ("Total Spent",), ("Total Orders",)),
)

#: ``Source`` (the sales channel that created the order) -> canonical channel.
CHANNELS = {
    "web": "web",
    "580111": "web",  # the Online Store app's id, seen in some exports
    "pos": "pos",
    "shopify_draft_order": "draft_order",
    "iphone": "app",
    "android": "app",
    "mobile_app": "app",
}


def _orders(columns: list[str]) -> list[Target]:
    PRESET.check_kind("orders", columns)
    h = Header(columns, "Shopify orders export")
    name = h.need("Name")
    created = h.need("Created at")
    total = h.need("Total")
    # The order's fields are on its first row; prefer a row that has them (in case the file was re-sorted).
    first = first_row_per(name, prefer=f"{blank(total)} IS NOT NULL")
    qty, price = h.need("Lineitem quantity"), h.need("Lineitem price")
    # Canonical subtotal is before discounts (Shopify's own "Subtotal" is after them):
    # the sum of the order's lines, NULL when one of them is unreadable.
    line_value = f"try_cast({blank('r.' + qty)} AS INTEGER) * try_cast({blank('r.' + price)} AS DECIMAL(18,2))"
    subtotal = (
        f"(SELECT CASE WHEN bool_and({line_value} IS NOT NULL) THEN CAST(sum({line_value}) AS VARCHAR) END "
        f"FROM _raw r WHERE r._file = _raw._file AND {blank('r.' + name)} = {blank('_raw.' + name)})"
    )
    cancelled = h.col("Cancelled at")
    financial = h.col("Financial Status")
    status = None
    if financial or cancelled:
        fin = f"lower({blank(financial)})" if financial else "NULL"
        status = f"CASE WHEN {blank(cancelled) if cancelled else 'NULL'} IS NOT NULL THEN 'cancelled' ELSE {fin} END"
    phone = [c for c in (h.col("Phone"), h.col("Billing Phone")) if c]
    source = h.col("Source")
    exprs, labels = exprs_and_labels({
        "order_id": (blank(name), 'column "Name" (order_id)'),
        "email": (h.col("Email"), h.label("Email")),
        "phone": (f"coalesce({', '.join(unquote_id(p) for p in phone)})" if phone else None,
                  'column "Phone" (or "Billing Phone")'),
        "ordered_at": (created, 'column "Created at"'),
        "status": (status, 'columns "Financial Status" / "Cancelled at" (status)'),
        "currency": (h.col("Currency"), h.label("Currency")),
        "subtotal": (subtotal, 'columns "Lineitem quantity" x "Lineitem price", summed over the order (subtotal)'),
        "discount": (h.col("Discount Amount"), h.label("Discount Amount")),
        "shipping": (h.col("Shipping"), h.label("Shipping")),
        "tax": (h.col("Taxes"), h.label("Taxes")),
        "total": (total, h.label("Total")),
        "refunded": (h.col("Refunded Amount"), h.label("Refunded Amount")),
        "cancelled_at": (cancelled, 'column "Cancelled at"') if cancelled else (None, ""),
        "channel": (case_map(source, CHANNELS) if source else None, 'column "Source" (channel)'),
        "location": (h.col("Location"), h.label("Location")),
        "discount_code": (h.col("Discount Code"), h.label("Discount Code")),
    })
    orders = Target("orders", exprs, labels, where=first)

    sku = h.col("Lineitem sku")
    item = h.need("Lineitem name")
    product = f"coalesce({blank(sku)}, {name_id('n-', item)})" if sku else name_id("n-", item)
    lexprs, llabels = exprs_and_labels({
        "order_id": (blank(name), 'column "Name" (order_id)'),
        "line_number": (line_number(name), "line number (position of the row in its order)"),
        "product_id": (product, 'column "Lineitem sku" (or a hash of "Lineitem name") (product_id)'),
        "sku": (sku, h.label("Lineitem sku")),
        "product_name": (item, h.label("Lineitem name")),
        "quantity": (qty, h.label("Lineitem quantity")),
        "unit_price": (price, h.label("Lineitem price")),
        "discount": (h.col("Lineitem discount"), h.label("Lineitem discount")),
    })
    lines = Target("order_lines", lexprs, llabels)
    return [orders, lines]


def _customers(columns: list[str]) -> list[Target]:
    PRESET.check_kind("customers", columns)
    h = Header(columns, "Shopify customers export")
    cid = h.col("Customer ID")
    phones = [c for c in (h.col("Phone"), h.col("Default Address Phone")) if c]
    email_ok = h.col("Accepts Email Marketing", "Accepts Marketing")
    exprs, labels = exprs_and_labels({
        "customer_id": (unquote_id(cid) if cid else None, 'column "Customer ID"'),
        "email": (h.need("Email"), h.label("Email")),
        "phone": (f"coalesce({', '.join(unquote_id(p) for p in phones)})" if phones else None,
                  'column "Phone" (or "Default Address Phone")'),
        "first_name": (h.col("First Name"), h.label("First Name")),
        "last_name": (h.col("Last Name"), h.label("Last Name")),
        "city": (h.col("Default Address City", "City"), h.label("Default Address City", "City")),
        "region": (h.col("Default Address Province Code", "Province Code", "Province"),
                   h.label("Default Address Province Code", "Province Code", "Province")),
        "country": (h.col("Default Address Country Code", "Country Code", "Country"),
                    h.label("Default Address Country Code", "Country Code", "Country")),
        "postal_code": (unquote_id(z) if (z := h.col("Default Address Zip", "Zip")) else None,
                        h.label("Default Address Zip", "Zip")),
        "accepts_email": (email_ok, h.label("Accepts Email Marketing", "Accepts Marketing")),
        "accepts_sms": (h.col("Accepts SMS Marketing"), h.label("Accepts SMS Marketing")),
        "tags": (h.col("Tags"), h.label("Tags")),
        "consent_at": (h.col(*CONSENT_DATES), h.label(*CONSENT_DATES)),
    })
    return [Target("customers", exprs, labels)]


#: Columns some Shopify customer exports (API-based tools) carry with the consent's date.
CONSENT_DATES = ("Accepts Email Marketing Updated At", "Accepts Marketing Updated At",
                 "Email Marketing Consent Updated At", "accepts_marketing_updated_at")


PRESET = register(
    HeaderPreset(
        name="shopify",
        title="Shopify",
        format="csv",
        signature=signature_of(ORDERS_LAYOUT),
        builders={"orders": _orders, "customers": _customers},
        layouts=(ORDERS_LAYOUT, CUSTOMERS_LAYOUT),
    )
)

__all__ = ["PRESET", "ORDER_COLUMNS", "CUSTOMER_COLUMNS", "CHANNELS"]
