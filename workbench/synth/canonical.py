"""The synthetic events as rows of the canonical ``events`` table, without going through files.

The demo and the tests load the world from the files :mod:`workbench.synth.writers` renders
(that exercises every parser). Benchmarks need tens of millions of events quickly: they take
:func:`workbench.synth.simulate`'s frames, turn them into canonical rows here and insert them
through :meth:`workbench.store.Store.writer` (one ``INSERT … SELECT`` from Arrow), at several
million rows a second instead of the parsers' hundreds of thousands.
"""

from __future__ import annotations

import polars as pl

from workbench.synth.sends import UA_MPP, UA_SCANNER

__all__ = ["CANONICAL_COLUMNS", "canonical_events"]

#: the columns of ``events`` in table order (but ``load_id``, which only loads set: insert BY NAME)
CANONICAL_COLUMNS = (
    "ts", "event_type", "message_id", "campaign_id", "contact_id", "recipient", "recipient_domain",
    "mailbox_provider", "sender", "sending_domain", "sending_ip", "ip_pool", "remote_mta", "bounce_class",
    "bounce_reason", "smtp_code", "enhanced_status", "diagnostic", "is_machine", "url", "user_agent",
    "client_ip", "mta_instance", "source", "source_file", "source_key",
)


def canonical_events(events: pl.DataFrame, messages: pl.DataFrame, *, prefix: str = "") -> pl.DataFrame:
    """Canonical ``events`` rows from :func:`workbench.synth.simulate`'s events and messages.

    Parameters
    ----------
    events, messages:
        The fourth and third frames :func:`~workbench.synth.simulate` returns.
    prefix:
        Prepended to message and contact ids, so that several simulated worlds can share one
        store without their messages merging (benchmarks stack seeds this way).

    Returns
    -------
    polars.DataFrame
        One row per event with every column of ``events``, ``source = 'synth'`` and a
        ``source_key`` (UInt64 row hash) unique within the frame.

    Raises
    ------
    polars.exceptions.ColumnNotFoundError
        ``events`` or ``messages`` are not frames from :func:`~workbench.synth.simulate`.
    """
    provider = messages.select("msgno", pl.col("provider").alias("mailbox_provider"), pl.col("domain").alias("recipient_domain"))
    ev = events.join(provider, on="msgno", how="left")
    machine = (
        pl.when(pl.col("event_type") == "opened").then(pl.col("user_agent") == UA_MPP)
        .when(pl.col("event_type") == "clicked").then(pl.col("user_agent") == UA_SCANNER)
    )
    ids = ("message_id", "contact_id")
    frame = ev.with_row_index("_n").select(
        "ts", "event_type",
        *[(pl.lit(prefix) + pl.col(c)).alias(c) if prefix else pl.col(c) for c in ids[:1]],
        "campaign_id",
        (pl.lit(prefix) + pl.col("contact_id")).alias("contact_id") if prefix else pl.col("contact_id"),
        "recipient", "recipient_domain", "mailbox_provider",
        pl.concat_str([pl.lit("bounces@"), pl.col("sending_domain")]).alias("sender"),
        "sending_domain", "sending_ip", "ip_pool", "remote_mta", "bounce_class", "bounce_reason",
        "smtp_code", "enhanced_status", "diagnostic", machine.alias("is_machine"), "url", "user_agent",
        "client_ip", pl.lit(None, pl.Utf8).alias("mta_instance"), pl.lit("synth").alias("source"),
        pl.lit(f"synth:{prefix or 'world'}").alias("source_file"),
        pl.concat_str([pl.lit(prefix), pl.col("_n").cast(pl.Utf8)]).hash(7).alias("source_key"),
    )
    return frame.select(CANONICAL_COLUMNS)
