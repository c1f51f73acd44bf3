"""Contacts: the attribute schema, parsing rows into it, and importing them (upsert by email).

**Schema.** Known attributes get typed columns (:data:`KNOWN`: ``age`` is an integer,
``signup_at`` a UTC timestamp, ``country`` an ISO code, ``lists`` the lists the contact is
subscribed to, ``newsletter;promotions``); every other column lands in the ``attributes``
JSON column as text. Column names are matched loosely (``E-mail``, ``email_address`` and
``mail`` are ``email``; see :data:`ALIASES`) or mapped explicitly.

**Rows.** Addresses are normalised and validated (:mod:`workbench.audience.emails`); a row
is rejected, with its line and the reason, for an invalid address, a typed value that is
not of its type (``age: 'abc' is not a whole number``), a duplicate address in the same
import (the first one is kept) or a ``contact_id`` that belongs to another address. Role
and disposable addresses are kept and flagged.

**Upsert.** A row updates the contact with its (normalised) address, else the one with its
``contact_id`` (an address change), else creates one (id: the file's, or ``c`` + 16 hex of
the address's md5). Empty cells leave stored values alone; changed values are written to
``contact_changes`` (old and new value, when, which import). An import speaks for the
time of its file (its modification time) and never overwrites a contact with an older
state. When the file has a ``lists`` column, it states the contact's full set of lists:
lists missing from it become ``unsubscribed`` (also recorded as changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import polars as pl

from workbench.audience.emails import check_series
from workbench.errors import ParseError
from workbench.sources.reader import Reject

__all__ = ["ALIASES", "KNOWN", "STAGING_SCHEMA", "Stager", "canonical_name", "parse_frame", "sniff_header"]

#: typed attributes: name -> kind (text, email, age, date, timestamp, country, language, lists)
KNOWN: dict[str, str] = {
    "contact_id": "text", "email": "email", "first_name": "text", "last_name": "text", "age": "age",
    "birth_date": "date", "gender": "text", "country": "country", "region": "text", "city": "text",
    "postal_code": "text", "language": "language", "phone": "text", "signup_at": "timestamp",
    "signup_source": "text", "consent_at": "timestamp", "lists": "lists",
}
ALIASES: dict[str, str] = {
    "e_mail": "email", "email_address": "email", "mail": "email", "emailaddress": "email", "id": "contact_id",
    "contactid": "contact_id", "customer_id": "contact_id", "firstname": "first_name", "given_name": "first_name",
    "lastname": "last_name", "surname": "last_name", "family_name": "last_name", "zip": "postal_code",
    "zip_code": "postal_code", "postcode": "postal_code", "lang": "language", "state": "region",
    "province": "region", "birthday": "birth_date", "dob": "birth_date", "date_of_birth": "birth_date",
    "subscriptions": "lists", "list": "lists", "subscribed_at": "signup_at", "signup_date": "signup_at",
    "opt_in_at": "consent_at", "optin_at": "consent_at", "source": "signup_source",
}
STAGING_SCHEMA: dict[str, Any] = {
    "line_no": pl.Int64, "contact_id": pl.Utf8, "email": pl.Utf8, "email_ascii": pl.Utf8, "email_domain": pl.Utf8,
    "is_role": pl.Boolean, "is_disposable": pl.Boolean, "first_name": pl.Utf8, "last_name": pl.Utf8, "age": pl.Int16,
    "birth_date": pl.Date, "gender": pl.Utf8, "country": pl.Utf8, "region": pl.Utf8, "city": pl.Utf8,
    "postal_code": pl.Utf8, "language": pl.Utf8, "phone": pl.Utf8, "signup_at": pl.Datetime("us"),
    "signup_source": pl.Utf8, "consent_at": pl.Datetime("us"), "attributes": pl.Utf8, "lists": pl.List(pl.Utf8),
    "as_of": pl.Datetime("us"), "source": pl.Utf8,
}
_AWARE = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z")
_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def canonical_name(column: str) -> str:
    """A column's attribute name: lower-case, ``_`` for spaces and dashes, aliases resolved."""
    name = "_".join(column.strip().lower().replace("-", " ").split())
    return ALIASES.get(name, name)


#: columns that make a table events, not contacts
EVENT_COLUMNS = frozenset({"ts", "event_type", "event", "timestamp", "message_id", "smtp_code", "bounce_class"})
#: other columns that say a table is about people (extra attributes, kept in the JSON)
PERSON_COLUMNS = frozenset({"name", "full_name", "display_name", "title", "company", "opt_in", "consent", "subscribed"})


def sniff_header(names: Iterable[str]) -> bool:
    """True for a contacts table: an email column, no event columns, and either another
    known attribute (name, age, country, lists, …) or nothing but the address (and an id).

    A log mapped by hand (``When,Status,Email,Campaign``) has an email column too: without
    an attribute of a person it is not taken for contacts.
    """
    canon = {canonical_name(n) for n in names}
    if "email" not in canon or canon & EVENT_COLUMNS:
        return False
    return bool(canon & ((set(KNOWN) | PERSON_COLUMNS) - {"email", "contact_id"})) or canon <= {"email", "contact_id"}


def _timestamp(col: pl.Expr) -> pl.Expr:
    text = col.str.strip_chars().str.replace(r"Z$", "+00:00")
    parts = [text.str.to_datetime(f, strict=False, time_zone="UTC", time_unit="us").dt.replace_time_zone(None) for f in _AWARE]
    parts += [text.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE]
    parts.append(text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")))
    return pl.coalesce(*parts)


def _typed(name: str, kind: str) -> tuple[pl.Expr, pl.Expr | None]:
    """The typed value of a column and, when values can be wrong, the reason per row."""
    col = pl.col(name).str.strip_chars()
    col = pl.when(col.str.len_chars() > 0).then(col)
    given = col.is_not_null()
    if kind == "age":
        number = col.cast(pl.Float64, strict=False)
        ok = number.is_not_null() & (number == number.round(0)) & number.is_between(0, 130)
        return pl.when(ok).then(number.cast(pl.Int16)), pl.when(given & ~ok).then(
            pl.format("age: {} is not a whole number of years between 0 and 130", col))
    if kind == "date":
        value = col.str.to_date("%Y-%m-%d", strict=False)
        return value, pl.when(given & value.is_null()).then(pl.format(f"{name}: {{}} is not a date (YYYY-MM-DD)", col))
    if kind == "timestamp":
        value = _timestamp(col)
        return value, pl.when(given & value.is_null()).then(
            pl.format(f"{name}: {{}} is not a date or an ISO 8601 time", col))
    if kind == "country":
        return pl.when(col.str.len_chars() == 2).then(col.str.to_uppercase()).otherwise(col), None
    if kind == "language":
        return col.str.to_lowercase().str.replace("_", "-"), None
    if kind == "lists":
        items = col.str.to_lowercase().str.replace_all(r"[,|]", ";").str.split(";")
        cleaned = items.list.eval(pl.element().str.strip_chars().filter(pl.element().str.len_chars() > 0)).list.unique().list.sort()
        # an empty cell of a lists column means: on no list
        return pl.when(given).then(cleaned).otherwise(pl.lit([], dtype=pl.List(pl.Utf8))), None
    return col, None


def _attributes_json(columns: list[str]) -> pl.Expr:
    """The extra columns as one JSON object of text values, null ones left out."""
    if not columns:
        return pl.lit(None, dtype=pl.Utf8)
    pieces = []
    for name in columns:
        value = pl.col(name).str.strip_chars()
        encoded = pl.struct(value.alias(name)).struct.json_encode()
        pieces.append(pl.when(value.str.len_chars() > 0).then(encoded.str.slice(1, encoded.str.len_chars() - 2)))
    body = pl.concat_str(pieces, separator=",", ignore_nulls=True)
    return pl.when(body.str.len_chars() > 0).then(pl.concat_str([pl.lit("{"), body, pl.lit("}")]))


def parse_frame(
    frame: pl.DataFrame, *, source: str, as_of: datetime, mapping: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """Rows of a contacts table (text columns, optional ``_line_no`` / ``_line``) as staging
    rows in the attribute schema, and the rejected rows with their reasons. Pure.

    Parameters
    ----------
    frame:
        The rows; non-text columns are cast to text first.
    source:
        The file or frame name recorded with each change.
    as_of:
        The time the rows speak for (UTC, naive).
    mapping:
        Attribute name -> the frame's column, for columns not named after an attribute.

    Raises
    ------
    ParseError
        No column holds the email address.
    """
    renames: dict[str, str] = {}
    taken = set()
    wanted = {v: k for k, v in (mapping or {}).items()}
    for column in frame.columns:
        if column.startswith("_"):
            continue
        name = wanted.get(column) or canonical_name(column)
        if name in taken:
            raise ParseError(source, "header", f"two columns mean {name!r} (one is {column!r}); map one of them")
        taken.add(name)
        renames[column] = name
    if "email" not in taken:
        raise ParseError(source, "header", f"no email column among {', '.join(frame.columns) or 'none'}; "
                         "name it email or map one (--map email=COLUMN)")
    label = "line" if "_line_no" in frame.columns else "row"
    if "_line_no" not in frame.columns:
        frame = frame.with_row_index("_line_no", offset=1).with_columns(pl.col("_line_no").cast(pl.Int64))
    if "_line" not in frame.columns:
        frame = frame.with_columns(_line=pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("") for c in renames], separator=","))
    text = frame.rename(renames).with_columns(pl.col(n).cast(pl.Utf8) for n in renames.values())
    extra = [n for n in renames.values() if n not in KNOWN]
    typed, reasons = [], []
    for name, kind in KNOWN.items():
        if name == "email" or name not in text.columns:
            continue
        value, reason = _typed(name, kind)
        typed.append(value.alias(name))
        if reason is not None:
            reasons.append(reason)
    addresses = check_series(text["email"])
    out = pl.concat([text, addresses.rename({"email": "_email"})], how="horizontal").with_columns(
        *typed,
        attributes=_attributes_json(extra),
        _reason=pl.concat_str([pl.format("email: {}", pl.col("email_error")), *reasons],
                              separator="; ", ignore_nulls=True),
    )
    out = out.with_columns(email=pl.col("_email"))
    bad = out.filter(pl.col("_reason").str.len_chars() > 0)
    rejects = [
        Reject(f"{label} {row['_line_no']}", row["_reason"], (row["_line"] or "")[:200])
        for row in bad.iter_rows(named=True)
    ]
    good = out.filter(pl.col("_reason").str.len_chars() == 0).with_columns(
        line_no=pl.col("_line_no").cast(pl.Int64), as_of=pl.lit(as_of, dtype=pl.Datetime("us")), source=pl.lit(source),
        lists=pl.col("lists") if "lists" in text.columns else pl.lit(None, dtype=pl.List(pl.Utf8)),
    )
    return good.select(pl.col(c).cast(t) if c in good.columns else pl.lit(None, dtype=t).alias(c)
                       for c, t in STAGING_SCHEMA.items()), rejects


class Stager:
    """Checks parsed rows against each other and the store, then stages the good ones.

    Across the whole import, the first row of an address wins (later ones are rejected as
    duplicates), and a ``contact_id`` given to two addresses, or already another stored
    address's while this row's address is stored too, is rejected.
    """

    def __init__(self, label: str = "line") -> None:
        self.label = label
        self.seen: dict[str, int] = {}
        self.ids: dict[str, int] = {}
        self.staged = 0

    def feed(self, rows: pl.DataFrame, sink: Any) -> list[Reject]:
        """Stage ``rows`` (from :func:`parse_frame`) through ``sink``; the rows rejected."""
        rejects: list[Reject] = []
        keep = []
        for line, email, cid in rows.select("line_no", "email", "contact_id").iter_rows():
            first = self.seen.get(email)
            if first is not None:
                rejects.append(Reject(f"{self.label} {line}", f"duplicate: the same address as {self.label} {first} ({email})", email))
                keep.append(False)
                continue
            if cid is not None and cid in self.ids:
                rejects.append(Reject(f"{self.label} {line}", f"contact_id {cid} is also given to {self.label} {self.ids[cid]}", email))
                keep.append(False)
                continue
            self.seen[email] = line
            if cid is not None:
                self.ids[cid] = line
            keep.append(True)
        rows = rows.filter(pl.Series(keep, dtype=pl.Boolean)) if keep else rows
        given = rows.filter(pl.col("contact_id").is_not_null())
        if len(given):
            owner = dict(sink.query("SELECT contact_id, email FROM contacts WHERE contact_id IN (SELECT unnest($ids::VARCHAR[]))",
                                    {"ids": given["contact_id"].to_list()}).iter_rows())
            moved = given.filter(pl.col("contact_id").replace_strict(owner, default=None) != pl.col("email")) if owner else given.clear()
            if len(moved):
                stored = sink.query("SELECT email FROM contacts WHERE email IN (SELECT unnest($e::VARCHAR[]))",
                                    {"e": moved["email"].to_list()})["email"].to_list()
                clash = moved.filter(pl.col("email").is_in(stored))
                for line, email, cid in clash.select("line_no", "email", "contact_id").iter_rows():
                    rejects.append(Reject(f"{self.label} {line}", f"contact_id {cid} belongs to {owner[cid]}, and {email} "
                                          "is another stored contact", email))
                rows = rows.filter(~pl.col("line_no").is_in(clash["line_no"].to_list()))
        if len(rows):
            sink.add_rows("contact_import_staging", rows)
            self.staged += len(rows)
        return rejects
