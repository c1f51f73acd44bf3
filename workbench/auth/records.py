"""Records to publish: the full set a sending subdomain needs, and a DKIM rotation plan.

:func:`records_for` renders a zone-file snippet (absolute names, TXT strings cut at 255
bytes): SPF with our IPs and relays, a DKIM key per selector, DMARC with reporting
addresses, an MX for bounces, MTA-STS and TLS-RPT, and the PTRs to ask the IPs' owners for.
:func:`rotation_plan` lists the dated steps of a DKIM key rotation. Both are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from workbench.auth.audit import DomainSpec
from workbench.auth.dkim_keys import PublicKeyInfo, txt_strings
from workbench.auth.dmarc import organizational_domain
from workbench.auth.rdns import reverse_name
from workbench.auth.spf.lint import split_strings, suggest_record

__all__ = ["RotationStep", "records_for", "rotation_plan"]

TTL = 3600


def _line(name: str, rdtype: str, value: str, width: int = 48) -> str:
    return f"{name + '.':<{width}} {TTL} IN {rdtype} {value}"


def _txt(strings: list[str]) -> str:
    return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)


def records_for(spec: DomainSpec, *, includes: tuple[str, ...] = (), mx: str | None = None, rua: str | None = None,
                policy_id: str | None = None, today: date | None = None) -> str:
    """The zone-file snippet for ``spec`` (see the module docstring)."""
    domain = spec.domain.lower().rstrip(".")
    envelope = spec.envelope
    org = organizational_domain(domain)
    rua = rua or f"dmarc-reports@{org}"
    mx = (mx or f"mx1.{org}").rstrip(".")
    today = today or date.today()
    policy_id = policy_id or today.strftime("%Y%m%dT000000")
    ips = sorted({ip for ip, _ in spec.ips}, key=lambda i: (":" in i, i))
    spf = suggest_record(ips, list(includes), "-")
    lines = [f"; Records for {domain} — generated {today:%Y-%m-%d} by `workbench dns records`",
             "$ORIGIN .", f"$TTL {TTL}", "; SPF: our sending IPs and relays (the envelope / return-path domain)",
             _line(envelope, "TXT", _txt(split_strings(spf)))]
    if not ips and not includes:
        lines.append("; (no sending IP known for this domain: add --include for the ESP that sends for it)")
    lines.append("; DKIM: one key per selector we sign with")
    for selector in spec.selectors:
        key: PublicKeyInfo | None = spec.keys.get(selector)
        name = f"{selector}._domainkey.{domain}"
        if key is None:
            lines.append(f"; {name}: no key of ours; publish the record (or CNAME) your ESP gives, or run "
                         f"`workbench dkim keygen {domain} --selector {selector}`")
        else:
            lines.append(_line(name, "TXT", _txt(txt_strings(key.txt_record()))))
    if not spec.selectors:
        lines.append(f"; no selector yet: `workbench dkim keygen {domain} --selector s{today:%Y%m}`")
    lines += ["; DMARC: start at p=none while aggregate reports come in, then quarantine, then reject",
              _line(f"_dmarc.{domain}", "TXT", _txt([f"v=DMARC1; p=quarantine; rua=mailto:{rua}; adkim=r; aspf=r"])),
              "; MX: where bounces to the return-path go",
              _line(envelope, "MX", f"10 {mx}."),
              "; MTA-STS and TLS-RPT: serve https://mta-sts.<domain>/.well-known/mta-sts.txt with",
              f";   version: STSv1 / mode: testing / mx: {mx} / max_age: 604800  (then mode: enforce)",
              _line(f"_mta-sts.{domain}", "TXT", _txt([f"v=STSv1; id={policy_id}"])),
              _line(f"_smtp._tls.{domain}", "TXT", _txt([f"v=TLSRPTv1; rua=mailto:tls-reports@{org}"]))]
    if spec.ips:
        lines.append("; reverse DNS: ask each IP's owner for the PTR; its name must resolve back to the IP")
        for ip, helo in spec.ips:
            host = helo or f"mail.{domain}"
            lines.append(f"; {reverse_name(ip).to_text()} IN PTR {host}.   and   {host}. IN {'AAAA' if ':' in ip else 'A'} {ip}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RotationStep:
    """One step of a key rotation: when, what, and the record or command."""

    day: date
    action: str
    record: str = ""


def next_selector(current: str, today: date) -> str:
    """A new selector in the same style: ``bm2026`` → ``bm202611`` (letters, then year-month)."""
    prefix = re.sub(r"[0-9]+$", "", current) or "s"
    return f"{prefix}{today:%Y%m}"


def rotation_plan(domain: str, old: PublicKeyInfo | None, *, new_selector: str | None = None, today: date | None = None,
                  overlap_days: int = 7) -> list[RotationStep]:
    """The steps of rotating ``domain``'s DKIM key away from ``old`` (``None``: first key)."""
    today = today or date.today()
    new = new_selector or next_selector(old.selector if old else "s", today)
    name = f"{new}._domainkey.{domain}"
    steps = [
        RotationStep(today, f"generate the new key ({new}) and publish its record",
                     f"workbench dkim keygen {domain} --selector {new}   # prints the TXT record for {name}"),
        RotationStep(today + timedelta(days=2), f"check the new record is served (TTL elapsed), then sign with {new}",
                     f"workbench audit {domain}   # dkim.ok for {name}"),
    ]
    if old is not None:
        old_name = f"{old.selector}._domainkey.{domain}"
        steps += [
            RotationStep(today + timedelta(days=2 + overlap_days),
                         f"revoke {old.selector}: mail signed with it has been delivered by now",
                         f'{old_name}. {TTL} IN TXT "v=DKIM1; k={old.algorithm}; p="'),
            RotationStep(today + timedelta(days=2 + overlap_days + 30), f"remove {old_name} and delete its private key",
                         f"rm data/keys/{domain}/{old.selector}.pem"),
        ]
    return steps
