"""Findings: what an audit found, as data with stable codes.

A :class:`Finding` names a check (``spf``, ``dkim``, ``dmarc``, ``rdns``, ``mx``, ``mta_sts``,
``tls_rpt``, ``bimi``), a stable ``code`` (``spf.too_many_lookups``), a severity (``error``:
receivers reject or junk mail; ``warning``: a risk or a missed requirement; ``info``: worth
knowing; ``ok``: the check passed), the domain audited, the record or IP concerned
(``subject``), what was seen (``detail``) and what to publish (``fix``). :data:`CODES` lists
every code with its severity and meaning; codes never change meaning once released.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["CHECKS", "CODES", "SEVERITIES", "Finding", "finding", "worst"]

SEVERITIES = ("ok", "info", "warning", "error")
CHECKS = ("spf", "dkim", "dmarc", "rdns", "mx", "mta_sts", "tls_rpt", "bimi")

#: code -> (severity, what it means)
CODES: dict[str, tuple[str, str]] = {
    "spf.ok": ("ok", "SPF published, valid, and every sending IP of ours passes"),
    "spf.missing": ("error", "no SPF record: receivers cannot authorise our IPs"),
    "spf.multiple_records": ("error", "more than one SPF record: a permerror for every message"),
    "spf.syntax": ("error", "the SPF record does not parse: a permerror for every message"),
    "spf.dns_error": ("warning", "the SPF record or a name it needs could not be resolved (temperror)"),
    "spf.too_many_lookups": ("error", "more than 10 DNS-querying terms through the include tree: a permerror"),
    "spf.too_many_void_lookups": ("error", "more than 2 lookups of names that do not exist: a permerror"),
    "spf.void_lookup": ("warning", "a term names a domain with no records (counts toward the void limit)"),
    "spf.include_missing": ("error", "an include: target has no SPF record: a permerror"),
    "spf.pass_all": ("error", "+all authorises every host on the internet"),
    "spf.neutral_all": ("warning", "?all (or no all): mail from anyone is neutral, not rejected"),
    "spf.ptr": ("warning", "ptr is deprecated (RFC 7208 §5.5): slow, and ignored by some receivers"),
    "spf.large_answer": ("warning", "the TXT answer is over 512 bytes: needs TCP or EDNS, some resolvers fail"),
    "spf.redirect_ignored": ("info", "redirect= is ignored because the record ends in all"),
    "spf.ip_not_authorized": ("error", "one of our sending IPs does not pass SPF"),
    "spf.ip_temperror": ("warning", "SPF for one of our IPs gave temperror"),
    "dkim.ok": ("ok", "the selector publishes a valid key that matches our private key"),
    "dkim.missing": ("error", "no key published for a selector we sign with"),
    "dkim.syntax": ("error", "the key record does not parse"),
    "dkim.revoked": ("error", "the key is revoked (empty p=) but the selector is still in use"),
    "dkim.key_mismatch": ("error", "the published key is not the public half of our private key"),
    "dkim.weak_key": ("error", "an RSA key under 1024 bits: receivers treat the signature as absent"),
    "dkim.short_key": ("warning", "an RSA key under 2048 bits"),
    "dkim.testing": ("warning", "t=y: receivers may treat failures as unsigned"),
    "dkim.no_private_key": ("info", "we hold no private key for this selector (an ESP signs with it?)"),
    "dkim.key_old": ("warning", "the key is older than the rotation period"),
    "dkim.dns_error": ("warning", "the key record could not be resolved"),
    "dkim.not_email": ("error", "s= excludes email"),
    "dmarc.ok": ("ok", "DMARC published at enforcement with aggregate reports"),
    "dmarc.missing": ("error", "no DMARC record at the domain or its organizational domain"),
    "dmarc.multiple_records": ("error", "more than one DMARC record: receivers ignore them all"),
    "dmarc.syntax": ("error", "the DMARC record does not parse"),
    "dmarc.policy_none": ("warning", "p=none: monitoring only, spoofed mail is delivered"),
    "dmarc.no_rua": ("warning", "no rua=: nobody receives aggregate reports"),
    "dmarc.removed_tag": ("info", "a tag removed by DMARCbis (pct, rf, ri): receivers ignore it"),
    "dmarc.pct_partial": ("warning", "pct under 100: part of the failing mail escapes the policy"),
    "dmarc.testing": ("info", "t=y: the policy is in test mode (DMARCbis)"),
    "dmarc.unknown_tag": ("info", "an unknown tag (ignored by receivers)"),
    "dmarc.external_unauthorized": ("error", "a report destination outside our domain has not authorised us (RFC 7489 §7.1)"),
    "dmarc.bad_uri": ("error", "a report URI is not a mailto: address"),
    "dmarc.inherited": ("info", "no record at the domain: the organizational domain's policy applies"),
    "dmarc.subdomain_weaker": ("warning", "sp= (or np=) is weaker than p="),
    "dmarc.spf_not_aligned": ("warning", "the envelope (return-path) domain is not aligned with the From domain"),
    "dmarc.dkim_not_aligned": ("warning", "the DKIM signing domain is not aligned with the From domain"),
    "dmarc.dns_error": ("warning", "the DMARC record could not be resolved"),
    "rdns.ok": ("ok", "the IP has one PTR that resolves back to it and matches the HELO name"),
    "rdns.missing_ptr": ("error", "no PTR record for a sending IP"),
    "rdns.not_forward_confirmed": ("error", "the PTR name does not resolve back to the IP (no FCrDNS)"),
    "rdns.multiple_ptr": ("warning", "several PTR records: receivers may check any one"),
    "rdns.helo_mismatch": ("warning", "the HELO name is not the IP's PTR name"),
    "rdns.generic_ptr": ("warning", "the PTR name looks generic (an access network)"),
    "rdns.dns_error": ("warning", "the PTR could not be resolved"),
    "mx.ok": ("ok", "MX hosts publish addresses"),
    "mx.missing": ("warning", "no MX: bounces and replies to this domain have nowhere to go"),
    "mx.null": ("warning", "a null MX (RFC 7505): this domain receives no mail (bounces are lost)"),
    "mx.no_address": ("error", "an MX host has no A/AAAA record"),
    "mx.cname": ("warning", "an MX host is a CNAME (RFC 2181 §10.3)"),
    "mx.dns_error": ("warning", "the MX could not be resolved"),
    "mta_sts.ok": ("ok", "MTA-STS record and policy valid, policy covers the MX hosts"),
    "mta_sts.missing": ("info", "no MTA-STS: mail to this domain can be downgraded to plaintext"),
    "mta_sts.syntax": ("error", "the _mta-sts record does not parse"),
    "mta_sts.policy_unreachable": ("error", "the policy could not be fetched over HTTPS"),
    "mta_sts.policy_invalid": ("error", "the policy file does not parse"),
    "mta_sts.mx_not_covered": ("error", "an MX host is not matched by the policy's mx: lines"),
    "mta_sts.testing": ("info", "mode: testing: failures are reported, not enforced"),
    "mta_sts.short_max_age": ("warning", "max_age under a day"),
    "tls_rpt.ok": ("ok", "TLS-RPT record valid"),
    "tls_rpt.missing": ("info", "no TLS-RPT: TLS failures delivering to us go unreported"),
    "tls_rpt.syntax": ("error", "the _smtp._tls record does not parse"),
    "bimi.ok": ("ok", "BIMI record and logo valid"),
    "bimi.missing": ("info", "no BIMI record"),
    "bimi.syntax": ("error", "the BIMI record does not parse"),
    "bimi.dmarc_not_enforced": ("error", "BIMI requires DMARC at quarantine or reject (pct=100)"),
    "bimi.no_certificate": ("warning", "no a= (VMC/CMC): Gmail and Apple show no logo without one"),
    "bimi.svg_invalid": ("error", "the logo is not SVG Tiny Portable/Secure"),
    "bimi.svg_unreachable": ("error", "the logo could not be fetched over HTTPS"),
}


@dataclass(frozen=True)
class Finding:
    """One result of one check for one domain (``fix``: the record to publish, or the step)."""

    code: str
    severity: str
    domain: str
    detail: str
    fix: str = ""
    subject: str = ""

    @property
    def check(self) -> str:
        return self.code.split(".", 1)[0]

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "check": self.check}


def finding(code: str, domain: str, detail: str = "", fix: str = "", subject: str = "") -> Finding:
    """A finding with the severity :data:`CODES` gives its code.

    Raises
    ------
    KeyError
        An unknown code (codes are listed in :data:`CODES`).
    """
    severity, meaning = CODES[code]
    return Finding(code, severity, domain, detail or meaning, fix, subject)


def worst(findings: list[Finding]) -> str:
    """The most severe severity among ``findings`` (``ok`` for none)."""
    return max((f.severity for f in findings), key=SEVERITIES.index, default="ok")
