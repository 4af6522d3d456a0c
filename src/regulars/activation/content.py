"""Message text from a step's template: ``${first_name}``, ``${shop_name}``, ``${cart_products}``,
``${social_proof}``, ``${recommendations}``, ``${due_products}``, ``${order_products}``.

A placeholder with nothing to say becomes empty (a line left holding nothing is dropped), so a
template never shows ``${...}`` to a customer. ``${recommendations}`` holds the names of the
customer's stored recommendations (see :func:`regulars.reports.recommend.message_recommendations`).

>>> msg = render_email("Hi ${first_name}", "Hello ${first_name},\\n${recommendations}\\nBye", {"first_name": "Ann"})
>>> msg.subject, msg.text
('Hi Ann', 'Hello Ann,\\nBye')
>>> "<p>Hello Ann,<br>Bye</p>" in msg.html
True
>>> render_text("${shop_name}: hi ${first_name}", {"shop_name": "Rosie's", "first_name": None})
"Rosie's: hi there"
"""

from __future__ import annotations

import html
import string
from dataclasses import dataclass

FIELDS = ("first_name", "shop_name", "cart_products", "social_proof", "recommendations", "due_products",
          "order_products")


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def _values(values: dict) -> dict[str, str]:
    out = {k: "" for k in FIELDS}
    for k, v in values.items():
        if isinstance(v, (list, tuple)):
            v = ", ".join(str(x) for x in v if x)
        out[k] = "" if v is None else str(v)
    if not out["first_name"]:
        out["first_name"] = "there"
    if out["recommendations"] and not out["recommendations"].lower().startswith("you might"):
        out["recommendations"] = f"You might also like: {out['recommendations']}."
    return out


def _fill(template: str, values: dict[str, str]) -> str:
    filled = string.Template(template).safe_substitute(values)
    lines = []
    for raw, line in zip(template.splitlines(), filled.splitlines()):
        if line.strip() or not raw.strip():
            lines.append(line.rstrip())
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def render_text(template: str, values: dict) -> str:
    """An SMS or a subject line: one line, placeholders filled."""
    return " ".join(_fill(template, _values(values)).split())


def render_email(subject: str, body: str, values: dict) -> Email:
    """Subject, plain text and a minimal HTML version (every value escaped)."""
    v = _values(values)
    text = _fill(body, v)
    escaped = {k: html.escape(x) for k, x in v.items()}
    body_html = _fill(html.escape(body), escaped)
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in body_html.split("\n\n") if p.strip())
    page = ("<!doctype html><html><body style=\"font-family:system-ui,sans-serif;line-height:1.5;color:#1d2430\">"
            f"{paragraphs}</body></html>")
    return Email(render_text(subject, values), text, page)
