"""The demo's audit step: install the world's zone and keys, audit offline, print the grid.

The offline zone ``data/dns/brightmart.example.zone`` is *generated* by the demo (copied from
the synthetic world, ``data/raw/dns/``), not committed: it publishes the public halves of
the world's DKIM keys, which are generated with the world and, like every private key,
never committed; one source (the world) keeps the zone, the keys and the send logs
consistent. The keys go to ``data/keys/`` (0600), where signing code finds them.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from rich.console import Console

from workbench.auth.run import AuditRun, AuditSetup, audit_store_domains
from workbench.config import Settings
from workbench.store import Store

__all__ = ["install_world_dns", "run_audit_step"]


def install_world_dns(raw: Path, data_dir: Path) -> tuple[Path, Path]:
    """Copy the world's zone and web documents to ``data/dns`` and its keys to ``data/keys``."""
    dns_dir, keys_dir = data_dir / "dns", data_dir / "keys"
    if (raw / "dns").is_dir():
        shutil.copytree(raw / "dns", dns_dir, dirs_exist_ok=True)
    if (raw / ".keys").is_dir():
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for pem in (raw / ".keys").glob("*/*"):
            target = keys_dir / pem.parent.name / pem.name
            target.parent.mkdir(mode=0o700, exist_ok=True)
            shutil.copy2(pem, target)
            if target.suffix == ".pem":
                target.chmod(0o600)
    return dns_dir, keys_dir


def run_audit_step(settings: Settings, store: Store, raw: Path, console: Console, today: date | None = None) -> AuditRun:
    """Audit the world's sending domains offline and print the status grid."""
    dns_dir, keys_dir = install_world_dns(raw, settings.data_dir)
    run = audit_store_domains(store, AuditSetup(zones=(str(dns_dir),)), keys_dir=keys_dir, today=today)
    for audit in run.audits:
        status = audit.status()
        marks = " ".join(f"{check}:{value}" for check, value in status.items() if value != "ok")
        console.print(f"    {audit.domain:<28} {marks or 'all ok'}", highlight=False)
    console.print(f"    {run.errors} error-level findings; `workbench audit --offline` lists them with their fixes")
    return run
