"""The sending infrastructure as data: a ``kind: workbench/infrastructure`` YAML file.

It declares IP pools (dedicated or shared), IPs with the names MTAs log them by, sending
domains and subdomains with their purpose, and the campaign catalogue. Loading it upserts
those tables (a changed file updates them), and fills in the sending IP and pool of events
already loaded from logs that named only an MTA alias.

Example::

    kind: workbench/infrastructure
    version: 1
    pools: [{name: dedicated, kind: dedicated}]
    ips: [{ip: 192.0.2.10, pool: dedicated, hostname: mta1.example.com, aliases: [news-1]}]
    domains: [{domain: news.example.com, parent: example.com, purpose: newsletter}]
    campaigns: [{campaign_id: news-20261124, name: Newsletter, stream: newsletter}]
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from workbench.errors import ParseError
from workbench.sources.reader import read_document

NAME = "infrastructure"
DESCRIPTION = "sending infrastructure YAML (kind: workbench/infrastructure): pools, IPs, domains, campaigns"
MAX_BYTES = 64 << 20


def sniff(head: bytes, path: Path) -> bool:
    text = head.decode("utf-8", "replace")
    return "kind: workbench/infrastructure" in text[:4096]


def parse(data: bytes, source: str) -> dict[str, pl.DataFrame]:
    """Tables from the YAML document (pure).

    Raises
    ------
    ParseError
        Not valid YAML, not the right kind, or an entry without its key field.
    """
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise ParseError(source, where, f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "workbench/infrastructure":
        raise ParseError(source, None, "not a workbench/infrastructure document (kind: workbench/infrastructure)")

    def rows(section: str, key: str) -> list[dict[str, Any]]:
        items = doc.get(section) or []
        if not isinstance(items, list):
            raise ParseError(source, section, f"{section} must be a list")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not item.get(key):
                raise ParseError(source, f"{section}[{i}]", f"each entry of {section} needs a {key!r}")
        return items

    def day(value: Any) -> date | None:
        if value is None or isinstance(value, date):
            return value
        return date.fromisoformat(str(value))

    def stamp(value: Any) -> datetime | None:
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)

    pools = pl.DataFrame(
        [{"pool": p["name"], "kind": p.get("kind", "dedicated"), "description": p.get("description")} for p in rows("pools", "name")],
        schema={"pool": pl.Utf8, "kind": pl.Utf8, "description": pl.Utf8},
    )
    bad = pools.filter(~pl.col("kind").is_in(["dedicated", "shared"]))
    if len(bad):
        raise ParseError(source, "pools", f"pool kind must be dedicated or shared, not {bad['kind'][0]!r}")
    ip_rows = rows("ips", "ip")
    ips = pl.DataFrame(
        [{"ip": str(i["ip"]), "pool": i.get("pool"), "hostname": i.get("hostname"), "warmup_start": day(i.get("warmup_start")),
          "description": i.get("description")} for i in ip_rows],
        schema={"ip": pl.Utf8, "pool": pl.Utf8, "hostname": pl.Utf8, "warmup_start": pl.Date, "description": pl.Utf8},
    )
    aliases = pl.DataFrame(
        [{"name": a, "ip": str(i["ip"])} for i in ip_rows for a in (i.get("aliases") or [])],
        schema={"name": pl.Utf8, "ip": pl.Utf8},
    )
    domains = pl.DataFrame(
        [{"domain": d["domain"].lower(), "parent_domain": d.get("parent"), "purpose": d.get("purpose"), "stream": d.get("stream"),
          "ip_pool": d.get("pool"), "dkim_selectors": d.get("dkim_selectors") or [], "return_path_domain": d.get("return_path")}
         for d in rows("domains", "domain")],
        schema={"domain": pl.Utf8, "parent_domain": pl.Utf8, "purpose": pl.Utf8, "stream": pl.Utf8, "ip_pool": pl.Utf8,
                "dkim_selectors": pl.List(pl.Utf8), "return_path_domain": pl.Utf8},
    )
    campaigns = pl.DataFrame(
        [{"campaign_id": c["campaign_id"], "name": c.get("name"), "stream": c.get("stream"), "sending_domain": c.get("sending_domain"),
          "ip_pool": c.get("ip_pool"), "subject": c.get("subject"), "scheduled_at": stamp(c.get("scheduled_at"))}
         for c in rows("campaigns", "campaign_id")],
        schema={"campaign_id": pl.Utf8, "name": pl.Utf8, "stream": pl.Utf8, "sending_domain": pl.Utf8, "ip_pool": pl.Utf8,
                "subject": pl.Utf8, "scheduled_at": pl.Datetime("us")},
    )
    return {"ip_pools": pools, "ips": ips, "ip_aliases": aliases, "sending_domains": domains, "campaigns": campaigns}


def load(path: Path, sink: Any, options: Any) -> None:
    tables = parse(read_document(path, limit=MAX_BYTES), str(path))
    for table, frame in tables.items():
        if len(frame):
            sink.upsert_rows(table, frame)
    sink.after_commit_sql(
        "UPDATE events SET sending_ip = a.ip FROM ip_aliases a WHERE events.sending_ip IS NULL AND events.mta_instance = a.name",
        "UPDATE events SET ip_pool = i.pool FROM ips i WHERE events.ip_pool IS NULL AND events.sending_ip = i.ip",
    )
