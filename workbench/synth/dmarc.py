"""DMARC aggregate reports and SMTP TLS reports from the big receivers, drawn from the sends.

Google, Microsoft (Outlook.com) and Yahoo each send one aggregate report a day for
``brightmart.example`` (p=none), counting the messages they received that day per source
IP and header_from domain — the same messages as the send logs. What they show:

- our own streams pass: the newsletter and transactional mail with aligned SPF and DKIM,
  SendGrid and SES mail through DKIM only (their return path is the ESP's);
- SES mail loses its DKIM signature for three days (a key rotation gone wrong): own mail
  failing DMARC, what makes the domain "not ready" for p=reject;
- a share of mail arrives through forwarders (SPF fails, DKIM survives; Microsoft marks
  some ``forwarded``);
- a spoofing source sends as ``brightmart.example`` and ``news.`` on some days, failing both.

Google's reports come as mails with a zip attachment (``.eml``), Microsoft's as ``.xml.gz``,
Yahoo's as ``.zip``; Google also sends a daily TLS report (JSON) for our MX with certificate
failures for two days. Same seed, same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import polars as pl

from workbench.synth.world import ROOT, World

REPORTERS = {
    "gmail": ("google.com", "noreply-dmarc-support@google.com", "eml"),
    "microsoft": ("Outlook.com", "dmarcreport@microsoft.com", "gz"),
    "yahoo": ("Yahoo", "dmarchelp@yahooinc.com", "zip"),
}
FORWARDER_IPS = ("198.18.7.25", "198.18.9.14")
SPOOF_IPS = ("203.0.113.66", "198.51.100.199")
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def _records(day_msgs: pl.DataFrame, world: World, day: int, provider: str, rng: np.random.Generator) -> list[dict[str, object]]:
    """The records of one receiver's report for one day (dicts of the XML fields)."""
    esp_return = {"shared-sendgrid": "sendgrid.example", "shared-ses": "amazonses.example"}
    out: list[dict[str, object]] = []
    for row in day_msgs.iter_rows(named=True):
        domain, ip, pool, n = row["sending_domain"], row["sending_ip"], row["ip_pool"], int(row["n"])
        forwarded = int(rng.binomial(n, 0.01)) if n > 20 else 0
        n -= forwarded
        dkim_ok = not (pool == "shared-ses" and 60 <= day < 63)
        selector = "s1" if pool.startswith("shared") else "bm2026"
        spf_domain = esp_return.get(pool, domain)
        out.append({"ip": ip, "count": n, "dkim_aligned": dkim_ok, "spf_aligned": spf_domain == domain, "header_from": domain,
                    "envelope_from": spf_domain, "dkim": [(domain, selector, "pass" if dkim_ok else "fail")],
                    "spf": [(spf_domain, "pass")], "reason": None})
        if forwarded:
            out.append({"ip": FORWARDER_IPS[day % 2], "count": forwarded, "dkim_aligned": dkim_ok, "spf_aligned": False,
                        "header_from": domain, "envelope_from": domain, "dkim": [(domain, selector, "pass" if dkim_ok else "fail")],
                        "spf": [(domain, "softfail")], "reason": "forwarded" if provider == "microsoft" else None})
    if day % 4 == 1:  # the spoofer, every fourth day, a few per cent of the day's volume
        volume = int(day_msgs["n"].sum())
        for k, ip in enumerate(SPOOF_IPS):
            out.append({"ip": ip, "count": max(3, int(volume * rng.uniform(0.01, 0.04))), "dkim_aligned": False, "spf_aligned": False,
                        "header_from": world.root if k == 0 else f"news.{ROOT}", "envelope_from": "mailer.spoof.example",
                        "dkim": [], "spf": [("mailer.spoof.example", "pass")], "reason": None})
    return out


def _xml(org: str, email: str, report_id: str, begin: datetime, records: list[dict[str, object]]) -> bytes:
    end = begin + timedelta(days=1) - timedelta(seconds=1)
    parts = [
        '<?xml version="1.0" encoding="UTF-8" ?>\n<feedback>\n  <version>1.0</version>\n  <report_metadata>\n',
        f"    <org_name>{escape(org)}</org_name>\n    <email>{email}</email>\n    <report_id>{report_id}</report_id>\n",
        f"    <date_range>\n      <begin>{int(begin.replace(tzinfo=UTC).timestamp())}</begin>\n",
        f"      <end>{int(end.replace(tzinfo=UTC).timestamp())}</end>\n    </date_range>\n  </report_metadata>\n",
        f"  <policy_published>\n    <domain>{ROOT}</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>none</p>\n"
        "    <sp>none</sp>\n    <pct>100</pct>\n    <fo>1</fo>\n  </policy_published>\n",
    ]
    for r in records:
        passed = "pass" if r["dkim_aligned"] else "fail"
        spf = "pass" if r["spf_aligned"] else "fail"
        reason = f"        <reason>\n          <type>{r['reason']}</type>\n        </reason>\n" if r["reason"] else ""
        dkim = "".join(f"      <dkim>\n        <domain>{d}</domain>\n        <selector>{s}</selector>\n        <result>{res}</result>\n      </dkim>\n"
                       for d, s, res in r["dkim"])  # type: ignore[attr-defined]
        spfs = "".join(f"      <spf>\n        <domain>{d}</domain>\n        <scope>mfrom</scope>\n        <result>{res}</result>\n      </spf>\n"
                       for d, res in r["spf"])  # type: ignore[attr-defined]
        parts.append(
            f"  <record>\n    <row>\n      <source_ip>{r['ip']}</source_ip>\n      <count>{r['count']}</count>\n"
            f"      <policy_evaluated>\n        <disposition>none</disposition>\n        <dkim>{passed}</dkim>\n        <spf>{spf}</spf>\n"
            f"{reason}      </policy_evaluated>\n    </row>\n    <identifiers>\n      <envelope_from>{r['envelope_from']}</envelope_from>\n"
            f"      <header_from>{r['header_from']}</header_from>\n    </identifiers>\n    <auth_results>\n{dkim}{spfs}    </auth_results>\n  </record>\n"
        )
    parts.append("</feedback>\n")
    return "".join(parts).encode()


def _zip(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(name, ZIP_DATE), data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _eml(org: str, email: str, name: str, payload: bytes, when: datetime, report_id: str) -> bytes:
    import base64

    body = base64.encodebytes(payload).decode()
    return (
        f"From: {email}\r\nTo: dmarc-rua@{ROOT}\r\nDate: {when:%a, %d %b %Y %H:%M:%S} +0000\r\n"
        f"Subject: Report domain: {ROOT} Submitter: {org} Report-ID: {report_id}\r\n"
        f"Message-ID: <{report_id}@{org}>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="=-report-boundary"\r\n\r\n'
        f"--=-report-boundary\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThis is an aggregate report from {org}.\r\n\r\n"
        f'--=-report-boundary\r\nContent-Type: application/zip; name="{name}.zip"\r\n'
        f'Content-Disposition: attachment; filename="{name}.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{body.replace(chr(10), chr(13) + chr(10))}\r\n--=-report-boundary--\r\n"
    ).encode()


def _tlsrpt(begin: datetime, day: int, sessions: int) -> bytes:
    failing = 37 <= day < 39
    failed = max(1, sessions // 9) if failing else 0
    policy = {"policy": {"policy-type": "sts", "policy-domain": ROOT, "mx-host": [f"mx1.{ROOT}"],
                         "policy-string": ["version: STSv1", "mode: enforce", f"mx: mx1.{ROOT}", "max_age: 604800"]},
              "summary": {"total-successful-session-count": sessions - failed, "total-failure-session-count": failed}}
    if failed:
        policy["failure-details"] = [{"result-type": "certificate-expired", "sending-mta-ip": "209.85.220.41",
                                      "receiving-mx-hostname": f"mx1.{ROOT}", "receiving-ip": "192.0.2.25", "failed-session-count": failed}]
    doc = {"organization-name": "Google Inc.", "contact-info": "smtp-tls-reporting@google.com",
           "report-id": f"{begin:%Y-%m-%dT%H:%M:%SZ}_{ROOT}",
           "date-range": {"start-datetime": f"{begin:%Y-%m-%dT00:00:00Z}", "end-datetime": f"{begin:%Y-%m-%dT23:59:59Z}"},
           "policies": [policy]}
    return json.dumps(doc, indent=2).encode()


def write_reports(out: Path, world: World, msgs: pl.DataFrame, start: datetime, days: int, seed: int) -> dict[str, int]:
    """Write the aggregate and TLS reports under ``out`` (``<raw>/dmarc``); files per kind."""
    rng = np.random.default_rng(seed + 4)
    counts = {"dmarc_eml": 0, "dmarc_gz": 0, "dmarc_zip": 0, "tlsrpt": 0}
    grouped = (
        msgs.filter(pl.col("provider").is_in(list(REPORTERS)))
        .group_by("day", "provider", "sending_ip", "sending_domain", "ip_pool")
        .agg(pl.len().alias("n"))
        .sort("day", "provider", "sending_domain", "sending_ip")
    )
    for (day, provider), part in grouped.partition_by(["day", "provider"], as_dict=True, maintain_order=True).items():
        day, provider = int(day), str(provider)  # type: ignore[call-overload]
        org, email, kind = REPORTERS[provider]
        begin = start + timedelta(days=day)
        report_id = f"{provider[:2]}{seed:04d}{day:03d}{int(rng.integers(10**8, 10**9))}"
        xml = _xml(org, email, report_id, begin, _records(part, world, day, provider, rng))
        end = int((begin + timedelta(days=1)).replace(tzinfo=UTC).timestamp()) - 1
        name = f"{org.lower()}!{ROOT}!{int(begin.replace(tzinfo=UTC).timestamp())}!{end}"
        folder = out / provider
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "eml":
            when = begin + timedelta(days=1, hours=3)
            (folder / f"{name}.eml").write_bytes(_eml(org, email, f"{name}.xml", _zip(f"{name}.xml", xml), when, report_id))
            counts["dmarc_eml"] += 1
            sessions = int(part["n"].sum())
            (out / "tlsrpt").mkdir(parents=True, exist_ok=True)
            (out / "tlsrpt" / f"google.com!{ROOT}!{begin:%Y%m%d}.json").write_bytes(_tlsrpt(begin, day, max(1, sessions // 50)))
            counts["tlsrpt"] += 1
        elif kind == "gz":
            (folder / f"{name}.xml.gz").write_bytes(gzip.compress(xml, compresslevel=6, mtime=0))
            counts["dmarc_gz"] += 1
        else:
            (folder / f"{name}.zip").write_bytes(_zip(f"{name}.xml", xml))
            counts["dmarc_zip"] += 1
    return counts
