"""DKIM (RFC 6376, RFC 8463 Ed25519, RFC 8301 key sizes): key records, signing, verifying.

- :func:`parse_key_record`: the tags of a ``<selector>._domainkey`` TXT record, pure.
- :func:`sign_message` / :func:`verify_message`: dkimpy's signer and verifier, the verifier
  reading keys through the resolver seam (any dnspython-shaped resolver, e.g. Knot in tests).

Examples
--------
>>> rec = parse_key_record("v=DKIM1; k=ed25519; t=y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
>>> rec.key_type, rec.testing, rec.bits
('ed25519', True, 256)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import dkim
import dns.exception
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from workbench.auth.dkim_keys import DkimKey, PublicKeyInfo

__all__ = ["DkimKeyRecord", "DkimRecordError", "parse_key_record", "sign_message", "verify_message"]

DEFAULT_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
                   b"list-unsubscribe", b"list-unsubscribe-post", b"feedback-id")


class DkimRecordError(ValueError):
    """A key record that receivers cannot use."""


@dataclass(frozen=True)
class DkimKeyRecord:
    """A parsed key record."""

    text: str
    tags: dict[str, str] = field(default_factory=dict)
    key_type: str = "rsa"
    public_key: str = ""
    bits: int | None = None
    testing: bool = False
    strict: bool = False
    hashes: tuple[str, ...] = ()
    services: tuple[str, ...] = ("*",)

    @property
    def revoked(self) -> bool:
        """An empty ``p=``: the key was revoked (RFC 6376 §3.6.1)."""
        return not self.public_key


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise DkimRecordError(f"{part!r} is not a tag=value pair")
        name = name.strip()
        if name in tags:
            raise DkimRecordError(f"tag {name}= appears twice")
        tags[name] = "".join(value.split())
    return tags


def key_bits(key_type: str, p: str) -> int:
    """The size of a ``p=`` public key in bits.

    Raises
    ------
    DkimRecordError
        Not base64, or not a key of that type.
    """
    try:
        raw = base64.b64decode(p, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DkimRecordError("p= is not valid base64") from exc
    if key_type == "ed25519":
        if len(raw) != 32:
            raise DkimRecordError(f"an Ed25519 key is 32 bytes, p= holds {len(raw)}")
        return 256
    try:  # SubjectPublicKeyInfo, or a bare PKCS#1 RSAPublicKey (some publish it; dkimpy accepts it)
        public = serialization.load_der_public_key(raw)
    except ValueError as exc:
        raise DkimRecordError("p= is not an RSA public key") from exc
    if not isinstance(public, rsa.RSAPublicKey):
        raise DkimRecordError("p= is not an RSA public key")
    return public.key_size


def parse_key_record(text: str) -> DkimKeyRecord:
    """Parse a DKIM key record (TXT strings joined).

    Raises
    ------
    DkimRecordError
        A bad tag list, ``v=`` other than ``DKIM1`` (or not first), an unknown ``k=``, no
        ``p=``, or a key that does not decode.
    """
    tags = _tags(text)
    if "v" in tags and (tags["v"] != "DKIM1" or next(iter(tags)) != "v"):
        raise DkimRecordError("v= must be DKIM1 and come first")
    if "p" not in tags:
        raise DkimRecordError("no p= tag (the public key)")
    key_type = tags.get("k", "rsa").lower()
    if key_type not in ("rsa", "ed25519"):
        raise DkimRecordError(f"unknown key type k={key_type}")
    flags = tags.get("t", "").lower().split(":") if tags.get("t") else []
    bits = key_bits(key_type, tags["p"]) if tags["p"] else None
    return DkimKeyRecord(
        text, tags, key_type, tags["p"], bits, "y" in flags, "s" in flags,
        tuple(h.lower() for h in tags["h"].split(":")) if tags.get("h") else (),
        tuple(s.lower() for s in tags["s"].split(":")) if tags.get("s") else ("*",),
    )


def matches(record: DkimKeyRecord, key: DkimKey | PublicKeyInfo) -> bool:
    """Whether the published key is the public half of ``key``."""
    if record.revoked or record.key_type != key.algorithm:
        return False
    try:
        published = base64.b64decode(record.public_key)
    except (binascii.Error, ValueError):
        return False
    ours = base64.b64decode(key.public_key_b64())
    if key.algorithm == "ed25519" or published == ours:
        return published == ours
    try:
        return published == _pkcs1(ours)
    except ValueError:
        return False


def _pkcs1(spki: bytes) -> bytes:
    public = serialization.load_der_public_key(spki)
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def sign_message(message: bytes, key: DkimKey, *, headers: tuple[bytes, ...] = DEFAULT_HEADERS,
                 canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed")) -> bytes:
    """The ``DKIM-Signature`` header line (with CRLF) for ``message``, signed by ``key`` (dkimpy).

    Only the headers present in the message are signed (plus ``from``, always).

    Raises
    ------
    dkim.DKIMException
        dkimpy could not sign (no From header, a bad key).
    """
    present = {line.split(b":", 1)[0].strip().lower() for line in message.split(b"\n\n", 1)[0].splitlines() if b":" in line}
    include = [h for h in headers if h in present or h == b"from"]
    signature: bytes = dkim.sign(message, key.selector.encode(), key.domain.encode(), key.dkimpy_private_key(),
                                 canonicalize=canonicalize, include_headers=include,
                                 signature_algorithm=key.signature_algorithm)
    return signature


def dnsfunc_for(resolver: Any) -> Any:
    """dkimpy's ``dnsfunc(name, timeout)`` over a dnspython-shaped resolver."""

    def get_txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        qname = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(qname, "TXT")
        except dns.exception.DNSException:
            return None
        for rdata in answer:
            return b"".join(rdata.strings)
        return None

    return get_txt


def verify_message(message: bytes, resolver: Any) -> list[bool]:
    """Verify every ``DKIM-Signature`` of ``message`` (top first), keys through ``resolver``.

    Raises
    ------
    None
        A signature that cannot be checked (no key, bad syntax) is ``False``.
    """
    verifier = dkim.DKIM(message)
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    results = []
    get_txt = dnsfunc_for(resolver)
    for idx in range(count):
        try:
            results.append(bool(verifier.verify(idx=idx, dnsfunc=get_txt)))
        except dkim.DKIMException:
            results.append(False)
    return results


def check_selector(domain: str, selector: str, key: DkimKey | PublicKeyInfo | None, *, today: Any = None, max_age_days: int = 365,
                   managed_by: str | None = None) -> Any:
    """The findings for one selector of ``domain`` (sans-I/O generator; see :mod:`workbench.auth.sansio`).

    ``key`` is our private key for the selector (``None``: we hold none, e.g. an ESP signs).
    """
    from workbench.auth.findings import finding
    from workbench.auth.sansio import lookup

    name = f"{selector}._domainkey.{domain}"
    publish = ""
    if key is not None:
        from workbench.auth.dkim_keys import txt_strings

        publish = f"{name}. IN TXT " + " ".join(f'"{s}"' for s in txt_strings(key.txt_record()))
    status, rdatas = yield from lookup(name, "TXT")
    if status in ("timeout", "error"):
        return [finding("dkim.dns_error", domain, f"TXT {name}: DNS {status}", subject=name)]
    texts = [b"".join(rd.strings).decode("ascii", "replace") for rd in rdatas]
    texts = [t for t in texts if "p=" in t] or texts
    if not texts:
        return [finding("dkim.missing", domain, f"no key at {name} ({status})", subject=name,
                        fix=publish or f"publish the key your ESP gives for selector {selector}")]
    try:
        record = parse_key_record(texts[0])
    except DkimRecordError as exc:
        return [finding("dkim.syntax", domain, f"{name}: {exc}", subject=name, fix=publish)]
    out = []
    if record.revoked:
        return [finding("dkim.revoked", domain, f"{name} has an empty p= (revoked)", subject=name,
                        fix=publish or f"stop signing with {selector}")]
    if "email" not in record.services and "*" not in record.services:
        out.append(finding("dkim.not_email", domain, f"{name}: s={':'.join(record.services)}", subject=name, fix=publish))
    if record.key_type == "rsa" and record.bits is not None:
        if record.bits < 1024:
            out.append(finding("dkim.weak_key", domain, f"{name}: RSA {record.bits} bits", subject=name,
                               fix="generate a 2048-bit key under a new selector (`workbench dkim keygen`)"))
        elif record.bits < 2048:
            out.append(finding("dkim.short_key", domain, f"{name}: RSA {record.bits} bits", subject=name,
                               fix="rotate to a 2048-bit key under a new selector"))
    if record.testing:
        out.append(finding("dkim.testing", domain, f"{name}: t=y", subject=name, fix=publish.replace("; t=y", "")))
    if key is None:
        out.append(finding("dkim.no_private_key", domain, f"{name}: no private key in the keys folder"
                           + (f" (signed by {managed_by})" if managed_by else ""), subject=name))
    else:
        if not matches(record, key):
            out.append(finding("dkim.key_mismatch", domain, f"{name} publishes a key that is not ours ({record.key_type}, "
                               f"{record.bits} bits): signatures with our key fail", subject=name, fix=publish))
        if today is not None and key.created is not None and (today - key.created).days > max_age_days:
            out.append(finding("dkim.key_old", domain, f"{name}: key created {key.created}, {(today - key.created).days} days ago",
                               subject=name, fix="rotate: `workbench dkim plan` prints the steps"))
    if not out or all(f.code == "dkim.no_private_key" for f in out):
        out.append(finding("dkim.ok", domain, f"{name}: {record.key_type} {record.bits} bits", subject=name))
    return out
