"""How the sender sends: relay, source addresses per IP, shaping, warm-up, retries, tracking.

:class:`SendConfig` is one frozen object passed to the sender. :meth:`SendConfig.load` reads
an optional YAML file (``sending.yaml`` at the project root, or ``--config``)::

    relay: {host: 127.0.0.1, port: 2525, starttls: null, username: null}
    pools:                       # a relay per pool (optional; default: relay above)
      shared-sendgrid: {host: smtp.sendgrid.example, port: 587, starttls: true, username: apikey}
    bind: {192.0.2.10: 127.0.0.10, 192.0.2.11: 127.0.0.11}   # our IP -> local source address
    shaping: {gmail: {per_minute: 600}, default: {connections: 4}}
    warmup: [200, 500, 1000]     # day -> cap per new IP (default: SparkPost's)
    tracking_url: https://t.news.brightmart.example
    retries: {max_attempts: 5, base_seconds: 60}

Passwords never go in the file: ``$WORKBENCH_RELAY_PASSWORD``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from workbench.config import Settings
from workbench.errors import ConfigError
from workbench.sending.shaping import Shaping
from workbench.sending.transport import Relay
from workbench.sending.warmup import WarmupSchedule

__all__ = ["SendConfig", "relay_from"]


def relay_from(spec: str | Mapping[str, Any]) -> Relay:
    """A :class:`Relay` from ``host:port`` or a mapping of its fields.

    Raises
    ------
    ConfigError
        Not ``host:port`` or unknown fields.
    """
    if isinstance(spec, str):
        host, sep, port = spec.rpartition(":")
        if not sep or not port.isdigit():
            raise ConfigError(f"relay {spec!r}: expected HOST:PORT")
        return Relay(host=host.strip("[]"), port=int(port))
    unknown = set(spec) - set(Relay.__dataclass_fields__)
    if unknown or "password" in spec:
        raise ConfigError(f"relay: unknown field(s) {', '.join(sorted(unknown)) or 'password (use $WORKBENCH_RELAY_PASSWORD)'}")
    return Relay(**dict(spec))


@dataclass(frozen=True)
class SendConfig:
    """Everything the sender needs beyond the campaign and the audience.

    Attributes
    ----------
    relay, pool_relays:
        Where messages go (per pool when given).
    bind:
        Our IP (as in ``ips``) -> the local address to connect from (``127.0.0.x`` stand
        for IPs in tests and the demo); an IP not listed connects from the default address.
    shaping, warmup:
        Per-provider limits and the warm-up schedule.
    tracking_url, tracking_keys:
        Base URL of the tracking app and its keys (None: no open / click tracking and an
        unsubscribe by mail only).
    trace_key:
        Key of the ``X-Workbench-Trace`` and VERP signatures (``$WORKBENCH_TRACE_KEY``).
    keys_dir:
        DKIM keys (``data/keys``).
    batch_size, workers:
        Messages claimed at a time; processes that render and sign (0: in the sender).
    max_attempts, retry_base, retry_wait:
        Tries per message, first back-off in seconds (doubling), and how long a run waits
        for retries that fall due before it leaves them to the next run.
    today:
        The date for warm-up caps (default: today, UTC).
    """

    relay: Relay = field(default_factory=Relay)
    pool_relays: Mapping[str, Relay] = field(default_factory=dict)
    bind: Mapping[str, str] = field(default_factory=dict)
    shaping: Shaping = field(default_factory=Shaping)
    warmup: WarmupSchedule = field(default_factory=WarmupSchedule)
    tracking_url: str | None = None
    tracking_keys: tuple[bytes, ...] = ()
    trace_key: bytes | None = None
    keys_dir: Path | None = None
    batch_size: int = 200
    workers: int = 0
    max_attempts: int = 5
    retry_base: float = 60.0
    retry_wait: float = 120.0
    spool_dir: Path | None = None
    today: date | None = None

    def relay_for(self, pool: str | None) -> Relay:
        return self.pool_relays.get(pool or "", self.relay)

    def with_(self, **changes: Any) -> SendConfig:
        return replace(self, **changes)

    @classmethod
    def load(cls, settings: Settings, path: str | Path | None = None, **overrides: Any) -> SendConfig:
        """Defaults, then the YAML file (``path``, else ``sending.yaml`` at the root when
        present), then ``overrides`` (keyword fields; None values are ignored).

        Raises
        ------
        ConfigError
            An unreadable file or a wrong value.
        """
        file = Path(path) if path else settings.root / "sending.yaml"
        doc: dict[str, Any] = {}
        if path or file.is_file():
            try:
                doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"cannot read {file}: {exc}") from exc
            if not isinstance(doc, dict):
                raise ConfigError(f"{file}: expected a mapping")
        trace = os.environ.get("WORKBENCH_TRACE_KEY")
        values: dict[str, Any] = {
            "keys_dir": Path(os.environ.get("WORKBENCH_KEYS") or settings.data_dir / "keys"),
            "spool_dir": settings.data_dir / "tracking" / "spool",
            "trace_key": trace.encode() if trace else None,
        }
        try:
            if "relay" in doc:
                values["relay"] = relay_from(doc["relay"])
            if "pools" in doc:
                values["pool_relays"] = {str(k): relay_from(v) for k, v in (doc["pools"] or {}).items()}
            if "bind" in doc:
                values["bind"] = {str(k): str(v) for k, v in (doc["bind"] or {}).items()}
            if "shaping" in doc:
                values["shaping"] = Shaping().with_overrides(doc["shaping"] or {})
            if "warmup" in doc:
                values["warmup"] = WarmupSchedule(tuple(int(x) for x in doc["warmup"]))
            if "tracking_url" in doc:
                values["tracking_url"] = str(doc["tracking_url"])
            retries = doc.get("retries") or {}
            if "max_attempts" in retries:
                values["max_attempts"] = int(retries["max_attempts"])
            if "base_seconds" in retries:
                values["retry_base"] = float(retries["base_seconds"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{file}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("tracking_url") and not values.get("tracking_keys"):
            from workbench.tracking.tokens import tracking_keys

            values["tracking_keys"] = tuple(tracking_keys(values["keys_dir"]))
        return cls(**values)
