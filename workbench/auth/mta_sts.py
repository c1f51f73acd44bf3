"""MTA-STS (RFC 8461) and TLS-RPT (RFC 8460): records, the policy fetched over HTTPS, coverage.

Sans-I/O: :func:`check_mta_sts` yields the ``_mta-sts`` query and a :class:`WebGet` of
``https://mta-sts.<domain>/.well-known/mta-sts.txt``; :func:`check_tls_rpt` the
``_smtp._tls`` query. :func:`parse_policy` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from workbench.auth.findings import Finding, finding
from workbench.auth.sansio import Query, WebGet, WebResponse, lookup

__all__ = ["Policy", "PolicyError", "check_mta_sts", "check_tls_rpt", "mx_matches", "parse_policy"]

Gen = Generator[Query | WebGet, Any, Any]
_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
MAX_AGE_LIMIT = 31557600


class PolicyError(ValueError):
    """A policy file or record that does not parse."""


@dataclass(frozen=True)
class Policy:
    """An MTA-STS policy."""

    mode: str
    max_age: int
    mx: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def parse_policy(text: str) -> Policy:
    """Parse a policy file (``key: value`` lines).

    Raises
    ------
    PolicyError
        No ``version: STSv1``, a bad mode, a bad or missing ``max_age``, no ``mx`` in
        enforce/testing mode.
    """
    values: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PolicyError(f"line {line!r} is not key: value")
        values.setdefault(key.strip(), []).append(value.strip())
    if values.get("version") != ["STSv1"]:
        raise PolicyError("the first field must be version: STSv1")
    mode = (values.get("mode") or [""])[0]
    if mode not in ("enforce", "testing", "none"):
        raise PolicyError(f"mode: {mode!r} must be enforce, testing or none")
    try:
        max_age = int((values.get("max_age") or [""])[0])
    except ValueError as exc:
        raise PolicyError("max_age must be a number of seconds") from exc
    if not 0 <= max_age <= MAX_AGE_LIMIT:
        raise PolicyError(f"max_age {max_age} is over {MAX_AGE_LIMIT}")
    mx = tuple(m.lower().rstrip(".") for m in values.get("mx", []))
    if mode != "none" and not mx:
        raise PolicyError("no mx: lines")
    extra = {k: v[0] for k, v in values.items() if k not in ("version", "mode", "max_age", "mx")}
    return Policy(mode, max_age, mx, extra)


def mx_matches(pattern: str, host: str) -> bool:
    """Whether an MX host matches a policy ``mx:`` pattern (``*.`` covers one label)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def _record(name: str, prefix: str) -> Gen:
    status, rdatas = yield from lookup(name, "TXT")
    texts = [b"".join(rd.strings).decode("utf-8", "replace") for rd in rdatas]
    return status, [t for t in texts if t.replace(" ", "").lower().startswith(prefix.lower())]


def _tags(text: str) -> dict[str, str]:
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in text.split(";") if p.strip())}


def check_mta_sts(domain: str, mx_hosts: list[str]) -> Gen:
    """MTA-STS findings for ``domain`` whose MX hosts are ``mx_hosts``."""
    _, records = yield from _record(f"_mta-sts.{domain}", "v=STSv1")
    subject = f"_mta-sts.{domain}"
    example = (f'{subject}. IN TXT "v=STSv1; id=20260101T000000"  and  https://mta-sts.{domain}/.well-known/mta-sts.txt: '
               f"version: STSv1 / mode: testing / mx: {(mx_hosts or ['mx.' + domain])[0]} / max_age: 604800")
    if not records:
        return [finding("mta_sts.missing", domain, f"no {subject} record", subject=subject, fix=example)]
    if len(records) > 1:
        return [finding("mta_sts.syntax", domain, f"{len(records)} records at {subject}", subject=subject, fix="keep one")]
    tags = _tags(records[0])
    if tags.get("v") != "STSv1" or not _ID.match(tags.get("id", "")):
        return [finding("mta_sts.syntax", domain, f"{subject}: {records[0]!r} (needs v=STSv1; id=1-32 letters/digits)",
                        subject=subject, fix=f'{subject}. IN TXT "v=STSv1; id=20260101T000000"')]
    url = f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    response: WebResponse = yield WebGet(url)
    if not response.ok:
        why = response.error or f"HTTP {response.status}"
        return [finding("mta_sts.policy_unreachable", domain, f"{url}: {why}", subject=url,
                        fix=f"serve the policy at {url} with a certificate valid for mta-sts.{domain}")]
    if not response.content_type.lower().startswith("text/plain"):
        return [finding("mta_sts.policy_invalid", domain, f"{url} is served as {response.content_type!r}", subject=url,
                        fix="serve it as text/plain")]
    try:
        policy = parse_policy(response.body.decode("utf-8"))
    except (PolicyError, UnicodeDecodeError) as exc:
        return [finding("mta_sts.policy_invalid", domain, f"{url}: {exc}", subject=url)]
    out: list[Finding] = []
    if policy.mode != "none":
        for host in mx_hosts:
            if not any(mx_matches(p, host) for p in policy.mx):
                out.append(finding("mta_sts.mx_not_covered", domain, f"MX {host} is not in the policy's mx: {', '.join(policy.mx)}",
                                   subject=url, fix=f"add 'mx: {host}' to the policy and change the id= of {subject}"))
    if policy.mode == "testing":
        out.append(finding("mta_sts.testing", domain, f"{url}: mode: testing", subject=url,
                           fix="mode: enforce, once TLS reports are clean"))
    if policy.max_age < 86400:
        out.append(finding("mta_sts.short_max_age", domain, f"max_age: {policy.max_age}", subject=url,
                           fix="max_age: 604800 (a week) or more"))
    if not out:
        out.append(finding("mta_sts.ok", domain, f"mode: {policy.mode}, mx: {', '.join(policy.mx)}", subject=url))
    return out


def check_tls_rpt(domain: str) -> Gen:
    """TLS-RPT findings for ``domain``."""
    subject = f"_smtp._tls.{domain}"
    _, records = yield from _record(subject, "v=TLSRPTv1")
    fix = f'{subject}. IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@{domain}"'
    if not records:
        return [finding("tls_rpt.missing", domain, f"no {subject} record", subject=subject, fix=fix)]
    if len(records) > 1:
        return [finding("tls_rpt.syntax", domain, f"{len(records)} records at {subject}", subject=subject, fix=fix)]
    tags = _tags(records[0])
    uris = [u.strip() for u in tags.get("rua", "").split(",") if u.strip()]
    if tags.get("v") != "TLSRPTv1" or not uris or not all(u.startswith(("mailto:", "https://")) for u in uris):
        return [finding("tls_rpt.syntax", domain, f"{subject}: {records[0]!r}", subject=subject, fix=fix)]
    return [finding("tls_rpt.ok", domain, f"rua={','.join(uris)}", subject=subject)]
