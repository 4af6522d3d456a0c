r"""Finding everything that carries a person's identifiers, however it was written.

:func:`gather` collects a customer's identifiers — stored e-mails and phones, the keyed
hashes of every linked e-mail and phone, shop ids, anonymous web ids — and the
*provisional* customers (``e-``/``p-``) whose stored e-mail or phone is one of them (made
by an event or an older version before the identifiers were linked). Then:

- :func:`raw_matches_sql` finds raw text that did not load (quarantined rows, whatever
  their shape: a ragged CSV line, a bad JSON line, columns) holding any identifier: every
  e-mail-like token and every phone-like run of the text is normalised
  (:mod:`regulars.data.normalize`) and compared by keyed hash, so ``" Ann@Example.COM "``
  and ``+1 (201) 555-0916`` are found; ids are compared as whole tokens;
- :func:`redact_mentions` replaces mentions of the person's e-mails and phones in the free
  text of every other row (someone's search query, a page URL, another customer's ticket)
  by ``[erased]``.

>>> import re
>>> bool(re.search(phone_pattern("12015550916"), "call +1 (201) 555-0916 now"))
True
>>> bool(re.search(phone_pattern("12015550916"), "order 9120155509160"))
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from regulars.data import keyed
from regulars.data.identity import PROVISIONAL, fingerprint, normalize_email, normalize_phone, phone_key
from regulars.data.normalize import email_sql, phone_key_sql, phone_sql

#: Tables that are never scanned for mentions (bookkeeping, or handled on their own).
NOT_SCANNED = {"quarantine", "events_deferred", "erasures", "erasure_suppressions", "workspace_secret",
               "schema_version", "api_keys", "sessions"}
_SEP = r"[\s,;|]+"
EMAIL_TOKEN = r"""[^\s@,;:"'<>()\[\]{}|]+@[^\s@,;:"'<>()\[\]{}|]+\.[^\s@,;:"'<>()\[\]{}|]+"""
PHONE_RUN = r"\+?[0-9][0-9 ().\-]*[0-9]"
#: Digit keys at least this long are also found inside longer digit runs (fields joined by spaces).
SUBSTRING_DIGITS = 8


@dataclass
class Person:
    """One customer's identifiers, and the customers to erase with them."""

    customer_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    email_hashes: set[str] = field(default_factory=set)
    phone_hashes: set[str] = field(default_factory=set)
    shop_ids: set[str] = field(default_factory=set)
    anonymous_ids: set[str] = field(default_factory=set)
    sharing: list[str] = field(default_factory=list)  # other shop customers with one of these e-mails/phones

    @property
    def ids(self) -> set[str]:
        return self.customer_ids | self.shop_ids | self.anonymous_ids


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + "]::VARCHAR[]"


def gather(con, hasher: keyed.Keyed, cid: str, ref: str | None = None) -> Person:
    """The identifiers of customer *cid* (and of *ref*, the e-mail or phone the request named)."""
    p = Person(customer_ids={cid})
    if ref:
        if (e := normalize_email(ref)) is not None:
            p.emails.add(e)
        elif "@" not in ref and (ph := normalize_phone(ref)) is not None and sum(c.isdigit() for c in ref) >= 6:
            p.phones.add(ph)
    seen: set[str] = set()
    while p.customer_ids - seen:
        todo = sorted(p.customer_ids - seen)
        seen |= set(todo)
        for email, phone in con.execute(
                "SELECT email, phone FROM customers WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [todo]
        ).fetchall():
            if email:
                p.emails.add(email)
            if phone:
                p.phones.add(phone)
        for kind, value in con.execute(
                "SELECT kind, value FROM identities WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))", [todo]
        ).fetchall():
            {"email": p.email_hashes, "phone": p.phone_hashes, "shop_id": p.shop_ids,
             "anonymous_id": p.anonymous_ids}.get(kind, set()).add(value)
        p.email_hashes |= {fingerprint(hasher, "email", e) for e in p.emails} - {None}
        p.phone_hashes |= {fingerprint(hasher, "phone", ph) for ph in p.phones} - {None}
        related = con.execute(
            f"""SELECT customer_id FROM customers
                WHERE ({hasher.sql('email')} IN (SELECT unnest({_sql_list(p.email_hashes)}))
                    OR {hasher.sql(phone_key_sql('phone'))} IN (SELECT unnest({_sql_list(p.phone_hashes)})))
                  AND customer_id NOT IN (SELECT unnest(?::VARCHAR[]))""", [sorted(p.customer_ids)]).fetchall()
        for (other,) in related:
            if other[:2] in PROVISIONAL:
                p.customer_ids.add(other)
            elif other not in p.sharing:
                p.sharing.append(other)
    p.shop_ids |= {c for c in p.customer_ids if c[:2] not in PROVISIONAL}
    p.sharing.sort()
    return p


def token_matches_sql(values: str, hasher: keyed.Keyed, emails: str, phones: str, ids: str,
                      phone_keys: list[str] | None = None) -> str:
    """SQL selecting ``rid`` of the rows whose raw text holds an identifier.

    *values* is SQL yielding ``(rid, v)``: each raw text value of each row. *emails* and *phones* are
    SQL sets (``SELECT ...``) of keyed hashes that e-mail-like tokens and phone-like runs are compared
    to after normalisation; *ids* is SQL true for a whole token ``t`` that is an identifier. Digit keys
    in *phone_keys* (at least :data:`SUBSTRING_DIGITS` long) are also found inside longer digit runs.
    """
    keys = sorted(k for k in (phone_keys or []) if len(k) >= SUBSTRING_DIGITS)
    digits = "regexp_replace(t, '[^0-9]', '', 'g')"
    by_digits = f" OR len(list_filter({_sql_list(keys)}, lambda k: contains({digits}, k))) > 0" if keys else ""
    email_token = EMAIL_TOKEN.replace("'", "''")
    quotes = "'\"'''"  # SQL literal of the characters " and '
    return f"""
        WITH vals AS ({values}),
        emails AS (SELECT rid, unnest(regexp_extract_all(v, '{email_token}')) AS t FROM vals),
        phones AS (SELECT rid, unnest(regexp_extract_all(v, '{PHONE_RUN}')) AS t FROM vals),
        tokens AS (SELECT rid, trim(unnest(string_split_regex(trim(v), '{_SEP}')), {quotes}) AS t FROM vals)
        SELECT rid FROM emails WHERE {hasher.sql(email_sql('t'))} IN ({emails})
        UNION SELECT rid FROM phones WHERE {hasher.sql(phone_key_sql(phone_sql('t')))} IN ({phones}){by_digits}
        UNION SELECT rid FROM tokens WHERE t <> '' AND ({ids})
    """


def json_values_sql(table: str, json_column: str, rid: str = "rowid", where: str = "") -> str:
    """``(rid, v)`` for every top-level value of a JSON column (raw rows are flat objects)."""
    return (f"SELECT s.{rid} AS rid, v.x AS v FROM {table} s, unnest(json_extract_string(s.{json_column}, '$.*')) "
            f"AS v(x) WHERE v.x IS NOT NULL{' AND ' + where if where else ''}")


def raw_matches_sql(person: Person, hasher: keyed.Keyed, table: str, json_column: str) -> str:
    """SQL selecting the ``rowid`` of rows of *table* whose JSON column holds one of the person's identifiers."""
    return token_matches_sql(
        json_values_sql(table, json_column), hasher,
        f"SELECT unnest({_sql_list(person.email_hashes)})", f"SELECT unnest({_sql_list(person.phone_hashes)})",
        f"t IN (SELECT unnest({_sql_list(person.ids)}))",
        phone_keys=[k for k in (phone_key(ph) for ph in person.phones) if k])


def phone_pattern(key: str) -> str:
    """A regular expression (RE2 and Python) for a phone with digits *key* written with any separators."""
    body = r"[\s().\-]*".join(key)
    return r"(^|[^0-9])((\+|00)[\s().\-]*)?" + body + r"($|[^0-9])"


#: Another customer's own e-mail and phone are theirs even when the erased person shares them (a family
#: address): those customers are reported as ``sharing_customers``, not rewritten.
OWN_IDENTIFIERS = {("customers", "email"), ("customers", "phone"), ("identities", "value")}
#: Columns that hold codes, not text anyone types (ids are erased with their rows, by id).
CODE_COLUMNS = {"channel", "status", "currency", "kind", "purpose", "survey", "format", "role", "action", "engine",
                "change", "latent_type", "churn_band", "data_mode"}


def text_columns(con) -> list[tuple[str, str, str]]:
    """(table, column, type) of the VARCHAR and JSON columns that may hold typed text (not ids or codes)."""
    return [tuple(r) for r in con.execute(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE t.table_type = 'BASE TABLE' AND t.table_schema = 'main' AND c.data_type IN ('VARCHAR', 'JSON') "
        "AND t.table_catalog = current_database() ORDER BY 1, 2").fetchall()
        if r[0] not in NOT_SCANNED and not r[1].endswith(("_id", "_type", "_hash")) and r[1] not in CODE_COLUMNS
        and (r[0], r[1]) not in OWN_IDENTIFIERS]


def redact_mentions(con, person: Person) -> dict[str, int]:
    """Replace the person's e-mails and phones inside any remaining text by ``[erased]``; rows per table.

    One scan per table finds which columns mention them (an e-mail by a case-insensitive substring test,
    a phone by its last four digits and then its pattern); only rows that do are rewritten.
    """
    tests = []  # (pattern, replacement, cheap test on lower(text))
    for e in sorted(person.emails):
        tests.append(("(?i)" + re.escape(e), "[erased]", f"contains(lower(x), {_lit(e)})"))
    for k in sorted({phone_key(ph) for ph in person.phones} - {None}):
        pattern = phone_pattern(k)
        tests.append((pattern, r"\1[erased]\4", f"contains(x, {_lit(k[-4:])}) AND regexp_matches(x, {_lit(pattern)})"))
    if not tests:
        return {}
    by_table: dict[str, list[tuple[str, str]]] = {}
    for table, column, type_ in text_columns(con):
        by_table.setdefault(table, []).append((column, type_))
    changed: dict[str, int] = {}
    for table, columns in by_table.items():
        conds = {}
        for column, type_ in columns:
            text = f'"{column}"' + ("::VARCHAR" if type_ == "JSON" else "")
            conds[column] = " OR ".join(f"({_on(cheap, text)})" for _p, _r, cheap in tests)
        counts = con.execute(f'SELECT {", ".join(f"count(*) FILTER (WHERE {c})" for c in conds.values())} '
                             f'FROM "{table}"').fetchall()[0]
        for (column, type_), n in zip(columns, counts):
            if not n:
                continue
            text = f'"{column}"' + ("::VARCHAR" if type_ == "JSON" else "")
            new = text
            for pattern, repl, _cheap in tests:
                new = f"regexp_replace({new}, {_lit(pattern)}, {_lit(repl)}, 'g')"
            if type_ == "JSON":
                new += "::JSON"
            con.execute(f'UPDATE "{table}" SET "{column}" = {new} WHERE {conds[column]}')
            changed[table] = changed.get(table, 0) + n
    return changed


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _on(test: str, text: str) -> str:
    """*test*, written over ``x``, applied to the SQL expression *text*."""
    return test.replace("lower(x)", f"lower({text})").replace("contains(x,", f"contains({text},") \
        .replace("regexp_matches(x,", f"regexp_matches({text},")
