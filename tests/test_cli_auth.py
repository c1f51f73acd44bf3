"""The CLI: workbench audit (offline world, exit codes, JSON), dns records, dkim keygen/keys/plan, the demo step."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.conftest import WORLD_END
from workbench.auth.demo import install_world_dns, run_audit_step
from workbench.cli import cli
from workbench.config import Settings
from workbench.store import Store
from workbench.store.loading import load_paths


@pytest.fixture
def project(tmp_path: Path, small_world: Path) -> dict[str, str]:
    data = tmp_path / "data"
    install_world_dns(small_world, data)
    db = tmp_path / "wb.duckdb"
    store = Store(Settings.load(db_path=db))
    load_paths(store, [small_world / "infrastructure.yaml"])
    store.close()
    return {"WORKBENCH_DATA": str(data), "WORKBENCH_DB": str(db), "WORKBENCH_KEYS": str(data / "keys")}


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), obj={}, env=env)


def test_audit_offline_exits_1_on_errors_and_stores_the_run(project: dict[str, str]) -> None:
    result = invoke(project, "audit", "--offline")
    assert result.exit_code == 1, result.output
    assert "spf.too_many_lookups" in result.output and "fix:" in result.output
    assert "contact.brightmart.example" in result.output
    store = Store(Settings.load(db_path=Path(project["WORKBENCH_DB"])))
    assert store.scalar("SELECT count(*) FROM auth_audits") == 1
    assert store.scalar("SELECT count(DISTINCT domain) FROM auth_checks") == 5


def test_audit_json_of_named_domains_and_exit_0(project: dict[str, str]) -> None:
    result = invoke(project, "audit", "--offline", "--json", "--no-save", "brightmart.example")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["audit_id"] is None and data["resolver"].startswith("offline zone files")
    (domain,) = data["domains"]
    assert domain["domain"] == "brightmart.example" and set(domain["status"].values()) <= {"ok", "info"}
    assert {f["code"] for f in domain["findings"]} >= {"spf.ok", "dkim.ok", "dmarc.ok", "mta_sts.ok", "bimi.ok"}


def test_audit_errors_say_what_to_do(project: dict[str, str], tmp_path: Path) -> None:
    unknown = invoke(project, "audit", "--offline", "other.example")
    assert unknown.exit_code == 1 and "not sending domains: other.example" in unknown.output
    no_zone = invoke({**project, "WORKBENCH_DATA": str(tmp_path / "empty")}, "audit", "--offline")
    assert no_zone.exit_code == 1 and "make demo" in no_zone.output


def test_audit_with_an_explicit_zone_and_nameserver_options(project: dict[str, str], small_world: Path) -> None:
    result = invoke(project, "audit", "--zone", str(small_world / "dns" / "brightmart.example.zone"), "--no-save",
                    "--min-severity", "error", "tx.brightmart.example")
    assert result.exit_code == 1
    assert "rdns.not_forward_confirmed" in result.output and "dmarc.no_rua" not in result.output


def test_audit_live_against_knot(project: dict[str, str], small_world: Path, knot_server) -> None:
    host, port = knot_server((small_world / "dns" / "brightmart.example.zone").read_text())
    result = invoke(project, "audit", "--nameserver", f"{host}:{port}", "--no-save", "--json", "news.brightmart.example")
    assert result.exit_code == 1
    codes = {f["code"] for f in json.loads(result.stdout)["domains"][0]["findings"]}
    assert {"dkim.key_mismatch", "rdns.not_forward_confirmed"} <= codes


def test_dns_records(project: dict[str, str]) -> None:
    result = invoke(project, "dns", "records", "news.brightmart.example", "--include", "_spf.relay.example")
    assert result.exit_code == 0, result.output
    assert "news.brightmart.example.                         3600 IN TXT \"v=spf1 ip4:192.0.2.10 ip4:192.0.2.11 include:_spf.relay.example -all\"" in result.output
    assert "bm2026._domainkey.news.brightmart.example." in result.output
    fresh = invoke(project, "dns", "records", "shop.brightmart.example", "--selector", "x1")
    assert fresh.exit_code == 0 and "; x1._domainkey.shop.brightmart.example: no key of ours" in fresh.output


def test_dkim_keygen_keys_and_plan(project: dict[str, str], tmp_path: Path) -> None:
    keys = tmp_path / "mykeys"
    made = invoke(project, "dkim", "keygen", "shop.brightmart.example", "--selector", "sh1", "--keys", str(keys))
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith('sh1._domainkey.shop.brightmart.example. 3600 IN TXT "v=DKIM1; k=rsa; p=')
    assert stat.S_IMODE((keys / "shop.brightmart.example" / "sh1.pem").stat().st_mode) == 0o600
    again = invoke(project, "dkim", "keygen", "shop.brightmart.example", "--selector", "sh1", "--keys", str(keys))
    assert again.exit_code == 1 and "exists" in again.output
    ed = invoke(project, "dkim", "keygen", "shop.brightmart.example", "--selector", "ed1", "--algorithm", "ed25519", "--keys", str(keys))
    assert "k=ed25519" in ed.output
    listed = json.loads(invoke(project, "dkim", "keys", "--json", "--keys", str(keys)).stdout)
    assert [(k["selector"], k["algorithm"], k["age_days"]) for k in listed] == [("ed1", "ed25519", 0), ("sh1", "rsa", 0)]
    plan = json.loads(invoke(project, "dkim", "plan", "news.brightmart.example", "--json").stdout)
    assert len(plan) == 4 and "bm2025._domainkey.news.brightmart.example" in plan[2]["record"]
    text = invoke(project, "dkim", "plan", "news.brightmart.example", "--new-selector", "bm2027")
    assert "--selector bm2027" in text.output


def test_demo_step_installs_the_world_and_audits(tmp_path: Path, small_world: Path) -> None:
    settings = Settings.load(db_path=tmp_path / "wb.duckdb", data_dir=tmp_path / "data")
    store = Store(settings)
    load_paths(store, [small_world / "infrastructure.yaml"])
    console = Console(record=True, width=200)
    run = run_audit_step(settings, store, small_world, console, today=WORLD_END)
    assert (tmp_path / "data" / "dns" / "brightmart.example.zone").is_file()
    pem = tmp_path / "data" / "keys" / "news.brightmart.example" / "bm2026.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert run.audit_id is not None and run.errors >= 4
    output = console.export_text()
    assert "contact.brightmart.example" in output and "spf:error" in output
