"""Render the synthetic events in the formats real systems write.

``newsletter``: PowerMTA accounting CSV until the migration day, then KumoMTA JSON log
segments (zstd); ``transactional``: Postfix maillog (gzip); ``promotions``: SendGrid webhook
events (JSON lines, and the first days as webhook request bodies, JSON arrays);
``alerts``: Amazon SES events (Firehose JSON lines, gzip). Opens, clicks and unsubscribes
of our own MTAs' mail come from our tracking endpoint's spool (canonical CSV). One file per
source and day, built column-wise with polars (no loop over rows).
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import zstandard

from workbench.synth import jsonbuild as J
from workbench.synth.world import ROOT, World

MTA_EVENTS = ["injected", "deferred", "delivered", "bounced"]
TRACKING_EVENTS = ["opened", "clicked", "unsubscribed"]

_DSN_TEXT = {"2": "success", "4": "transient failure", "5": "permanent failure"}
_PMTA_CAT = {"userunknown": "bad-mailbox", "mailboxfull": "quota-issues", "blocked": "spam-related"}
_KUMO_CLASS = {"userunknown": "InvalidRecipient", "mailboxfull": "QuotaIssues", "blocked": "SpamBlock"}


def _write_lines(path: Path, lines: pl.Series, compression: str | None, mtime: datetime) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    pl.DataFrame({"l": lines.drop_nulls()}).write_csv(buffer, include_header=False, quote_style="never")
    data = buffer.getvalue()
    if compression == "gzip":
        data = gzip.compress(data, compresslevel=1, mtime=0)
    elif compression == "zstd":
        data = zstandard.ZstdCompressor(level=3).compress(data)
    path.write_bytes(data)
    stamp = mtime.timestamp()
    os.utime(path, (stamp, stamp))
    return len(lines)


def _ts_rfc3339(col: str = "ts") -> pl.Expr:
    return pl.col(col).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")


def _epoch(col: str = "ts") -> pl.Expr:
    return pl.col(col).dt.epoch("s")


def _content(diag: pl.Expr) -> pl.Expr:
    """The reply text after its code and enhanced status."""
    return diag.str.replace(r"^\d{3}[ -](?:\d\.\d{1,3}\.\d{1,3} )?", "")


def _days(frame: pl.DataFrame) -> list[tuple[date, pl.DataFrame]]:
    parts = frame.with_columns(_day=pl.col("ts").dt.date()).partition_by("_day", as_dict=True, maintain_order=True)
    return sorted(((k[0], v.sort("ts").drop("_day")) for k, v in parts.items()), key=lambda kv: kv[0])  # type: ignore[index]


def _end_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=23, minutes=59)


# -- PowerMTA --------------------------------------------------------------------------

PMTA_FIELDS = [
    "type", "timeLogged", "timeQueued", "orig", "rcpt", "orcpt", "dsnAction", "dsnStatus", "dsnDiag", "dsnMta",
    "bounceCat", "srcType", "srcMta", "dlvType", "dlvSourceIp", "dlvDestinationIp", "dlvEsmtpAvailable", "dlvSize",
    "vmta", "jobId", "envId", "queue", "vmtaPool", "header_Message-Id", "feedbackType", "userAgent",
]


def pmta_frame(ev: pl.DataFrame, aliases: dict[str, str]) -> pl.DataFrame:
    kind = pl.col("event_type")
    t = pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S+0000")
    enh = pl.col("enhanced_status")
    mta_ev = kind.is_in(["delivered", "deferred", "bounced"])
    return ev.select(
        type=kind.replace_strict({"injected": "r", "delivered": "d", "deferred": "t", "bounced": "b", "complained": "f"}),
        timeLogged=t,
        timeQueued=t,
        orig=pl.concat_str([pl.lit("bounce@"), pl.col("sending_domain")]),
        rcpt=pl.col("recipient"),
        orcpt=pl.lit(None, pl.Utf8),
        dsnAction=kind.replace_strict({"delivered": "relayed", "deferred": "delayed", "bounced": "failed"}, default=None),
        dsnStatus=pl.when(enh.is_not_null()).then(pl.concat_str([enh, pl.lit(" ("), enh.str.slice(0, 1).replace_strict(_DSN_TEXT, default="other"), pl.lit(")")])),
        dsnDiag=pl.when(pl.col("diagnostic").is_not_null()).then(pl.concat_str([pl.lit("smtp;"), pl.col("diagnostic")])),
        dsnMta=pl.when(mta_ev).then(pl.concat_str([pl.col("remote_mta"), pl.lit(" ("), pl.col("remote_ip"), pl.lit(")")])),
        bounceCat=pl.when(kind == "bounced").then(pl.col("bounce_reason").replace_strict(_PMTA_CAT, default="other"))
        .when(kind == "deferred").then(pl.when(enh.str.starts_with("4.7")).then(pl.lit("policy-related")).otherwise(pl.lit("no-answer-from-host"))),
        srcType=pl.lit("smtp"),
        srcMta=pl.lit(f"app1.{ROOT}"),
        dlvType=pl.when(mta_ev).then(pl.lit("smtp")),
        dlvSourceIp=pl.when(mta_ev).then(pl.col("sending_ip")),
        dlvDestinationIp=pl.when(mta_ev).then(pl.col("remote_ip")),
        dlvEsmtpAvailable=pl.when(kind == "delivered").then(pl.lit("PIPELINING,SIZE,STARTTLS,ENHANCEDSTATUSCODES,8BITMIME")),
        dlvSize=pl.lit("10240"),
        vmta=pl.col("sending_ip").replace_strict(aliases, default=None),
        jobId=pl.col("campaign_id"),
        envId=pl.lit(None, pl.Utf8),
        queue=pl.concat_str([pl.col("recipient").str.extract(r"@(.+)$"), pl.lit("/"), pl.col("sending_ip").replace_strict(aliases, default="default")]),
        vmtaPool=pl.col("ip_pool"),
        **{"header_Message-Id": pl.concat_str([pl.lit("<"), pl.col("message_id"), pl.lit(">")])},
        feedbackType=pl.when(kind == "complained").then(pl.lit("abuse")),
        userAgent=pl.when(kind == "complained").then(pl.lit("Yahoo!-Mail-Feedback/2.0")),
    )


# -- KumoMTA ---------------------------------------------------------------------------


def kumo_lines(ev: pl.DataFrame, aliases: dict[str, str]) -> pl.Series:
    """One KumoMTA log record per event, built per record type (no per-row branching)."""
    source = pl.col("sending_ip").replace_strict(aliases, default=None)
    enh = pl.col("enhanced_status").str.split_exact(".", 2)
    null = J.Raw(pl.lit("null"))

    def record(kind: str, **over: J.Raw) -> J.Raw:
        relay = kind in ("Delivery", "TransientFailure", "Bounce")
        members: list[tuple[str, J.Raw | None]] = [
            ("type", J.s(kind)),
            ("id", J.s(pl.concat_str([pl.lit("k"), pl.col("msgno").cast(pl.Utf8).str.zfill(31)]), safe=True)),
            ("sender", J.s(pl.concat_str([pl.lit("bounce@"), pl.col("sending_domain")]), safe=True)),
            ("recipient", over.pop("recipient", J.s(pl.col("recipient"), safe=True))),
            ("queue", J.s(pl.concat_str([pl.col("campaign_id"), pl.lit(":brightmart@"), pl.col("recipient").str.extract(r"@(.+)$")]), safe=True)),
            ("site", J.s(pl.concat_str([source, pl.lit("->"), pl.col("remote_mta")]), safe=True) if relay else J.s("")),
            ("size", J.n(10240)),
            ("response", over.pop("response")),
            ("peer_address", J.obj(("name", J.s(pl.col("remote_mta") + ".", safe=True)), ("addr", J.s(pl.col("remote_ip"), safe=True))) if relay
             else J.Raw(pl.lit(f'{{"name":"app1.{ROOT}","addr":"10.0.0.5"}}')) if kind == "Reception" else null),
            ("timestamp", J.n(_epoch())),
            ("created", J.n(_epoch())),
            ("num_attempts", J.n(0)),
            ("bounce_classification", over.pop("bounce_classification", J.s("Uncategorized"))),
            ("egress_pool", J.s(pl.col("ip_pool"), safe=True) if relay else null),
            ("egress_source", J.s(source, safe=True) if relay else null),
            ("source_address", J.obj(("address", J.s(pl.col("sending_ip") + ":0", safe=True))) if relay else null),
            ("feedback_report", over.pop("feedback_report", null)),
            ("meta", J.obj(("campaign", J.s(pl.col("campaign_id"), safe=True)))),
            ("headers", J.obj(("Message-ID", J.s(pl.concat_str([pl.lit("<"), pl.col("message_id"), pl.lit(">")]), safe=True)))),
            ("nodeid", J.s("6d2b8a0e-6f2c-4f43-9d1e-2f9c3a5e8b71")),
        ]
        return J.obj(*members)

    def reply(command: str) -> J.Raw:
        return J.obj(
            ("code", J.n(pl.col("smtp_code"))),
            ("enhanced_code", J.obj(("class", J.n(enh.struct.field("field_0"))), ("subject", J.n(enh.struct.field("field_1"))), ("detail", J.n(enh.struct.field("field_2"))))),
            ("content", J.s(_content(pl.col("diagnostic")))),
            ("command", J.s(command)),
        )

    kinds = {
        "injected": record("Reception", response=J.Raw(pl.lit('{"code":250,"enhanced_code":null,"content":"","command":null}'))),
        "delivered": record("Delivery", response=reply(".")),
        "deferred": record("TransientFailure", response=reply(".")),
        "bounced": record("Bounce", response=reply("RCPT TO"),
                          bounce_classification=J.s(pl.col("bounce_reason").replace_strict(_KUMO_CLASS, default="Uncategorized"), safe=True)),
        "complained": record("Feedback", response=J.Raw(pl.lit('{"code":250,"enhanced_code":null,"content":"","command":null}')),
                             recipient=J.s(pl.concat_str([pl.lit("fbl@"), pl.col("sending_domain")]), safe=True),
                             feedback_report=J.obj(("feedback_type", J.s("abuse")), ("user_agent", J.s("Yahoo!-Mail-Feedback/2.0")), ("version", J.n(1)),
                                                   ("original_rcpt_to", J.s(pl.col("recipient"), safe=True)), ("source_ip", J.s(pl.col("sending_ip"), safe=True)))),
    }
    out = [ev.filter(pl.col("event_type") == k).select("ts", line=r.expr) for k, r in kinds.items()]
    return pl.concat(out).sort("ts", maintain_order=True)["line"]


# -- Postfix ---------------------------------------------------------------------------


def postfix_lines(ev: pl.DataFrame, aliases: dict[str, str]) -> pl.Series:
    qid = pl.concat_str([pl.lit("4B"), pl.col("msgno").cast(pl.Utf8).str.zfill(11)])
    host = pl.lit(" mta1 ")
    inst = pl.col("sending_ip").replace_strict(aliases, default="postfix")
    sender = pl.concat_str([pl.lit("bounce@"), pl.col("sending_domain")])

    def line(frame: pl.DataFrame, ts: pl.Expr, prog: pl.Expr | str, text: pl.Expr) -> pl.DataFrame:
        prog_e = pl.lit(prog) if isinstance(prog, str) else prog
        return frame.select(ts=ts, line=pl.concat_str([_ts_rfc3339("ts"), host, prog_e, pl.lit(": "), qid, pl.lit(": "), text]))

    inj = ev.filter(pl.col("event_type") == "injected")
    t0 = pl.col("ts")
    parts = [
        line(inj, t0, "postfix/smtpd[2101]", pl.lit(f"client=app1.{ROOT}[10.0.0.5]")),
        line(inj, t0 + pl.duration(milliseconds=3), "postfix/cleanup[2102]", pl.concat_str([
            pl.lit("info: header X-Campaign-ID: "), pl.col("campaign_id"), pl.lit(f" from app1.{ROOT}[10.0.0.5]; from=<"), sender,
            pl.lit("> to=<"), pl.col("recipient"), pl.lit("> proto=ESMTP helo=<app1>")])),
        line(inj, t0 + pl.duration(milliseconds=4), "postfix/cleanup[2102]", pl.concat_str([pl.lit("message-id=<"), pl.col("message_id"), pl.lit(">")])),
        line(inj, t0 + pl.duration(milliseconds=6), "postfix/qmgr[1201]", pl.concat_str([pl.lit("from=<"), sender, pl.lit(">, size=8123, nrcpt=1 (queue active)")])),
    ]
    st = ev.filter(pl.col("event_type").is_in(["delivered", "deferred", "bounced"]))
    relay = pl.concat_str([pl.col("remote_mta"), pl.lit("["), pl.col("remote_ip"), pl.lit("]:25")])
    said = pl.concat_str([pl.lit("host "), pl.col("remote_mta"), pl.lit("["), pl.col("remote_ip"), pl.lit("] said: "), pl.col("diagnostic"), pl.lit(" (in reply to RCPT TO command)")])
    status = pl.col("event_type").replace_strict({"delivered": "sent", "deferred": "deferred", "bounced": "bounced"})
    text = pl.concat_str([
        pl.lit("to=<"), pl.col("recipient"), pl.lit(">, relay="), relay, pl.lit(", delay=1.2, delays=0.1/0/0.5/0.6, dsn="),
        pl.col("enhanced_status"), pl.lit(", status="), status, pl.lit(" ("),
        pl.when(pl.col("event_type") == "delivered").then(pl.col("diagnostic")).otherwise(said), pl.lit(")"),
    ])
    parts.append(line(st, t0, pl.concat_str([inst, pl.lit("/smtp[2103]")]), text))
    final = ev.filter(pl.col("event_type").is_in(["delivered", "bounced"]))
    parts.append(line(final, t0 + pl.duration(milliseconds=2), "postfix/qmgr[1201]", pl.lit("removed")))
    return pl.concat(parts).sort("ts", maintain_order=True)["line"]


# -- SendGrid ----------------------------------------------------------------------------


def sendgrid_lines(ev: pl.DataFrame) -> pl.Series:
    kind = pl.col("event_type")
    engagement = kind.is_in(["opened", "clicked"])
    relay_ev = kind.is_in(["delivered", "deferred", "bounced"])
    record = J.obj(
        ("email", J.s(pl.col("recipient"), safe=True)),
        ("timestamp", J.n(_epoch())),
        ("smtp-id", J.when(relay_ev | (kind == "injected"), J.s(pl.concat_str([pl.lit("<"), pl.col("message_id"), pl.lit("@ismtpd0001p1lon1.sendgrid.net>")])))),
        ("event", J.s(kind.replace_strict({"injected": "processed", "delivered": "delivered", "deferred": "deferred", "bounced": "bounce",
                                            "opened": "open", "clicked": "click", "complained": "spamreport", "unsubscribed": "unsubscribe"}))),
        ("category", J.arr(J.s("promotions"))),
        ("sg_event_id", J.s(pl.concat_str([pl.lit("ev"), pl.col("msgno").cast(pl.Utf8), pl.lit("-"), kind, pl.lit("-"), pl.col("_n").cast(pl.Utf8)]))),
        ("sg_message_id", J.s(pl.concat_str([pl.col("message_id"), pl.lit(".filter0001.16648."), pl.col("msgno").cast(pl.Utf8), pl.lit(".0")]))),
        ("response", J.when(kind.is_in(["delivered", "deferred"]), J.s(pl.col("diagnostic")))),
        ("attempt", J.when(kind == "deferred", J.s("1"))),
        ("reason", J.when(kind == "bounced", J.s(pl.col("diagnostic")))),
        ("status", J.when(kind == "bounced", J.s(pl.col("enhanced_status"), safe=True))),
        ("type", J.when(kind == "bounced", J.s(pl.when(pl.col("bounce_class") == "block").then(pl.lit("blocked")).otherwise(pl.lit("bounce"))))),
        ("ip", J.s(pl.when(engagement).then(pl.col("client_ip")).when(relay_ev).then(pl.col("sending_ip")))),
        ("useragent", J.when(engagement, J.s(pl.col("user_agent")))),
        ("sg_machine_open", J.when(kind == "opened", J.n(pl.col("user_agent") == "Mozilla/5.0"))),
        ("url", J.s(pl.col("url"))),
        ("tls", J.when(kind == "delivered", J.n(1))),
        ("campaign_id", J.s(pl.col("campaign_id"), safe=True)),
        ("contact_id", J.s(pl.col("contact_id"), safe=True)),
        ("pool", J.when(relay_ev, J.obj(("name", J.s(pl.col("ip_pool"), safe=True)), ("id", J.n(210))))),
    )
    return ev.with_row_index("_n").select(record.expr).to_series()


# -- Amazon SES ---------------------------------------------------------------------------


def ses_lines(ev: pl.DataFrame) -> pl.Series:
    iso = J.s(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"), safe=True)
    rcpt = J.s(pl.col("recipient"), safe=True)
    mail = J.obj(
        ("timestamp", J.s(pl.col("sent_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))),
        ("source", J.s(pl.concat_str([pl.lit("Brightmart <alerts@"), pl.col("sending_domain"), pl.lit(">")]))),
        ("sendingAccountId", J.s("123456789012")),
        ("messageId", J.s(pl.col("message_id"), safe=True)),
        ("destination", J.arr(rcpt)),
        ("tags", J.obj(
            ("ses:configuration-set", J.arr(J.s("alerts"))),
            ("ses:outgoing-ip", J.arr(J.s(pl.col("sending_ip"), safe=True))),
            ("ses:from-domain", J.arr(J.s(pl.col("sending_domain"), safe=True))),
            ("campaign", J.arr(J.s(pl.col("campaign_id"), safe=True))),
            ("contact_id", J.arr(J.s(pl.col("contact_id"), safe=True))),
        )),
    )
    status = J.arr(J.obj(("emailAddress", rcpt), ("action", J.s("failed")), ("status", J.s(pl.col("enhanced_status"), safe=True)),
                         ("diagnosticCode", J.s(pl.concat_str([pl.lit("smtp; "), pl.col("diagnostic")])))))
    objects: dict[str, tuple[str, str, J.Raw]] = {
        "injected": ("Send", "send", J.Raw(pl.lit("{}"))),
        "delivered": ("Delivery", "delivery", J.obj(("timestamp", iso), ("processingTimeMillis", J.n(1800)), ("recipients", J.arr(rcpt)),
                                                    ("smtpResponse", J.s(pl.col("diagnostic"))), ("remoteMtaIp", J.s(pl.col("remote_ip"), safe=True)),
                                                    ("reportingMTA", J.s("a8-40.smtp-out.amazonses.example")))),
        "deferred": ("DeliveryDelay", "deliveryDelay", J.obj(("timestamp", iso), ("delayType", J.s("TransientCommunicationFailure")),
                                                             ("expirationTime", J.s((pl.col("ts") + pl.duration(hours=14)).dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))),
                                                             ("delayedRecipients", status))),
        "bounced": ("Bounce", "bounce", J.obj(
            ("bounceType", J.s(pl.when(pl.col("bounce_class") == "hard").then(pl.lit("Permanent")).otherwise(pl.lit("Transient")))),
            ("bounceSubType", J.s(pl.when(pl.col("bounce_reason") == "mailboxfull").then(pl.lit("MailboxFull")).otherwise(pl.lit("General")))),
            ("bouncedRecipients", status), ("timestamp", iso), ("feedbackId", J.s(pl.concat_str([pl.lit("fb-"), pl.col("message_id")]))),
            ("reportingMTA", J.s("dsn; a8-40.smtp-out.amazonses.example")))),
        "complained": ("Complaint", "complaint", J.obj(("complainedRecipients", J.arr(J.obj(("emailAddress", rcpt)))), ("timestamp", iso),
                                                       ("feedbackId", J.s(pl.concat_str([pl.lit("cf-"), pl.col("message_id")]))),
                                                       ("complaintFeedbackType", J.s("abuse")), ("userAgent", J.s("Yahoo!-Mail-Feedback/2.0")),
                                                       ("arrivalDate", iso))),
        "opened": ("Open", "open", J.obj(("ipAddress", J.s(pl.col("client_ip"), safe=True)), ("timestamp", iso), ("userAgent", J.s(pl.col("user_agent"))))),
        "clicked": ("Click", "click", J.obj(("ipAddress", J.s(pl.col("client_ip"), safe=True)), ("timestamp", iso), ("userAgent", J.s(pl.col("user_agent"))),
                                            ("link", J.s(pl.col("url"))), ("linkTags", J.obj(("campaign", J.arr(J.s(pl.col("campaign_id"), safe=True))))))),
        "unsubscribed": ("Subscription", "subscription", J.obj(("contactList", J.s("alerts")), ("timestamp", iso), ("source", J.s("UnsubscribeHeader")),
                                                               ("newTopicPreferences", J.obj(("unsubscribeAll", J.n(True)))))),
    }
    out = []
    for kind, (name, key, body) in objects.items():
        part = ev.filter(pl.col("event_type") == kind)
        if not part.is_empty():
            out.append(part.select("ts", line=J.obj(("eventType", J.s(name)), ("mail", mail), (key, body)).expr))
    return pl.concat(out).sort("ts", maintain_order=True)["line"]


# -- tracking spool (canonical) ---------------------------------------------------------------


def tracking_frame(ev: pl.DataFrame) -> pl.DataFrame:
    return ev.with_row_index("_n").select(
        event_id=pl.concat_str([pl.lit("trk-"), pl.col("msgno").cast(pl.Utf8), pl.lit("-"), pl.col("event_type"), pl.lit("-"), pl.col("_n").cast(pl.Utf8)]),
        ts=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
        event_type=pl.col("event_type"),
        message_id=pl.col("message_id"),
        campaign_id=pl.col("campaign_id"),
        contact_id=pl.col("contact_id"),
        recipient=pl.col("recipient"),
        sending_domain=pl.col("sending_domain"),
        url=pl.col("url"),
        user_agent=pl.col("user_agent"),
        client_ip=pl.col("client_ip"),
    )


def write_sources(out: Path, world: World, events: pl.DataFrame, remote_ips: pl.DataFrame, tick: Callable[[int], None] | None = None) -> dict[str, int]:
    """Write every source file under ``out`` (``data/raw/sendlogs``); rows per format."""
    aliases = {ip.ip: ip.aliases[0] for ip in world.ips if ip.aliases}
    postfix_alias = {ip.ip: a for ip in world.ips for a in ip.aliases if a.startswith("postfix")}
    ev = events.join(remote_ips, on="msgno", how="left")
    ev = ev.with_columns(sent_at=pl.col("ts").min().over("msgno"))
    counts: dict[str, int] = {}
    migration = (events["ts"].min() or datetime(2000, 1, 1)).date() + timedelta(days=world.kumo_from_day)  # type: ignore[union-attr]

    def done(name: str, n: int) -> None:
        counts[name] = counts.get(name, 0) + n
        if tick:
            tick(n)

    news = ev.filter(pl.col("stream") == "newsletter")
    for day, part in _days(news.filter(pl.col("event_type").is_in([*MTA_EVENTS, "complained"]))):
        if day < migration:
            path = out / "pmta" / f"acct-{day:%Y%m%d}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            pmta_frame(part, aliases).write_csv(path)
            stamp = _end_of(day).timestamp()
            os.utime(path, (stamp, stamp))
            done("pmta", len(part))
        else:
            done("kumomta", _write_lines(out / "kumomta" / f"{day:%Y%m%d}-000000.log.zst", kumo_lines(part, aliases), "zstd", _end_of(day)))
    tx = ev.filter(pl.col("stream") == "transactional")
    for day, part in _days(tx.filter(pl.col("event_type").is_in(MTA_EVENTS))):
        _write_lines(out / "postfix" / f"maillog-{day:%Y%m%d}.gz", postfix_lines(part, postfix_alias), "gzip", _end_of(day))
        done("postfix", len(part))
    for day, part in _days(ev.filter(pl.col("stream").is_in(["newsletter", "transactional"]) & pl.col("event_type").is_in(TRACKING_EVENTS))):
        path = out / "tracking" / f"events-{day:%Y%m%d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tracking_frame(part).write_csv(path)
        done("tracking", len(part))
    promo = ev.filter(pl.col("stream") == "promotions")
    for i, (day, part) in enumerate(_days(promo)):
        lines = sendgrid_lines(part)
        if i < 3:  # the first days as webhook request bodies (JSON arrays)
            path = out / "sendgrid" / f"webhook-{day:%Y%m%d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("[\n" + lines.str.join(",\n").item() + "\n]\n", encoding="utf-8")
            done("sendgrid", len(part))
        else:
            done("sendgrid", _write_lines(out / "sendgrid" / f"events-{day:%Y%m%d}.jsonl", lines, None, _end_of(day)))
    alerts = ev.filter(pl.col("stream") == "alerts")
    for day, part in _days(alerts):
        done("ses", _write_lines(out / "ses" / f"ses-events-{day:%Y%m%d}.jsonl.gz", ses_lines(part), "gzip", _end_of(day)))
    return counts
