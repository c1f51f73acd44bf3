"""The canonical event record that every send-log parser produces.

Parsers return polars frames with (a subset of) :data:`PARSED_COLUMNS`; :func:`conform`
adds the missing columns as nulls, casts, and derives ``recipient_domain``,
``sending_domain`` and a first bounce classification. ``key`` is the text that identifies
the record in its source (an event id, or the raw line): the store keeps ``md5(key)`` as
``source_key`` so that loading the same record twice is a no-op.
"""

from __future__ import annotations

import polars as pl

EVENT_TYPES = (
    "injected",
    "delivered",
    "deferred",
    "bounced",
    "dropped",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
)

BOUNCE_CLASSES = ("hard", "soft", "block", "admin", "undetermined")

PARSED_COLUMNS: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us"),
    "event_type": pl.Utf8(),
    "message_id": pl.Utf8(),
    "campaign_id": pl.Utf8(),
    "contact_id": pl.Utf8(),
    "recipient": pl.Utf8(),
    "recipient_domain": pl.Utf8(),
    "mailbox_provider": pl.Utf8(),
    "sender": pl.Utf8(),
    "sending_domain": pl.Utf8(),
    "sending_ip": pl.Utf8(),
    "ip_pool": pl.Utf8(),
    "remote_mta": pl.Utf8(),
    "bounce_class": pl.Utf8(),
    "bounce_reason": pl.Utf8(),
    "smtp_code": pl.Int16(),
    "enhanced_status": pl.Utf8(),
    "diagnostic": pl.Utf8(),
    "is_machine": pl.Boolean(),
    "url": pl.Utf8(),
    "user_agent": pl.Utf8(),
    "client_ip": pl.Utf8(),
    "mta_instance": pl.Utf8(),
    "key": pl.Utf8(),
}

_ENHANCED = r"\b([245]\.\d{1,3}\.\d{1,3})\b"


def domain_of(address: pl.Expr) -> pl.Expr:
    """The lower-cased domain of an e-mail address expression (after the last ``@``)."""
    return address.str.extract(r"@([^@>\s]+)>?\s*$").str.to_lowercase().str.strip_suffix(".")


def clean_address(address: pl.Expr) -> pl.Expr:
    """An address without angle brackets, display name or surrounding space, lower-cased."""
    inner = address.str.extract(r"<([^<>]*)>\s*$")
    return (
        pl.when(inner.is_not_null()).then(inner).otherwise(address).str.strip_chars().str.to_lowercase()
    ).replace("", None)


def enhanced_status_of(text: pl.Expr) -> pl.Expr:
    """The first enhanced status code (``5.1.1``) in a reply text."""
    return text.str.extract(_ENHANCED)


def smtp_code_of(text: pl.Expr) -> pl.Expr:
    """The three-digit SMTP reply code at the start of a reply (after an optional ``smtp;``)."""
    return text.str.extract(r"^(?:smtp;\s*)?([245]\d\d)[\s-]").cast(pl.Int16, strict=False)


def bounce_reason_expr() -> pl.Expr:
    """First-pass ``bounce_class`` and ``bounce_reason`` of bounced / deferred events.

    A coarse classification from the reply code, the enhanced status and common texts,
    kept where a source already gave one. ``hard``: the address is bad (5.1.x, 5.5.x user
    texts); ``block``: refused for policy, reputation, spam or authentication (5.7.x, x.7.x
    texts); ``soft``: temporary or mailbox-level (4.x.x, 5.2.x, quota). The DSN classifier
    of the bounces module refines these with its rule tables.
    """
    text = pl.col("diagnostic").fill_null("").str.to_lowercase()
    status = pl.col("enhanced_status").fill_null("")
    failed = pl.col("event_type").is_in(["bounced", "deferred", "dropped"])
    reason = (
        pl.when(~failed)
        .then(None)
        .when(status.str.starts_with("5.1.2") | text.str.contains("host not found|domain not found|no mx|nxdomain"))
        .then(pl.lit("hostunknown"))
        .when(
            status.str.contains(r"^5\.1\.[0136]")
            | text.str.contains(
                "user unknown|unknown user|does not exist|no such user|invalid recipient|"
                "recipient rejected|mailbox unavailable|address rejected|not found"
            )
        )
        .then(pl.lit("userunknown"))
        .when(status.str.contains(r"^[45]\.2\.2") | text.str.contains("quota|mailbox full|over quota|insufficient storage"))
        .then(pl.lit("mailboxfull"))
        .when(status.str.contains(r"^[45]\.7\.(26|27|32|515)") | text.str.contains("dmarc|spf|dkim|authenticat"))
        .then(pl.lit("authfailure"))
        .when(text.str.contains("spam|junk|content"))
        .then(pl.lit("spamdetected"))
        .when(text.str.contains("reputation|blacklist|blocklist|block list|rbl|spamhaus|listed"))
        .then(pl.lit("badreputation"))
        .when(text.str.contains("rate limit|too many|try again later|throttl|deferred due to|tss04"))
        .then(pl.lit("speeding"))
        .when(status.str.starts_with("5.7") | status.str.starts_with("4.7") | text.str.contains("blocked|denied|policy"))
        .then(pl.lit("blocked"))
        .when(text.str.contains("expired|too long|timed out|timeout"))
        .then(pl.lit("expired"))
        .otherwise(pl.lit("undefined"))
    )
    return reason


def bounce_class_expr(reason: pl.Expr) -> pl.Expr:
    """``bounce_class`` of a failure from its reason and permanence (see
    :func:`bounce_reason_expr`)."""
    status = pl.col("enhanced_status").fill_null("")
    code = pl.col("smtp_code")
    failed = pl.col("event_type").is_in(["bounced", "deferred", "dropped"])
    permanent = status.str.starts_with("5") | (code >= 500)
    klass = (
        pl.when(~failed)
        .then(None)
        .when(pl.col("event_type") == "dropped")
        .then(pl.lit("admin"))
        .when(reason.is_in(["blocked", "badreputation", "spamdetected", "authfailure", "speeding"]))
        .then(pl.lit("block"))
        .when(reason.is_in(["userunknown", "hostunknown"]) & permanent)
        .then(pl.lit("hard"))
        .when(~permanent | reason.is_in(["mailboxfull", "expired"]))
        .then(pl.lit("soft"))
        .when(permanent)
        .then(pl.lit("hard"))
        .otherwise(pl.lit("undetermined"))
    )
    return klass


def conform(frame: pl.DataFrame, *, clean: bool = False) -> pl.DataFrame:
    """Give a parser's frame every canonical column, in order, with its type.

    Derives ``recipient_domain`` and ``sending_domain`` from the addresses where missing,
    lower-cases addresses, and fills ``bounce_class`` / ``bounce_reason`` of failures that
    have none. ``clean=True`` promises that addresses are already bare and lower-case
    (canonical files), which skips their normalisation.
    """
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in PARSED_COLUMNS.items() if c not in frame.columns]
    frame = frame.with_columns(missing) if missing else frame
    frame = frame.select([pl.col(c).cast(t, strict=False) for c, t in PARSED_COLUMNS.items()])
    if not clean:
        frame = frame.with_columns(
            recipient=clean_address(pl.col("recipient")), sender=clean_address(pl.col("sender"))
        )

    def needs(target: str, source: str) -> bool:
        gap = (pl.col(target).is_null() & pl.col(source).is_not_null()).any()
        return bool(frame.select(gap).item())

    derived = []
    if needs("enhanced_status", "diagnostic"):
        derived.append(pl.coalesce(pl.col("enhanced_status"), enhanced_status_of(pl.col("diagnostic"))).alias("enhanced_status"))
    if needs("smtp_code", "diagnostic"):
        derived.append(pl.coalesce(pl.col("smtp_code"), smtp_code_of(pl.col("diagnostic"))).alias("smtp_code"))
    if needs("recipient_domain", "recipient"):
        derived.append(pl.coalesce(pl.col("recipient_domain"), domain_of(pl.col("recipient"))).alias("recipient_domain"))
    if needs("sending_domain", "sender"):
        derived.append(pl.coalesce(pl.col("sending_domain"), domain_of(pl.col("sender"))).alias("sending_domain"))
    if derived:
        frame = frame.with_columns(derived)
    failures = frame["event_type"].is_in(["bounced", "deferred", "dropped"])
    if failures.any() and (
        frame.filter(failures)["bounce_reason"].null_count() or frame.filter(failures)["bounce_class"].null_count()
    ):
        frame = frame.with_columns(bounce_reason=pl.coalesce(pl.col("bounce_reason"), bounce_reason_expr()))
        frame = frame.with_columns(
            bounce_class=pl.coalesce(pl.col("bounce_class"), bounce_class_expr(pl.col("bounce_reason")))
        )
    return frame


def empty_events() -> pl.DataFrame:
    """A frame with the canonical columns and no rows."""
    return pl.DataFrame(schema=PARSED_COLUMNS)
