"""The world's feedback mail: bounces, complaint reports and auto-replies, written as an mbox
(``<out>/mail/feedback.mbox``) consistent with the send logs (same recipients, Message-IDs,
campaigns and sending IPs).

What arrives by mail, not in the logs:

- complaints about the newsletter from providers whose feedback loop mails reports:
  Microsoft (JMRP, not ARF), Yahoo / AOL (ARF via the CFL, recipient redacted), and the
  French and German ISPs and Comcast (ARF); they are taken out of the PowerMTA / KumoMTA
  logs (the MTA only processes the other feeds);
- Apple Mail's one-click unsubscribes from the newsletter (a mail to the List-Unsubscribe
  address), taken out of the tracking spool;
- asynchronous bounces: a full mailbox found after the receiving MX accepted the message
  (soft, several per contact over the weeks), and addresses removed at companies hosted by
  Microsoft 365 or Google Workspace (hard, on the contact's last message);
- a few out-of-office replies (not events).

Each returned message carries our trace headers (``Feedback-ID``, ``X-Workbench-Trace``)
and the bounces come back to a VERP return path, as the sending pipeline writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import polars as pl

from workbench.feedback.trace import feedback_id, trace_header, verp_address
from workbench.synth.world import ROOT, World

__all__ = ["DEMO_TRACE_KEY", "split", "write_mbox"]

#: the key the synthetic world signs its trace headers with (set WORKBENCH_TRACE_KEY to it)
DEMO_TRACE_KEY = b"brightmart-demo-trace-key"
FBL_BY_MAIL = {"microsoft": "jmrp", "yahoo": "arf-yahoo", "orange": "arf", "sfr": "arf", "laposte": "arf",
               "free": "arf", "gmx": "arf", "webde": "arf", "comcast": "arf"}
REPORTERS = {
    "yahoo": ("Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>", "Yahoo!-Mail-Feedback/2.0"),
    "orange": ("Orange FBL <fbl@orange.fr>", "Orange-FBL/1.0"),
    "sfr": ("SFR FBL <fbl@sfr.fr>", "ReturnPathFBL/1.0"),
    "laposte": ("La Poste FBL <fbl@laposte.net>", "ReturnPathFBL/1.0"),
    "free": ("Free FBL <fbl@free.fr>", "ReturnPathFBL/1.0"),
    "gmx": ("GMX FBL <fbl@gmx.net>", "GMX-FBL/1.0"),
    "webde": ("WEB.DE FBL <fbl@web.de>", "GMX-FBL/1.0"),
    "comcast": ("Comcast FBL <feedbackloop@comcast.net>", "ReturnPathFBL/2.0"),
}
ASYNC_FULL = {  # provider -> (reporting host, format)
    "orange": ("smtp-in.orange.fr", "postfix-full"),
    "sfr": ("mx1.sfr.fr", "postfix-full"),
    "laposte": ("smtp-in.laposte.net", "postfix-full"),
    "free": ("mx1.free.fr", "exim-full"),
    "gmx": ("mx00.gmx.net", "exim-full"),
    "webde": ("mx-ha02.web.de", "exim-full"),
    "comcast": ("mx1a1.comcast.net", "exim-full"),
    "other": ("mail.initech.example", "exim-full"),
    "yahoo": ("mta5.am0.yahoodns.net", "postfix-full"),
}
CORPORATE = {"contoso.example": "o365", "fabrikam.example": "o365", "northwind.example": "google"}


def split(world: World, msgs: pl.DataFrame, evs: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(events for the logs, events that arrive by mail)``; the world's truth is both."""
    rng = np.random.default_rng(seed + 5)
    who = msgs.select("msgno", "provider", "domain", "mailbox_full", "inject")
    ev = evs.join(who, on="msgno", how="left")
    news = pl.col("stream") == "newsletter"
    complaints = ev.filter((pl.col("event_type") == "complained") & news
                           & pl.col("provider").is_in(list(FBL_BY_MAIL)))
    unsubs = ev.filter((pl.col("event_type") == "unsubscribed") & news & (pl.col("provider") == "apple"))
    delivered = ev.filter(pl.col("event_type") == "delivered")
    full = delivered.filter(pl.col("mailbox_full") & pl.col("provider").is_in(list(ASYNC_FULL)))
    full = full.filter(pl.Series(rng.random(len(full)) < 0.6))
    corporate = delivered.filter(pl.col("domain").is_in(list(CORPORATE)))
    leavers = corporate.select("contact_id").unique(maintain_order=True)
    leavers = leavers.filter(pl.Series(rng.random(len(leavers)) < 0.05))
    last = corporate.join(leavers, on="contact_id").sort("ts").group_by("contact_id", maintain_order=True).last()
    delay = pl.Series(rng.uniform(120, 6 * 3600, len(full) + len(last)) * 1e6).cast(pl.Int64).cast(pl.Duration("us"))
    async_full = full.with_columns(ts=pl.col("ts") + delay[: len(full)], event_type=pl.lit("bounced"),
                                   bounce_class=pl.lit("soft"), bounce_reason=pl.lit("mailboxfull"),
                                   smtp_code=pl.lit(552, pl.Int16), enhanced_status=pl.lit("5.2.2"),
                                   diagnostic=pl.lit("mailbox full"))
    async_gone = last.with_columns(ts=pl.col("ts") + delay[len(full):], event_type=pl.lit("bounced"),
                                   bounce_class=pl.lit("hard"), bounce_reason=pl.lit("userunknown"),
                                   smtp_code=pl.lit(550, pl.Int16), enhanced_status=pl.lit("5.1.1"),
                                   diagnostic=pl.lit("recipient not found"))
    autoreplies = delivered.filter(pl.col("domain").is_in(list(CORPORATE)) & news)
    autoreplies = autoreplies.filter(pl.Series(rng.random(len(autoreplies)) < 0.004)).with_columns(
        event_type=pl.lit("autoreply"), ts=pl.col("ts") + pl.duration(minutes=3))
    mailed = pl.concat([complaints, unsubs, async_full, async_gone, autoreplies], how="diagonal_relaxed")
    moved = pl.concat([complaints, unsubs]).select("msgno", "event_type")
    logs = evs.join(moved, on=["msgno", "event_type"], how="anti")
    return logs, mailed.sort("ts")


def _date(ts: datetime) -> str:
    return format_datetime(ts.replace(tzinfo=UTC))


def _original(r: dict[str, object], subject: str, key: bytes) -> str:
    sent = r["inject"] if isinstance(r["inject"], datetime) else r["ts"]
    assert isinstance(sent, datetime)
    stream = str(r["stream"])
    return (
        f"Received: from app1.{ROOT} (app1.{ROOT} [10.0.0.5])\n\tby mta.{r['sending_domain']} with ESMTP;"
        f" {_date(sent)}\n"
        f"From: Brightmart <{stream}@{r['sending_domain']}>\nTo: <{r['recipient']}>\nSubject: {subject}\n"
        f"Date: {_date(sent)}\nMessage-ID: <{r['message_id']}>\nMIME-Version: 1.0\n"
        f"Content-Type: text/html; charset=utf-8\n"
        f"List-Unsubscribe: <mailto:{verp_address(str(r['campaign_id']), str(r['contact_id']), str(r['sending_domain']), key=key, local='unsubscribe')}>\n"
        f"Feedback-ID: {feedback_id(str(r['campaign_id']), stream, 'brightmart', 'bm1')}\n"
        f"X-Workbench-Trace: {trace_header(str(r['campaign_id']), str(r['contact_id']), stream, key=key)}\n"
    )


def _multipart(headers: str, parts: list[tuple[str, str]], boundary: str, report: str | None) -> str:
    kind = f'multipart/report; report-type={report}; boundary="{boundary}"' if report else \
        f'multipart/mixed; boundary="{boundary}"'
    body = [f"{headers}MIME-Version: 1.0\nContent-Type: {kind}\n\nThis is a MIME-encapsulated message.\n"]
    for ctype, text in parts:
        body.append(f"--{boundary}\nContent-Type: {ctype}\n\n{text}\n")
    body.append(f"--{boundary}--\n")
    return "".join(body)


def render(r: dict[str, object], subject: str, key: bytes) -> str:
    """One feedback message for an event row (see the module docstring)."""
    ts = r["ts"]
    assert isinstance(ts, datetime)
    rcpt, domain, provider = str(r["recipient"]), str(r["sending_domain"]), str(r["provider"])
    n = int(str(r["msgno"]))
    original = _original(r, subject, key)
    verp = verp_address(str(r["campaign_id"]), str(r["contact_id"]), domain, key=key)
    kind = str(r["event_type"])
    if kind == "complained" and FBL_BY_MAIL[provider] == "jmrp":
        head = (f"From: staff@hotmail.com\nTo: fbl@{domain}\nSubject: complaint about message from {r['sending_ip']}\n"
                f"Date: {_date(ts)}\nMessage-ID: <jmrp.{n}@hotmail.com>\n")
        inner = f"X-HmXmrOriginalRecipient: <{rcpt}>\nX-SID-PRA: {r['campaign_id']}@{domain}\n" + original + "\nHello\n"
        return _multipart(head, [("text/plain", "This is an email abuse report."), ("message/rfc822", inner)],
                          f"jmrp{n}", None)
    if kind == "complained":
        sender, agent = REPORTERS[provider if provider in REPORTERS else "yahoo"]
        rcpt_field = "" if provider == "yahoo" else f"Original-Rcpt-To: {rcpt}\n"
        report = (f"Feedback-Type: abuse\nUser-Agent: {agent}\nVersion: 1\nOriginal-Mail-From: <bounce@{domain}>\n"
                  f"{rcpt_field}Arrival-Date: {_date(ts)}\nSource-IP: {r['sending_ip']}\nReported-Domain: {domain}\n")
        head = f"From: {sender}\nTo: fbl@{domain}\nSubject: FW: {subject}\nDate: {_date(ts)}\nMessage-ID: <arf.{n}@fbl.example>\n"
        text = f"This is an email abuse report for an email message received from IP {r['sending_ip']} on {_date(ts)}."
        if provider == "yahoo":  # the CFL redacts the recipient from the returned message too
            original = original.replace(f"To: <{rcpt}>", f"To: <redacted@{rcpt.split('@')[1]}>")
        return _multipart(head, [("text/plain", text), ("message/feedback-report", report),
                                 ("message/rfc822", original + "\nHello\n")], f"arf{n}", "feedback-report")
    if kind == "unsubscribed":
        to = verp_address(str(r["campaign_id"]), str(r["contact_id"]), domain, key=key, local="unsubscribe")
        return (f"From: {rcpt}\nTo: {to}\nSubject: unsubscribe\nDate: {_date(ts)}\nMessage-ID: <unsub.{n}@icloud.com>\n"
                "Auto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\nContent-Type: text/plain; charset=UTF-8\n\n"
                f"Apple Mail sent this email to unsubscribe from the message \u201c{subject}\u201d.\n")
    if kind == "autoreply":
        return (f"From: <{rcpt}>\nTo: <{r['stream']}@{domain}>\nSubject: Automatic reply: {subject}\nDate: {_date(ts)}\n"
                f"Message-ID: <ooo.{n}@{rcpt.split('@')[1]}>\nAuto-Submitted: auto-replied\n"
                "Content-Type: text/plain; charset=utf-8\n\nI am out of the office until next Monday.\n")
    head = f"To: {verp}\nDate: {_date(ts)}\nAuto-Submitted: auto-replied\n"
    rdomain = rcpt.split("@")[1]
    if r["bounce_class"] == "hard":
        if CORPORATE.get(rdomain) == "google":
            host = "mail-sor-f41.google.com"
            diag = ("smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
                    "    550 5.1.1 double-checking the recipient's email address for typos or unnecessary spaces.")
            head = f"From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nSubject: Delivery Status Notification (Failure)\n{head}"
            text = f"** Address not found **\n\nYour message wasn't delivered to {rcpt} because the address couldn't be found."
            status, remote = "5.1.1", "aspmx.l.google.com"
        else:
            host = f"{rdomain.split('.')[0]}-example.mail.protection.outlook.com"
            diag = "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
            head = (f"From: postmaster@{rdomain}\nSubject: Undeliverable: {subject}\n{head}")
            text = f"Delivery has failed to these recipients or groups:\n\n{rcpt}\nThe email address you entered couldn't be found."
            status, remote = "5.1.10", f"AM0PR01MB{n % 9999:04d}.eurprd01.prod.outlook.com"
        dsn = (f"Reporting-MTA: dns; {host}\nArrival-Date: {_date(ts)}\n\nFinal-Recipient: rfc822; {rcpt}\n"
               f"Action: failed\nStatus: {status}\nRemote-MTA: dns; {remote}\nDiagnostic-Code: {diag}\n")
        return _multipart(head + f"Message-ID: <dsn.{n}@{host}>\n",
                          [("text/plain", text), ("message/delivery-status", dsn), ("text/rfc822-headers", original)],
                          f"dsn{n}", "delivery-status")
    host, style = ASYNC_FULL.get(provider, ASYNC_FULL["other"])
    if style == "postfix-full":
        head = (f"From: MAILER-DAEMON@{host} (Mail Delivery System)\nSubject: Undelivered Mail Returned to Sender\n"
                f"{head}Message-ID: <dsn.{n}@{host}>\n")
        text = (f"This is the mail system at host {host}.\n\nI'm sorry to have to inform you that your message could not\n"
                f"be delivered to one or more recipients.\n\n                   The mail system\n\n"
                f"<{rcpt}>: maildrop: maildir over quota.\n    Boite du destinataire pleine. Mailbox full\n")
        dsn = (f"Reporting-MTA: dns; {host}\nArrival-Date: {_date(ts)}\n\nFinal-Recipient: rfc822; {rcpt}\n"
               f"Action: failed\nStatus: 5.2.2\nDiagnostic-Code: X-Postfix; maildrop: maildir over quota.\n")
        return _multipart(head, [("text/plain", text), ("message/delivery-status", dsn),
                                 ("message/rfc822", original + "\nHello\n")], f"pf{n}", "delivery-status")
    head = (f"From: Mail Delivery System <Mailer-Daemon@{host}>\nSubject: Mail delivery failed: returning message to sender\n"
            f"{head}Message-ID: <E1{n:06d}-000{n % 9:01d}Ab-Cd@{host}>\nX-Failed-Recipients: {rcpt}\n")
    return (f"{head}\nThis message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            f"  {rcpt}\n    mailbox is full: retry timeout exceeded (quota exceeded while writing to file)\n\n"
            "------ This is a copy of the message, including all the headers. ------\n\n" + original + "\nHello\n")


def write_mbox(path: Path, mailed: pl.DataFrame, calendar: pl.DataFrame, key: bytes = DEMO_TRACE_KEY) -> int:
    """Write the feedback messages to an mbox file; how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subjects = dict(zip(calendar["campaign_id"].to_list(), calendar["subject"].to_list(), strict=True))
    chunks = []
    for row in mailed.iter_rows(named=True):
        text = render(row, subjects.get(row["campaign_id"], "Brightmart"), key)
        ts = row["ts"]
        quoted = "\n".join(">" + line if line.startswith("From ") else line for line in text.split("\n"))
        chunks.append(f"From MAILER-DAEMON {ts:%a %b %d %H:%M:%S %Y}\n{quoted}\n")
    path.write_text("".join(chunks), encoding="utf-8")
    return len(chunks)
