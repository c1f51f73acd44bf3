"""Email addresses: normalisation and validation (syntax, IDN), role and disposable flags.

Syntax and internationalised domains are checked by ``email-validator`` (RFC 5321/5322
syntax, IDNA 2008 via ``idna``, special-use domains refused, no DNS lookup); throw-away
providers come from the maintained ``disposable-email-domains`` list (a domain or any of
its parents); role accounts (``info@``, ``postmaster@``, …) from
``workbench/data/role_accounts.txt``. Pure: no file, network or clock beyond the shipped
lists.

The normalised form, used as the contact's key, is the validator's normalised address
lower-cased (providers treat local parts case-insensitively in practice; two rows that
differ only in case are one person). ``email_ascii`` is the same address with its domain in
IDNA (``xn--``) form, as MTAs log it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import polars as pl
from email_validator import EmailNotValidError, validate_email

__all__ = ["Address", "check", "check_series", "is_disposable_domain", "is_role_local"]

#: longest input considered (RFC 5321 caps a path at 256 octets)
MAX_LENGTH = 320


@dataclass(frozen=True)
class Address:
    """The verdict on one address: its normal forms and flags, or why it is invalid."""

    email: str | None
    email_ascii: str | None
    domain: str | None
    is_role: bool = False
    is_disposable: bool = False
    error: str | None = None


@lru_cache(maxsize=1)
def _roles() -> frozenset[str]:
    text = resources.files("workbench").joinpath("data", "role_accounts.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def _disposable() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(d.lower() for d in blocklist)


def is_role_local(local: str) -> bool:
    """True for a role account's local part (``info``, ``postmaster``; ``sales+eu`` too)."""
    return local.lower().split("+", 1)[0] in _roles()


def is_disposable_domain(domain: str) -> bool:
    """True when ``domain`` (IDNA form) or one of its parent domains is a disposable provider."""
    labels = domain.lower().rstrip(".").split(".")
    listed = _disposable()
    return any(".".join(labels[i:]) in listed for i in range(len(labels) - 1))


def check(raw: str | None) -> Address:
    """Normalise and validate one address.

    Surrounding spaces, angle brackets and a ``mailto:`` prefix are removed first. The
    result carries ``error`` (a sentence from the validator) instead of raising.
    """
    if raw is None or not raw.strip():
        return Address(None, None, None, error="no address")
    text = raw.strip().strip("<>").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if len(text) > MAX_LENGTH:
        return Address(None, None, None, error=f"address longer than {MAX_LENGTH} characters")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return Address(None, None, None, error=str(exc))
    local = valid.local_part.lower()
    domain = valid.domain.lower()
    ascii_domain = (valid.ascii_domain or domain).lower()
    email = f"{local}@{domain}"
    return Address(
        email=email,
        email_ascii=f"{local}@{ascii_domain}",
        domain=domain,
        is_role=is_role_local(local),
        is_disposable=is_disposable_domain(ascii_domain),
    )


def check_series(values: pl.Series) -> pl.DataFrame:
    """:func:`check` for a column of addresses (each distinct value checked once).

    Returns
    -------
    polars.DataFrame
        One row per input, in order: ``email``, ``email_ascii``, ``email_domain``,
        ``is_role``, ``is_disposable``, ``email_error``.
    """
    schema = {"raw": pl.Utf8, "email": pl.Utf8, "email_ascii": pl.Utf8, "email_domain": pl.Utf8,
              "is_role": pl.Boolean, "is_disposable": pl.Boolean, "email_error": pl.Utf8}
    distinct = values.cast(pl.Utf8).unique().to_list()
    rows = []
    for raw in distinct:
        a = check(raw)
        rows.append((raw, a.email, a.email_ascii, a.domain, a.is_role, a.is_disposable, a.error))
    verdicts = pl.DataFrame(rows, schema=schema, orient="row")
    frame = pl.DataFrame({"raw": values.cast(pl.Utf8)})
    return frame.join(verdicts, on="raw", how="left", nulls_equal=True, maintain_order="left").drop("raw")
