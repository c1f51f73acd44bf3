"""DKIM keys: generate (RSA 2048+ or Ed25519), store with 0600 permissions, load, publish.

Keys live under a keys folder (default ``data/keys/``, never committed; ``$WORKBENCH_KEYS``
or ``keys_dir=`` to move it) as ``<domain>/<selector>.pem`` (PKCS#8 PEM, mode 0600, folders
0700) with a ``<selector>.json`` beside it (algorithm, bits, creation date).

For signing (the sending pipeline)::

    key = load_private_key("news.brightmart.example", "bm2026")
    dkim.sign(message, key.selector.encode(), key.domain.encode(), key.dkimpy_private_key(),
              signature_algorithm=key.signature_algorithm)

:meth:`DkimKey.txt_record` is the record to publish at ``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from workbench.errors import ConfigError

__all__ = ["DkimKey", "PublicKeyInfo", "default_keys_dir", "generate_key", "list_keys", "load_private_key", "store_key", "txt_strings"]

MIN_RSA_BITS = 2048


def default_keys_dir() -> Path:
    """``$WORKBENCH_KEYS``, else ``data/keys`` under the project root."""
    env = os.environ.get("WORKBENCH_KEYS")
    if env:
        return Path(env)
    from workbench.config import Settings

    return Settings.load().data_dir / "keys"


@dataclass(frozen=True)
class PublicKeyInfo:
    """The public half of a key and its metadata: what an audit needs (picklable, no secret)."""

    domain: str
    selector: str
    algorithm: str
    public_key: str
    bits: int
    created: date | None = None

    def public_key_b64(self) -> str:
        return self.public_key

    def txt_record(self, *, testing: bool = False) -> str:
        flags = "; t=y" if testing else ""
        return f"v=DKIM1; k={self.algorithm}{flags}; p={self.public_key}"


@dataclass(frozen=True)
class DkimKey:
    """A private key for one ``(domain, selector)``."""

    domain: str
    selector: str
    private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    created: date | None = None
    path: Path | None = None

    @property
    def algorithm(self) -> str:
        """``"rsa"`` or ``"ed25519"`` (the ``k=`` tag)."""
        return "rsa" if isinstance(self.private_key, rsa.RSAPrivateKey) else "ed25519"

    @property
    def bits(self) -> int:
        return self.private_key.key_size if isinstance(self.private_key, rsa.RSAPrivateKey) else 256

    @property
    def signature_algorithm(self) -> bytes:
        """dkimpy's ``signature_algorithm``."""
        return b"rsa-sha256" if self.algorithm == "rsa" else b"ed25519-sha256"

    def public_key_b64(self) -> str:
        """The ``p=`` value: SubjectPublicKeyInfo DER (RSA) or the raw 32 bytes (Ed25519, RFC 8463)."""
        return public_key_b64(self.private_key)

    def txt_record(self, *, testing: bool = False) -> str:
        """The TXT record to publish at :attr:`record_name`."""
        flags = "; t=y" if testing else ""
        return f"v=DKIM1; k={self.algorithm}{flags}; p={self.public_key_b64()}"

    def info(self) -> PublicKeyInfo:
        """The public half and metadata (what the audit compares with DNS)."""
        return PublicKeyInfo(self.domain, self.selector, self.algorithm, self.public_key_b64(), self.bits, self.created)

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def pem(self) -> bytes:
        """The private key as PKCS#8 PEM."""
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def dkimpy_private_key(self) -> bytes:
        """The key in the form dkimpy's ``sign`` takes: PEM (RSA) or the base64 seed (Ed25519)."""
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            raw = self.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                 serialization.NoEncryption())
            return base64.b64encode(raw)
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                              serialization.NoEncryption())


def public_key_b64(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    """The ``p=`` value of a private key's public half."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raw = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(raw).decode("ascii")


def txt_strings(record: str, size: int = 255) -> list[str]:
    """A TXT record cut into character-strings of at most ``size`` bytes (RSA 2048 keys need two)."""
    return [record[i:i + size] for i in range(0, len(record), size)] or [""]


def _paths(keys_dir: Path, domain: str, selector: str) -> tuple[Path, Path]:
    if not selector or "/" in selector or "/" in domain or selector.startswith(".") or domain.startswith("."):
        raise ConfigError(f"bad domain or selector: {domain!r} / {selector!r}")
    folder = keys_dir / domain.lower().rstrip(".")
    return folder / f"{selector}.pem", folder / f"{selector}.json"


def store_key(key: DkimKey, keys_dir: Path | None = None, *, overwrite: bool = False) -> DkimKey:
    """Write ``key`` under ``keys_dir`` (0600 file, 0700 folders); returns it with its path.

    Raises
    ------
    ConfigError
        A key already exists for that selector (pass ``overwrite=True`` to replace it).
    """
    keys_dir = Path(keys_dir or default_keys_dir())
    pem_path, meta_path = _paths(keys_dir, key.domain, key.selector)
    for folder in (keys_dir, pem_path.parent):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
    if pem_path.exists() and not overwrite:
        raise ConfigError(f"{pem_path} exists: choose a new selector for a rotation, or pass --overwrite")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(pem_path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.pem())
    os.chmod(pem_path, 0o600)
    created = key.created or date.today()
    meta = {"domain": key.domain, "selector": key.selector, "algorithm": key.algorithm, "bits": key.bits,
            "created": created.isoformat()}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return DkimKey(key.domain, key.selector, key.private_key, created, pem_path)


def generate_key(domain: str, selector: str, *, algorithm: str = "rsa", bits: int = 2048, keys_dir: Path | None = None,
                 overwrite: bool = False, created: date | None = None) -> DkimKey:
    """Generate and store a key (see :func:`store_key`).

    Raises
    ------
    ConfigError
        An unknown algorithm, an RSA key under 2048 bits, or an existing key.
    """
    if algorithm == "rsa":
        if bits < MIN_RSA_BITS:
            raise ConfigError(f"RSA keys under {MIN_RSA_BITS} bits are refused by receivers (RFC 8301): use --bits 2048")
        private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    elif algorithm == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ConfigError(f"unknown DKIM key algorithm {algorithm!r}: rsa or ed25519")
    return store_key(DkimKey(domain.lower().rstrip("."), selector, private, created), keys_dir, overwrite=overwrite)


def load_private_key(domain: str, selector: str, keys_dir: Path | None = None) -> DkimKey:
    """The stored key of ``(domain, selector)``.

    Raises
    ------
    ConfigError
        No key stored, a key readable by others than its owner, or a file that is not a key.
    """
    keys_dir = Path(keys_dir or default_keys_dir())
    pem_path, meta_path = _paths(keys_dir, domain, selector)
    if not pem_path.is_file():
        raise ConfigError(f"no DKIM key for {selector}._domainkey.{domain} in {keys_dir}: "
                          f"`workbench dkim keygen {domain} --selector {selector}` creates one")
    if pem_path.stat().st_mode & 0o077:
        raise ConfigError(f"{pem_path} is readable by other users: `chmod 600 {pem_path}`")
    try:
        private = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{pem_path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(private, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)):
        raise ConfigError(f"{pem_path}: only RSA and Ed25519 keys sign DKIM")
    created = None
    if meta_path.is_file():
        try:
            created = date.fromisoformat(json.loads(meta_path.read_text(encoding="utf-8"))["created"])
        except (ValueError, KeyError, TypeError):
            created = None
    return DkimKey(domain.lower().rstrip("."), selector, private, created, pem_path)


def list_keys(keys_dir: Path | None = None) -> list[DkimKey]:
    """Every key stored under ``keys_dir``, by domain and selector (unreadable files skipped)."""
    keys_dir = Path(keys_dir or default_keys_dir())
    found = []
    for pem in sorted(keys_dir.glob("*/*.pem")):
        try:
            found.append(load_private_key(pem.parent.name, pem.stem, keys_dir))
        except ConfigError:
            continue
    return found
