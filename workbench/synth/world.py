"""The synthetic company: its domains, IPs, pools, lists, contacts and campaign calendar.

Brightmart (``brightmart.example``, a reserved name that never resolves publicly) sends a
newsletter from ``news.`` over two dedicated IPs (the second warmed up from day 45, and the
one whose complaints climb), promotions and lifecycle mail from ``contact.`` over
SendGrid's shared pool, transactional mail from ``tx.`` through its own Postfix, and product
alerts from ``notify.`` through Amazon SES. Everything is drawn from one seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

ROOT = "brightmart.example"


@dataclass(frozen=True)
class Ip:
    ip: str
    pool: str
    hostname: str
    aliases: tuple[str, ...]
    warmup_start_day: int | None = None


@dataclass(frozen=True)
class Stream:
    """A sending stream: a subdomain, its MTA / ESP, its pool and its lists."""

    name: str
    domain: str
    purpose: str
    kind: str  # marketing | transactional
    pool: str
    mta: str  # pmta+kumomta | sendgrid | postfix | ses


@dataclass(frozen=True)
class World:
    """The fixed facts of the synthetic company."""

    root: str = ROOT
    ips: tuple[Ip, ...] = (
        Ip("192.0.2.10", "dedicated", f"mta1.{ROOT}", ("news-1", "postfix-tx")),
        Ip("192.0.2.11", "dedicated", f"mta2.{ROOT}", ("news-2",), warmup_start_day=45),
        Ip("198.51.100.20", "shared-sendgrid", "o1.ptr1234.sendgrid.example", ()),
        Ip("198.51.100.21", "shared-sendgrid", "o2.ptr1234.sendgrid.example", ()),
        Ip("198.51.100.22", "shared-sendgrid", "o3.ptr1234.sendgrid.example", ()),
        Ip("203.0.113.40", "shared-ses", "a8-40.smtp-out.amazonses.example", ()),
        Ip("203.0.113.41", "shared-ses", "a8-41.smtp-out.amazonses.example", ()),
    )
    pools: tuple[tuple[str, str, str], ...] = (
        ("dedicated", "dedicated", "Brightmart's own IPs (PowerMTA, then KumoMTA; Postfix for transactional)"),
        ("shared-sendgrid", "shared", "SendGrid's shared pool"),
        ("shared-ses", "shared", "Amazon SES shared pool"),
    )
    streams: tuple[Stream, ...] = (
        Stream("newsletter", f"news.{ROOT}", "weekly newsletter", "marketing", "dedicated", "pmta+kumomta"),
        Stream("promotions", f"contact.{ROOT}", "promotions and lifecycle", "marketing", "shared-sendgrid", "sendgrid"),
        Stream("transactional", f"tx.{ROOT}", "orders, accounts, password resets", "transactional", "dedicated", "postfix"),
        Stream("alerts", f"notify.{ROOT}", "product alerts and back-in-stock", "transactional", "shared-ses", "ses"),
    )
    #: the IP whose complaints climb (and gets deferred by Gmail) in the last weeks
    bad_ip: str = "192.0.2.11"
    #: the day the newsletter moved from PowerMTA to KumoMTA
    kumo_from_day: int = 45

    def stream(self, name: str) -> Stream:
        return next(s for s in self.streams if s.name == name)


# -- recipients --------------------------------------------------------------------------

#: recipient domain, provider, share of the base, MPP (Apple Mail proxy) share, scanner share
DOMAINS: list[tuple[str, str, float, float, float]] = [
    ("gmail.com", "gmail", 0.36, 0.12, 0.0),
    ("googlemail.com", "gmail", 0.01, 0.12, 0.0),
    ("outlook.com", "microsoft", 0.06, 0.10, 0.01),
    ("hotmail.com", "microsoft", 0.05, 0.10, 0.01),
    ("hotmail.fr", "microsoft", 0.02, 0.10, 0.01),
    ("live.com", "microsoft", 0.015, 0.10, 0.01),
    ("yahoo.com", "yahoo", 0.055, 0.15, 0.0),
    ("yahoo.fr", "yahoo", 0.02, 0.15, 0.0),
    ("aol.com", "yahoo", 0.015, 0.15, 0.0),
    ("icloud.com", "apple", 0.07, 0.92, 0.0),
    ("me.com", "apple", 0.015, 0.92, 0.0),
    ("orange.fr", "orange", 0.045, 0.2, 0.0),
    ("free.fr", "free", 0.025, 0.2, 0.0),
    ("sfr.fr", "sfr", 0.01, 0.2, 0.0),
    ("laposte.net", "laposte", 0.01, 0.2, 0.0),
    ("gmx.de", "gmx", 0.02, 0.1, 0.0),
    ("web.de", "webde", 0.015, 0.1, 0.0),
    ("comcast.net", "comcast", 0.01, 0.2, 0.0),
    # companies hosted at Google Workspace / Microsoft 365 (provider learned from the MX)
    ("northwind.example", "gmail", 0.03, 0.05, 0.0),
    ("contoso.example", "microsoft", 0.04, 0.05, 0.3),
    ("fabrikam.example", "microsoft", 0.03, 0.05, 0.3),
    ("initech.example", "other", 0.02, 0.05, 0.1),
]

MX_OF = {
    "gmail": "gmail-smtp-in.l.google.com",
    "microsoft": "outlook-com.olc.protection.outlook.com",
    "yahoo": "mta5.am0.yahoodns.net",
    "apple": "mx01.mail.icloud.com",
    "orange": "smtp-in.orange.fr",
    "free": "mx1.free.fr",
    "sfr": "mx1.sfr.fr",
    "laposte": "smtp-in.laposte.net",
    "gmx": "mx00.gmx.net",
    "webde": "mx-ha02.web.de",
    "comcast": "mx1a1.comcast.net",
    "other": "mail.initech.example",
}
MX_BY_DOMAIN = {
    "northwind.example": "aspmx.l.google.com",
    "contoso.example": "contoso-example.mail.protection.outlook.com",
    "fabrikam.example": "fabrikam-example.mail.protection.outlook.com",
}
MX_IP = {
    "gmail": "142.250.27.26", "microsoft": "52.101.68.10", "yahoo": "67.195.204.72", "apple": "17.57.154.33",
    "orange": "80.12.242.11", "free": "212.27.48.6", "sfr": "93.17.128.4", "laposte": "160.92.124.66",
    "gmx": "212.227.15.9", "webde": "212.227.17.1", "comcast": "96.114.157.80", "other": "198.18.0.25",
}

GEO: list[tuple[str, str, str, str, float]] = [
    # country, region, city, language, share
    ("FR", "Île-de-France", "Paris", "fr", 0.16),
    ("FR", "Île-de-France", "Boulogne-Billancourt", "fr", 0.03),
    ("FR", "Auvergne-Rhône-Alpes", "Lyon", "fr", 0.07),
    ("FR", "Provence-Alpes-Côte d'Azur", "Marseille", "fr", 0.05),
    ("FR", "Occitanie", "Toulouse", "fr", 0.04),
    ("FR", "Nouvelle-Aquitaine", "Bordeaux", "fr", 0.04),
    ("FR", "Hauts-de-France", "Lille", "fr", 0.03),
    ("FR", "Grand Est", "Strasbourg", "fr", 0.03),
    ("FR", "Pays de la Loire", "Nantes", "fr", 0.03),
    ("DE", "Berlin", "Berlin", "de", 0.06),
    ("DE", "Bavaria", "Munich", "de", 0.04),
    ("DE", "Hamburg", "Hamburg", "de", 0.03),
    ("GB", "England", "London", "en", 0.07),
    ("GB", "England", "Manchester", "en", 0.03),
    ("US", "New York", "New York", "en", 0.06),
    ("US", "California", "San Francisco", "en", 0.04),
    ("US", "Illinois", "Chicago", "en", 0.03),
    ("ES", "Madrid", "Madrid", "es", 0.04),
    ("ES", "Catalonia", "Barcelona", "es", 0.03),
    ("IT", "Lombardy", "Milan", "it", 0.03),
    ("IT", "Lazio", "Rome", "it", 0.02),
    ("BE", "Brussels", "Brussels", "fr", 0.02),
    ("CH", "Geneva", "Geneva", "fr", 0.02),
]

FIRST = ["alice", "bruno", "camille", "david", "emma", "felix", "gabriel", "hugo", "ines", "jules", "karim",
         "lea", "louis", "manon", "nina", "oscar", "paul", "quentin", "rose", "sarah", "thomas", "ugo",
         "victor", "william", "yasmine", "zoe", "anna", "ben", "clara", "dan", "eva", "finn", "greta",
         "hans", "ida", "jan", "kate", "liam", "mia", "noah", "olivia", "pia", "sofia", "tom", "lucas"]
LAST = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
        "simon", "laurent", "lefebvre", "michel", "garcia", "muller", "schmidt", "schneider", "fischer",
        "weber", "smith", "jones", "taylor", "brown", "wilson", "rossi", "russo", "ferrari", "lopez",
        "gonzalez", "fernandez", "perez", "johnson", "miller", "davis", "meyer", "wagner", "becker"]
SOURCES = ["website", "checkout", "mobile-app", "in-store", "partner", "contest"]
LISTS = ("newsletter", "promotions", "alerts")


@dataclass
class Calendar:
    """Campaigns (marketing sends and transactional templates) over the window."""

    start: datetime
    days: int
    campaigns: pl.DataFrame = field(default_factory=pl.DataFrame)


def window(end: date, days: int) -> datetime:
    """Midnight UTC of the first day of a ``days``-long window ending with ``end``."""
    return datetime.combine(end - timedelta(days=days - 1), datetime.min.time())


def make_contacts(rng: np.random.Generator, n: int, start: datetime, days: int) -> pl.DataFrame:
    """``n`` contacts with attributes, lists, address validity and engagement propensities.

    Planted effect (for segmentation experiments): contacts aged 25–34 in Île-de-France click
    the newsletter 1.8 times as often as others with the same propensity.
    """
    doms = np.array([d[0] for d in DOMAINS])
    weights = np.array([d[2] for d in DOMAINS])
    didx = rng.choice(len(DOMAINS), size=n, p=weights / weights.sum())
    gidx = rng.choice(len(GEO), size=n, p=np.array([g[4] for g in GEO]) / sum(g[4] for g in GEO))
    ids = np.arange(1, n + 1)
    first = np.array(FIRST)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST)[rng.integers(0, len(LAST), n)]
    style = rng.integers(0, 3, n)
    # signups: 88 % before the window (up to 3 years), 12 % during it
    before = rng.random(n) < 0.88
    offset_days = np.where(before, -rng.integers(1, 3 * 365, n), rng.integers(0, days, n))
    signup = (np.datetime64(start, "s") + (offset_days * 86400 + rng.integers(0, 86400, n)).astype("timedelta64[s]")).astype("datetime64[us]")
    age = np.clip(np.round(rng.gamma(6.0, 6.5, n) + 14), 18, 90).astype(np.int16)
    # address quality: typos among recent signups, abandoned mailboxes among old ones
    recent = offset_days > -30
    invalid = np.where(recent, rng.random(n) < 0.03, rng.random(n) < 0.006)
    full_box = rng.random(n) < 0.004
    engaged = rng.beta(1.4, 3.0, n)  # propensity to open
    clicky = rng.beta(1.2, 9.0, n)   # propensity to click once opened
    complainer = rng.random(n) < 0.004
    geo = GEO
    frame = pl.DataFrame(
        {
            "contact_id": pl.Series("contact_id", ids).cast(pl.Utf8).str.zfill(7),
            "first_name": first,
            "last_name": last,
            "style": style,
            "n": ids,
            "domain": doms[didx],
            "provider": np.array([d[1] for d in DOMAINS])[didx],
            "mpp_share": np.array([d[3] for d in DOMAINS])[didx],
            "scanner_share": np.array([d[4] for d in DOMAINS])[didx],
            "country": np.array([g[0] for g in geo])[gidx],
            "region": np.array([g[1] for g in geo])[gidx],
            "city": np.array([g[2] for g in geo])[gidx],
            "language": np.array([g[3] for g in geo])[gidx],
            "age": age,
            "signup_at": signup,
            "signup_source": np.array(SOURCES)[rng.choice(len(SOURCES), n, p=[0.45, 0.25, 0.15, 0.07, 0.05, 0.03])],
            "invalid": invalid,
            "mailbox_full": full_box,
            "open_p": engaged,
            "click_p": clicky,
            "complainer": complainer,
            "mpp_draw": rng.random(n),
            "on_newsletter": rng.random(n) < 0.82,
            "on_promotions": rng.random(n) < 0.62,
            "on_alerts": rng.random(n) < 0.35,
        }
    )
    frame = frame.with_columns(
        contact_id=pl.concat_str([pl.lit("C"), pl.col("contact_id")]),
        is_mpp=pl.col("mpp_draw") < pl.col("mpp_share"),
        email=pl.concat_str(
            [
                pl.col("first_name"),
                pl.when(pl.col("style") == 0).then(pl.lit(".")).when(pl.col("style") == 1).then(pl.lit("_")).otherwise(pl.lit("")),
                pl.col("last_name"),
                pl.col("n").cast(pl.Utf8),
                pl.lit("@"),
                pl.col("domain"),
            ]
        ),
        planted=(pl.col("age").is_between(25, 34) & (pl.col("region") == "Île-de-France")),
    ).drop("style", "n", "mpp_share", "mpp_draw")
    return frame


def make_calendar(rng: np.random.Generator, world: World, start: datetime, days: int) -> pl.DataFrame:
    """Campaigns over the window: two newsletters a week (Tue, Fri 09:00), three promotions
    (Mon, Wed, Sat 10:00), and one campaign id per transactional template and day."""
    rows: list[tuple[str, str, str, str, datetime, int, str | None]] = []
    subjects_news = ["This week at Brightmart", "New arrivals you'll love", "Our editors' picks", "The weekend edition"]
    subjects_promo = ["-20% on everything today", "Your cart misses you", "Flash sale: 48 hours", "Members-only prices"]
    for d in range(days):
        day = start + timedelta(days=d)
        weekday = day.weekday()
        if weekday in (1, 4):
            rows.append((f"news-{day:%Y%m%d}", "newsletter", f"Newsletter {day:%d %b}", subjects_news[d % 4], day + timedelta(hours=9), d, "newsletter"))
        if weekday in (0, 2, 5):
            rows.append((f"promo-{day:%Y%m%d}", "promotions", f"Promotion {day:%d %b}", subjects_promo[d % 4], day + timedelta(hours=10), d, "promotions"))
        for template in ("order-confirmation", "password-reset", "welcome"):
            rows.append((f"tx-{template}-{day:%Y%m%d}", "transactional", template.replace("-", " ").title(), template.replace("-", " ").capitalize(), day, d, None))
        rows.append((f"alert-{day:%Y%m%d}", "alerts", f"Alerts {day:%d %b}", "Back in stock", day, d, "alerts"))
    frame = pl.DataFrame(
        rows,
        schema={"campaign_id": pl.Utf8, "stream": pl.Utf8, "name": pl.Utf8, "subject": pl.Utf8, "scheduled_at": pl.Datetime("us"), "day": pl.Int32, "list": pl.Utf8},
        orient="row",
    )
    domains = {s.name: s.domain for s in world.streams}
    pools = {s.name: s.pool for s in world.streams}
    return frame.with_columns(
        sending_domain=pl.col("stream").replace_strict(domains),
        ip_pool=pl.col("stream").replace_strict(pools),
    )
