"""Messages and their events, drawn in bulk (numpy + polars, no loop over rows).

Every message of the calendar gets an injection, zero to two deferrals, a final delivery or
bounce, and for delivered mail its opens (human, and Apple Mail Privacy Protection
prefetches), clicks (human, and link scanners seconds after delivery), unsubscribes and
complaints. A contact who hard-bounces, complains or unsubscribes is not mailed again
(hard bounce: by anyone; complaint: marketing; unsubscribe: that list).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from workbench.synth.world import MX_BY_DOMAIN, MX_IP, MX_OF, World

US_PER_S = 1_000_000
MARKETING = ("newsletter", "promotions")

UA_HUMAN = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
]
UA_GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
UA_MPP = "Mozilla/5.0"
UA_SCANNER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0"

# (smtp code, enhanced status, text) per provider for each failure kind
HARD = {
    "gmail": (550, "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si4 - gsmtp"),
    "microsoft": (550, "5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM0PR01MB1234.eurprd01.prod.outlook.com]"),
    "yahoo": (554, "5.1.1", "554 5.1.1 delivery error: dd This user doesn't have a yahoo.com account (RCPT_TO) [-] - mta1034.mail.gq1.yahoo.com"),
    "apple": (550, "5.1.1", "550 5.1.1 <rcpt>: user does not exist"),
    "orange": (550, "5.1.1", "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]"),
    "free": (550, "5.1.1", "550 5.1.1 <rcpt>: Recipient address rejected: user unknown"),
    "_": (550, "5.1.1", "550 5.1.1 <rcpt>: Recipient address rejected: User unknown in virtual mailbox table"),
}
FULL = {
    "gmail": (452, "4.2.2", "452-4.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp x1si4 - gsmtp"),
    "orange": (552, "5.2.2", "552 5.2.2 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]"),
    "_": (552, "5.2.2", "552 5.2.2 Mailbox full: quota exceeded"),
}
DEFER = {
    "yahoo": (421, "4.7.0", "421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"),
    "gmail": (421, "4.7.28", "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address [{ip}]. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. https://support.google.com/mail/?p=UnsolicitedRateLimitError x1si4 - gsmtp"),
    "microsoft": (451, "4.7.650", "451 4.7.650 The mail server [{ip}] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)"),
    "_": (421, "4.4.2", "421 4.4.2 Connection timed out"),
}
BLOCK = {
    "gmail": (550, "5.7.1", "550-5.7.1 [{ip}] Gmail has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. https://support.google.com/mail/?p=UnsolicitedMessageError x1si4 - gsmtp"),
    "_": (554, "5.7.1", "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org"),
}
OK = {
    "gmail": "250 2.0.0 OK  1764230002 x1si4 - gsmtp",
    "microsoft": "250 2.6.0 <mid> [InternalId=1234] Queued mail for delivery",
    "yahoo": "250 ok dirdel",
    "_": "250 2.0.0 Ok: queued as 4Bq2X",
}


#: the planted reputation problem of ``World.bad_ip``: its complaint probability at Gmail,
#: Yahoo and Microsoft once fully "late", and the days before the end when it starts / the
#: days it takes to reach full strength
BAD_IP_COMPLAINT_P = 0.008
LATE_FROM = 35
LATE_RAMP = 15.0
#: the largest share of the newsletter the warming IP takes
WARM_SHARE_CAP = 0.25


def _pick(table: dict[str, tuple[int, str, str]], provider: pl.Expr, part: int) -> pl.Expr:
    mapping = {k: v[part] for k, v in table.items() if k != "_"}
    default = table["_"][part]
    return provider.replace_strict(mapping, default=default, return_dtype=pl.Int16 if part == 0 else pl.Utf8)


def _us(seconds: np.ndarray) -> pl.Series:
    return pl.Series((seconds * US_PER_S).astype(np.int64)).cast(pl.Duration("us"))


def plan_messages(rng: np.random.Generator, world: World, contacts: pl.DataFrame, calendar: pl.DataFrame, start: datetime, days: int) -> pl.DataFrame:
    """One row per message: campaign, contact and when it is injected."""
    c = contacts.with_row_index("cidx")
    marketing = calendar.filter(pl.col("stream").is_in(MARKETING))
    members = c.select("cidx", "signup_at", "on_newsletter", "on_promotions")
    sends = marketing.select("campaign_id", "stream", "scheduled_at", "day").join(members, how="cross").filter(
        (pl.col("signup_at") < pl.col("scheduled_at"))
        & pl.when(pl.col("stream") == "newsletter").then(pl.col("on_newsletter")).otherwise(pl.col("on_promotions"))
    ).select("campaign_id", "stream", "scheduled_at", "day", "cidx")
    ramp = np.where(sends.select(pl.col("stream") == "newsletter").to_series().to_numpy(), 7200.0, 3600.0)
    sends = sends.with_columns(inject=pl.col("scheduled_at") + _us(rng.random(len(sends)) * ramp))

    n = len(c)
    parts = [sends.select("campaign_id", "stream", "day", "cidx", "inject")]
    daily = []
    signup_day = c.select((pl.col("signup_at") - pl.lit(start)).dt.total_seconds() // 86400).to_series().to_numpy()
    alert_members = np.flatnonzero(c["on_alerts"].to_numpy())
    for d in range(days):
        day0 = start + timedelta(days=d)
        picks = [
            ("order-confirmation", rng.choice(n, size=rng.poisson(n * 0.012), replace=True)),
            ("password-reset", rng.choice(n, size=rng.poisson(n * 0.002), replace=True)),
            ("welcome", np.flatnonzero(signup_day == d)),
        ]
        def part(campaign: str, stream: str, idx: np.ndarray, d: int = d) -> pl.DataFrame:
            return pl.DataFrame({"cidx": pl.Series(idx.astype(np.uint32), dtype=pl.UInt32)}).select(
                campaign_id=pl.lit(campaign, pl.Utf8), stream=pl.lit(stream, pl.Utf8), day=pl.lit(d, pl.Int32), cidx=pl.col("cidx")
            )

        for template, idx in picks:
            daily.append(part(f"tx-{template}-{day0:%Y%m%d}", "transactional", idx))
        if len(alert_members):
            daily.append(part(f"alert-{day0:%Y%m%d}", "alerts", alert_members[rng.random(len(alert_members)) < 0.08]))
    other = pl.concat(daily).with_columns(pl.col("day").cast(pl.Int32))
    hours = np.clip(rng.normal(14.0, 4.0, len(other)), 0.0, 23.99) * 3600
    other = other.with_columns(inject=pl.lit(start) + pl.duration(days=pl.col("day")) + _us(hours))
    # welcome mail goes minutes after the signup
    other = other.join(c.select("cidx", "signup_at"), on="cidx").with_columns(
        inject=pl.when(pl.col("campaign_id").str.starts_with("tx-welcome")).then(pl.col("signup_at") + pl.duration(seconds=90)).otherwise(pl.col("inject"))
    ).drop("signup_at")
    msgs = pl.concat([parts[0].with_columns(pl.col("cidx").cast(pl.UInt32), pl.col("day").cast(pl.Int32)), other.select(parts[0].columns)])
    msgs = msgs.sort("inject").with_row_index("msgno")
    attrs = c.select(
        "cidx", "contact_id", "email", "domain", "provider", "is_mpp", "scanner_share", "invalid", "mailbox_full",
        "open_p", "click_p", "complainer", "planted",
    )
    msgs = msgs.join(attrs, on="cidx", how="left")
    return _assign_ips(rng, world, msgs)


def warmup_share(day: np.ndarray, start_day: int) -> np.ndarray:
    """Share of the newsletter a warming IP takes on ``day``: 1 % on its first day, ×1.2 a
    day (each stage once the previous one delivered), capped at a quarter of it (``WARM_SHARE_CAP``)."""
    return np.where(day < start_day, 0.0, np.minimum(WARM_SHARE_CAP, 0.01 * 1.2 ** (day - start_day)))


def _assign_ips(rng: np.random.Generator, world: World, msgs: pl.DataFrame) -> pl.DataFrame:
    n = len(msgs)
    warm = next(i for i in world.ips if i.warmup_start_day is not None)
    steady = next(i for i in world.ips if i.pool == "dedicated" and i.warmup_start_day is None)
    share = warmup_share(msgs["day"].to_numpy(), warm.warmup_start_day or 0)
    sg = [i.ip for i in world.ips if i.pool == "shared-sendgrid"]
    ses = [i.ip for i in world.ips if i.pool == "shared-ses"]
    stream = pl.col("stream")
    draw = pl.lit(pl.Series(rng.random(n)))
    pick = pl.lit(pl.Series(rng.integers(0, 1 << 30, n)))
    ip = (
        pl.when((stream == "newsletter") & (draw < pl.lit(pl.Series(share)))).then(pl.lit(warm.ip))
        .when(stream == "promotions").then(pl.lit(pl.Series(sg)).get(pick % len(sg)))
        .when(stream == "alerts").then(pl.lit(pl.Series(ses)).get(pick % len(ses)))
        .otherwise(pl.lit(steady.ip))
    )
    domains = {s.name: s.domain for s in world.streams}
    pools = {s.name: s.pool for s in world.streams}
    return msgs.with_columns(
        sending_ip=ip,
        sending_domain=pl.col("stream").replace_strict(domains),
        ip_pool=pl.col("stream").replace_strict(pools),
    )


def outcomes(rng: np.random.Generator, world: World, msgs: pl.DataFrame, days: int) -> pl.DataFrame:
    """Draw each message's fate: deferrals, final status, opens, clicks, complaint, unsubscribe."""
    n = len(msgs)

    def mask(expr: pl.Expr) -> np.ndarray:
        return msgs.select(expr).to_series().to_numpy()

    day = msgs["day"].to_numpy().astype(float)
    gmail, yahoo, microsoft = (mask(pl.col("provider") == p) for p in ("gmail", "yahoo", "microsoft"))
    big3 = gmail | yahoo | microsoft
    newsletter, promotions, transactional = (mask(pl.col("stream") == s) for s in ("newsletter", "promotions", "transactional"))
    bad = mask(pl.col("sending_ip") == world.bad_ip)
    late = np.clip((day - (days - LATE_FROM)) / LATE_RAMP, 0.0, 1.0)  # 0 until LATE_FROM days before the end, then 1
    marketing = newsletter | promotions
    # -- delivery --------------------------------------------------------------------
    hard = msgs["invalid"].to_numpy()
    block_p = 0.0008 + bad * gmail * 0.05 * late
    block = ~hard & (rng.random(n) < block_p)
    soft = ~hard & ~block & ((msgs["mailbox_full"].to_numpy() & (rng.random(n) < 0.7)) | (rng.random(n) < 0.002))
    defer_p = 0.008 + yahoo * 0.04 + bad * gmail * 0.35 * late + bad * microsoft * 0.08 * late
    deferrals = (rng.random(n) < defer_p).astype(np.int8) + (rng.random(n) < defer_p * 0.3).astype(np.int8)
    deferrals = np.where(soft, np.maximum(deferrals, 1), deferrals)
    delivered = ~hard & ~block & ~soft
    # -- engagement (delivered mail only) ----------------------------------------------
    factor = np.select([newsletter, promotions, transactional], [0.55, 0.42, 0.9], 0.6)
    open_p = np.minimum(0.95, msgs["open_p"].to_numpy() * factor)
    human_open = delivered & (rng.random(n) < open_p)
    n_open = human_open * (1 + rng.poisson(0.6, n))
    mpp = delivered & msgs["is_mpp"].to_numpy() & (rng.random(n) < 0.93)
    boost = np.where(msgs["planted"].to_numpy() & newsletter, 1.8, 1.0)
    click_p = np.minimum(0.9, msgs["click_p"].to_numpy() * boost * np.where(transactional, 0.5, 1.0))
    human_click = human_open & (rng.random(n) < click_p)
    n_click = human_click * (1 + rng.poisson(0.4, n))
    scanner = delivered & (rng.random(n) < msgs["scanner_share"].to_numpy())
    unsub = delivered & marketing & (rng.random(n) < 0.0008 + 0.0025 * (1 - msgs["open_p"].to_numpy()))
    complain_p = 0.00012 + msgs["complainer"].to_numpy() * 0.03 + bad * big3 * BAD_IP_COMPLAINT_P * late
    complaint = delivered & marketing & (rng.random(n) < complain_p)
    # -- timing (seconds after injection) --------------------------------------------
    retry = rng.uniform(300, 1800, (n, 2)).cumsum(axis=1)
    final_after = np.where(deferrals > 0, retry[np.arange(n), np.maximum(deferrals - 1, 0)] + rng.uniform(1, 60, n), rng.lognormal(0.8, 0.6, n))
    return msgs.with_columns(
        hard=hard, block=block, soft=soft, delivered=delivered, deferrals=pl.Series(deferrals),
        retry1=_us(retry[:, 0]), retry2=_us(retry[:, 1]), final_at=pl.col("inject") + _us(final_after),
        n_open=pl.Series(n_open.astype(np.int16)), mpp=mpp, n_click=pl.Series(n_click.astype(np.int16)),
        scanner=scanner, unsub=unsub, complaint=complaint,
        open_delay=_us(rng.exponential(5 * 3600, n)), mpp_delay=_us(rng.uniform(10, 900, n)),
        click_delay=_us(rng.exponential(180, n)), scan_delay=_us(rng.uniform(1, 8, n)),
        unsub_delay=_us(rng.exponential(8 * 3600, n)), complaint_delay=_us(rng.exponential(12 * 3600, n)),
    )


def suppress(msgs: pl.DataFrame) -> pl.DataFrame:
    """Drop messages a careful sender would not have sent: after a hard bounce (all mail),
    a complaint (marketing) or an unsubscribe (that list)."""
    first_hard = msgs.filter("hard").group_by("contact_id").agg(pl.col("final_at").min().alias("hard_at"))
    first_complaint = msgs.filter("complaint").group_by("contact_id").agg(
        (pl.col("final_at") + pl.col("complaint_delay")).min().alias("complained_at")
    )
    first_unsub = msgs.filter("unsub").group_by("contact_id", "stream").agg(
        (pl.col("final_at") + pl.col("unsub_delay")).min().alias("unsub_at")
    )
    out = msgs.join(first_hard, on="contact_id", how="left").join(first_complaint, on="contact_id", how="left").join(
        first_unsub, on=["contact_id", "stream"], how="left"
    )
    marketing = pl.col("stream").is_in(MARKETING)
    keep = (
        (pl.col("hard_at").is_null() | (pl.col("inject") <= pl.col("hard_at")))
        & (~marketing | pl.col("complained_at").is_null() | (pl.col("inject") <= pl.col("complained_at")))
        & (pl.col("unsub_at").is_null() | (pl.col("inject") <= pl.col("unsub_at")))
    )
    return out.filter(keep).drop("hard_at", "complained_at", "unsub_at")


def message_ids(msgs: pl.DataFrame) -> pl.DataFrame:
    """Ids in each MTA's own style: SendGrid and SES assign theirs, our MTAs use ours."""
    hexno = pl.col("msgno").cast(pl.Utf8)
    ours = pl.concat_str([pl.col("campaign_id"), pl.lit("."), hexno, pl.lit("@"), pl.col("sending_domain")])
    sg = pl.concat_str([pl.lit("sgm"), hexno.str.zfill(12), pl.lit("x")])
    ses = pl.concat_str([pl.lit("0102019"), hexno.str.zfill(9), pl.lit("-5c1e-4d2b-9f3a-"), hexno.str.zfill(12), pl.lit("-000000")])
    return msgs.with_columns(
        message_id=pl.when(pl.col("stream") == "promotions").then(sg).when(pl.col("stream") == "alerts").then(ses).otherwise(ours),
        qid=pl.concat_str([pl.lit("4B"), pl.col("msgno").cast(pl.Utf8).str.zfill(11)]),
        remote_mta=pl.coalesce(pl.col("domain").replace_strict(MX_BY_DOMAIN, default=None), pl.col("provider").replace_strict(MX_OF, default=MX_OF["other"])),
        remote_ip=pl.col("provider").replace_strict(MX_IP, default=MX_IP["other"]),
    )


def events(msgs: pl.DataFrame) -> pl.DataFrame:
    """The canonical events of every message (the truth the writers render into formats)."""
    msgs = msgs.select(
        "message_id", "campaign_id", "contact_id", "sending_domain", "sending_ip", "ip_pool", "stream", "msgno",
        "remote_mta", "email", "provider", "inject", "deferrals", "retry1", "final_at", "delivered", "hard", "soft",
        "block", "n_open", "open_delay", "mpp", "mpp_delay", "n_click", "click_delay", "scanner", "scan_delay",
        "unsub", "unsub_delay", "complaint", "complaint_delay",
    )
    prov = pl.col("provider")
    base = [pl.col(c) for c in ("message_id", "campaign_id", "contact_id", "sending_domain", "sending_ip", "ip_pool", "stream", "msgno", "remote_mta")]
    base.append(pl.col("email").alias("recipient"))
    ip = pl.col("sending_ip")

    def fill(text: pl.Expr) -> pl.Expr:
        return text.str.replace_all("{ip}", ip, literal=True).str.replace_all("<rcpt>", pl.col("email"), literal=True)

    def frame(df: pl.DataFrame, kind: str, ts: pl.Expr, **extra: pl.Expr) -> pl.DataFrame:
        cols = {"ts": ts, "event_type": pl.lit(kind), **extra}
        return df.select(*base, **cols)

    parts = [frame(msgs, "injected", pl.col("inject"))]
    for k in (1, 2):
        d = msgs.filter(pl.col("deferrals") >= k)
        parts.append(frame(d, "deferred", pl.col("inject") + pl.col("retry1") * (k - 1) + pl.duration(seconds=k),
                           smtp_code=_pick(DEFER, prov, 0), enhanced_status=_pick(DEFER, prov, 1), diagnostic=fill(_pick(DEFER, prov, 2)),
                           bounce_class=pl.lit("soft")))
    dl = msgs.filter("delivered")
    parts.append(frame(dl, "delivered", pl.col("final_at"), smtp_code=pl.lit(250, pl.Int16), enhanced_status=pl.lit("2.0.0"),
                       diagnostic=prov.replace_strict({k: v for k, v in OK.items() if k != "_"}, default=OK["_"])))
    for flag, table, klass, reason in (("hard", HARD, "hard", "userunknown"), ("soft", FULL, "soft", "mailboxfull"), ("block", BLOCK, "block", "blocked")):
        d = msgs.filter(flag)
        parts.append(frame(d, "bounced", pl.col("final_at"), smtp_code=_pick(table, prov, 0), enhanced_status=_pick(table, prov, 1),
                           diagnostic=fill(_pick(table, prov, 2)), bounce_class=pl.lit(klass), bounce_reason=pl.lit(reason)))
    # opens: human (n_open of them, spread) and MPP prefetches
    ho = msgs.filter(pl.col("n_open") > 0).with_columns(k=pl.int_ranges(0, pl.col("n_open"))).explode("k")
    ua_h = pl.lit(pl.Series(UA_HUMAN)).get((pl.col("msgno") + pl.col("k")) % len(UA_HUMAN))
    parts.append(frame(ho, "opened", pl.col("final_at") + pl.col("open_delay") * (1 + pl.col("k") * 3),
                       user_agent=pl.when(prov == "gmail").then(pl.lit(UA_GMAIL_PROXY)).otherwise(ua_h),
                       client_ip=pl.when(prov == "gmail").then(pl.lit("66.249.84.")).otherwise(pl.lit("81.64.12.")) + ((pl.col("msgno") % 250) + 1).cast(pl.Utf8)))
    mp = msgs.filter("mpp")
    parts.append(frame(mp, "opened", pl.col("final_at") + pl.col("mpp_delay"), user_agent=pl.lit(UA_MPP),
                       client_ip=pl.lit("17.58.") + ((pl.col("msgno") % 250) + 1).cast(pl.Utf8) + pl.lit(".7")))
    url = pl.concat_str([pl.lit("https://www.brightmart.example/"), pl.col("campaign_id"), pl.lit("/link"), pl.col("k").cast(pl.Utf8), pl.lit("?utm_source=email")])
    hc = msgs.filter(pl.col("n_click") > 0).with_columns(k=pl.int_ranges(0, pl.col("n_click"))).explode("k")
    parts.append(frame(hc, "clicked", pl.col("final_at") + pl.col("open_delay") + pl.col("click_delay") * (1 + pl.col("k")), url=url,
                       user_agent=ua_h, client_ip=pl.lit("81.64.12.") + ((pl.col("msgno") % 250) + 1).cast(pl.Utf8)))
    sc = msgs.filter("scanner").with_columns(k=pl.int_ranges(0, 2)).explode("k")
    parts.append(frame(sc, "clicked", pl.col("final_at") + pl.col("scan_delay") + pl.duration(milliseconds=pl.col("k") * 40), url=url,
                       user_agent=pl.lit(UA_SCANNER), client_ip=pl.lit("40.94.") + ((pl.col("msgno") % 250) + 1).cast(pl.Utf8) + pl.lit(".10")))
    us = msgs.filter("unsub")
    parts.append(frame(us, "unsubscribed", pl.col("final_at") + pl.col("unsub_delay")))
    cp = msgs.filter("complaint")
    parts.append(frame(cp, "complained", pl.col("final_at") + pl.col("complaint_delay")))
    out = pl.concat(parts, how="diagonal_relaxed")
    for name, dtype in (("smtp_code", pl.Int16), ("enhanced_status", pl.Utf8), ("diagnostic", pl.Utf8), ("bounce_class", pl.Utf8),
                        ("bounce_reason", pl.Utf8), ("url", pl.Utf8), ("user_agent", pl.Utf8), ("client_ip", pl.Utf8)):
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return out
