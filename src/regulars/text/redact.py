"""Personal data masked out of a quote, for people who may read what customers wrote but not who they are.

What is masked: the writer's own name, e-mail, phone and postal code when known (whole words,
any case), and anything shaped like an e-mail address, a phone number or a long number (postal
codes, card or account numbers). Other people's names a customer happens to mention cannot be
found reliably by a pattern; quotes are shown to viewers only in this masked form.

Examples
--------
>>> redact("Hello, this is Ann Martin, call me on +33 6 12 34 56 78 or ann@example.com. Zip 69001.",
...        names=["Ann", "Martin"])
'Hello, this is [name] [name], call me on [phone] or [e-mail]. Zip [number].'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]{6,}\d(?![\w])")
LONG_NUMBER = re.compile(r"(?<![\w])\d{4,}(?![\w])")


def redact(text: str | None, names: Iterable[str | None] = (), values: Iterable[str | None] = ()) -> str | None:
    """*text* with e-mails, phone numbers, long numbers, the given *names* and literal *values* masked."""
    if text is None:
        return None
    out = EMAIL.sub("[e-mail]", str(text))
    for value in values:
        if value and len(str(value)) >= 3:
            out = re.sub(re.escape(str(value)), "[personal]", out, flags=re.IGNORECASE)
    out = PHONE.sub("[phone]", out)
    out = LONG_NUMBER.sub("[number]", out)
    for name in names:
        if name and len(str(name).strip()) >= 2:
            out = re.sub(rf"(?<!\w){re.escape(str(name).strip())}(?!\w)", "[name]", out, flags=re.IGNORECASE)
    return out
