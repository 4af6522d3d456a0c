"""WooCommerce: an order export with one row per line item (CSV).

The layout is the common one of order-export plugins ("Advanced Order Export
For WooCommerce" and similar): the order's fields are repeated on every row and
the line's fields (``SKU``, ``Item Name``, ``Quantity``, ``Item Cost`` ...)
follow. Column names are matched ignoring case and punctuation, and the usual
alternative spellings are accepted (``Order ID`` or ``Order Number``, ``Billing
Email`` or ``Email (Billing)`` ...). One file feeds ``orders`` and
``order_lines``; see ``docs/formats.md``.
"""

from __future__ import annotations

from regulars.data.ingest.convert import Target
from regulars.data.presets import register
from regulars.data.presets._common import (
    Header,
    HeaderPreset,
    Layout,
    blank,
    exprs_and_labels,
    first_row_per,
    line_number,
    name_id,
    positive,
    signature_of,
)

ORDER_ID = ("Order Number", "Order ID", "order_number", "order_id")
ORDER_DATE = ("Order Date", "Date", "order_date")
ORDER_STATUS = ("Order Status", "Status", "order_status")
ITEM_NAME = ("Item Name", "Product Name", "item_name")

ORDERS_LAYOUT = Layout(
    "orders", "WooCommerce order export",
    (ORDER_ID, ("Order Date", "order_date"), ("Order Status", "order_status"),
     ("Order Total Amount", "Order Total", "order_total"), ITEM_NAME),
)

#: WooCommerce status (``wc-`` prefix removed) -> canonical status.
STATUSES = {
    "completed": "paid",
    "processing": "paid",
    "on-hold": "pending",
    "pending": "pending",
    "cancelled": "cancelled",
    "refunded": "refunded",
    "failed": "failed",
    "checkout-draft": "draft",
    "trash": "deleted",
}


def _status(status: str, refund: str | None) -> str:
    s = f"regexp_replace(lower({blank(status)}), '^wc-', '')"
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STATUSES.items())
    mapped = f"CASE {s} {whens} ELSE {s} END"
    if refund is None:
        return mapped
    refunded = f"coalesce(try_cast(regexp_replace({positive(refund)}, '[^0-9.]', '', 'g') AS DOUBLE), 0) > 0"
    return f"CASE WHEN {s} IN ('completed', 'processing') AND {refunded} THEN 'partially_refunded' ELSE {mapped} END"


def _orders(columns: list[str]) -> list[Target]:
    h = Header(columns, "WooCommerce order export")
    oid = h.need(*ORDER_ID)
    oid_label = f'{h.label(*ORDER_ID)} (order_id)'
    user = h.col("Customer User ID", "Customer ID", "User ID", "customer_user", "customer_id")
    refund = h.col("Order Refund Amount", "Refund Amount", "Refunded Total", "refunded_total")
    email = ("Billing Email", "Email (Billing)", "Customer Email", "billing_email", "Email")
    phone = ("Billing Phone", "Phone (Billing)", "billing_phone", "Phone")
    exprs, labels = exprs_and_labels({
        "order_id": (blank(oid), oid_label),
        # WooCommerce writes user id 0 for guest checkouts: they are identified by e-mail.
        "customer_id": (f"CASE WHEN {blank(user)} <> '0' THEN {blank(user)} END" if user else None,
                        f'{h.label("Customer User ID", "Customer ID", "User ID")} (customer_id; 0 = guest)'),
        "email": (h.col(*email), h.label(*email)),
        "phone": (h.col(*phone), h.label(*phone)),
        "ordered_at": (h.need(*ORDER_DATE), h.label(*ORDER_DATE)),
        "status": (_status(h.need(*ORDER_STATUS), refund), f"{h.label(*ORDER_STATUS)} (status)"),
        "currency": (h.col("Order Currency", "Currency", "order_currency"), h.label("Order Currency", "Currency")),
        "subtotal": (h.col("Order Subtotal Amount", "Order Subtotal", "Subtotal"),
                     h.label("Order Subtotal Amount", "Order Subtotal", "Subtotal")),
        "discount": ((positive(d) if (d := h.col("Cart Discount Amount", "Discount Total", "discount_total")) else None),
                     h.label("Cart Discount Amount", "Discount Total")),
        "shipping": (h.col("Order Shipping Amount", "Shipping Total", "shipping_total"),
                     h.label("Order Shipping Amount", "Shipping Total")),
        "tax": (h.col("Order Total Tax Amount", "Tax Total", "tax_total"), h.label("Order Total Tax Amount", "Tax Total")),
        "total": (h.need("Order Total Amount", "Order Total", "order_total"), h.label("Order Total Amount", "Order Total")),
        "refunded": (positive(refund) if refund else None, h.label("Order Refund Amount", "Refund Amount", "Refunded Total")),
        "channel": ("'web'", "WooCommerce (always web)"),
        "discount_code": (h.col("Coupon Code", "Coupon Codes", "Coupons", "coupon_items"), h.label("Coupon Code", "Coupons")),
    })
    orders = Target("orders", exprs, labels, where=first_row_per(oid))

    item = h.need(*ITEM_NAME)
    sku = h.col("SKU", "Item SKU", "Product SKU")
    pid = h.col("Product Id", "Product ID", "product_id")
    product_parts = [blank(c) for c in (sku, pid) if c] + [name_id("n-", item)]
    lexprs, llabels = exprs_and_labels({
        "order_id": (blank(oid), oid_label),
        "line_number": (line_number(oid), "line number (position of the row in its order)"),
        "product_id": (f"coalesce({', '.join(product_parts)})",
                       'column "SKU" (else "Product Id", else a hash of the item name) (product_id)'),
        "sku": (sku, h.label("SKU")),
        "product_name": (item, h.label(*ITEM_NAME)),
        "category": (h.col("Category", "Product Categories", "Categories"), h.label("Category")),
        "quantity": (h.need("Quantity", "Qty", "Item Quantity"), h.label("Quantity", "Qty", "Item Quantity")),
        "unit_price": (h.need("Item Cost", "Item Price", "Unit Price", "Price"),
                       h.label("Item Cost", "Item Price", "Unit Price", "Price")),
    })
    lines = Target("order_lines", lexprs, llabels)
    return [orders, lines]


PRESET = register(
    HeaderPreset(
        name="woocommerce",
        title="WooCommerce",
        format="csv",
        signature=signature_of(ORDERS_LAYOUT),
        builders={"orders": _orders},
        layouts=(ORDERS_LAYOUT,),
    )
)
