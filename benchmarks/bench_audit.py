"""Benchmark: the full authentication audit of 1,000 synthetic domains against Knot DNS on 127.0.0.1.

Each domain has an SPF record with its own IP and include chains (20 ESPs, two levels, plus
one include every domain shares), two DKIM selectors (RSA 2048 and Ed25519; our key for the
first), DMARC, an MX with an address, a PTR with forward confirmation, and MTA-STS / TLS-RPT
for one domain in three (the policies are read from a local folder: no HTTPS here). In the
same run:

- ours: ``run_audit`` over 2 processes, asyncio with a shared cache inside each;
- baseline: a bare dnspython async resolver asking the same questions with no cache;
- checkdmarc (installed only for this benchmark, in ``.bench-venv/``), pointed at the same
  server, serially (it has no DKIM checks).

Usage: ``python benchmarks/bench_audit.py [--domains 1000] [--no-checkdmarc]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dns.asyncresolver  # noqa: E402
import dns.nameserver  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402

from tests.knot import KnotServer  # noqa: E402
from workbench.auth.audit import DomainSpec, run_audit  # noqa: E402
from workbench.auth.dkim_keys import DkimKey, txt_strings  # noqa: E402
from workbench.auth.run import AuditSetup  # noqa: E402
from workbench.synth.zone import seeded_rsa  # noqa: E402

ESPS = 20
CHECKDMARC_DRIVER = """
import json, sys, time
import dns.nameserver, checkdmarc
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
domains = [l.strip() for l in open(path) if l.strip()]
ns = [dns.nameserver.Do53Nameserver(host, port)]
t = time.perf_counter()
results = checkdmarc.check_domains(domains, nameservers=ns, skip_tls=True, timeout=2.0)
print(json.dumps({"seconds": time.perf_counter() - t, "domains": len(results) if isinstance(results, list) else 1}))
"""


def ip_of(i: int) -> str:
    return f"10.{1 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def build_zone(n: int, web: Path) -> tuple[str, list[DomainSpec], list[tuple[str, str]]]:
    rsa_keys = [DkimKey("bench", "s1", seeded_rsa(f"bench/{k}")) for k in range(4)]
    ed_keys = [DkimKey("bench", "s2", ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"e%d" % k).digest()))
               for k in range(4)]
    lines = ["$TTL 3600", '_spf.shared.example. IN TXT "v=spf1 ip4:172.16.0.0/12 ~all"']
    for k in range(ESPS):
        lines += [f'_spf.esp{k}.example. IN TXT "v=spf1 include:_a.esp{k}.example include:_b.esp{k}.example ~all"',
                  f'_a.esp{k}.example. IN TXT "v=spf1 ip4:198.18.{k}.0/25 ~all"',
                  f'_b.esp{k}.example. IN TXT "v=spf1 ip4:198.18.{k}.128/25 ~all"']
    specs, questions = [], []
    for i in range(n):
        d, ip = f"d{i}.example", ip_of(i)
        a, b, c = ip.split(".")[1:]
        rsa_key, ed_key = rsa_keys[i % 4], ed_keys[i % 4]
        lines += [
            f'{d}. IN TXT "v=spf1 ip4:{ip} include:_spf.esp{i % ESPS}.example include:_spf.shared.example ~all"',
            f"{d}. IN MX 10 mx.{d}.",
            f"mx.{d}. IN A {ip}",
            f"mta.{d}. IN A {ip}",
            f"{c}.{b}.{a}.10.in-addr.arpa. IN PTR mta.{d}.",
            f'_dmarc.{d}. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@{d}"',
            f"s1._domainkey.{d}. IN TXT " + " ".join(f'"{s}"' for s in txt_strings(rsa_key.txt_record())),
            f'ed._domainkey.{d}. IN TXT "{ed_key.txt_record()}"',
        ]
        if i % 3 == 0:
            lines += [f'_mta-sts.{d}. IN TXT "v=STSv1; id=2026{i}"', f'_smtp._tls.{d}. IN TXT "v=TLSRPTv1; rua=mailto:tls@{d}"']
            policy = web / f"mta-sts.{d}" / ".well-known" / "mta-sts.txt"
            policy.parent.mkdir(parents=True, exist_ok=True)
            policy.write_text(f"version: STSv1\nmode: enforce\nmx: mx.{d}\nmax_age: 604800\n")
        info = DkimKey(d, "s1", rsa_key.private_key).info()
        specs.append(DomainSpec(d, ("s1", "ed"), ((ip, f"mta.{d}"),), None, {"s1": info}))
        questions += [(d, "TXT"), (f"_spf.esp{i % ESPS}.example", "TXT"), (f"_a.esp{i % ESPS}.example", "TXT"),
                      (f"_b.esp{i % ESPS}.example", "TXT"), ("_spf.shared.example", "TXT"), (f"s1._domainkey.{d}", "TXT"),
                      (f"ed._domainkey.{d}", "TXT"), (f"_dmarc.{d}", "TXT"), (f"{c}.{b}.{a}.10.in-addr.arpa", "PTR"),
                      (f"mta.{d}", "A"), (f"{d}", "MX"), (f"mx.{d}", "A"), (f"mx.{d}", "AAAA"), (f"_mta-sts.{d}", "TXT"),
                      (f"_smtp._tls.{d}", "TXT"), (f"default._bimi.{d}", "TXT"), (f"mta.{d}", "A")]
    return "\n".join(lines) + "\n", specs, questions


async def bare_dnspython(questions: list[tuple[str, str]], host: str, port: int, concurrency: int = 100) -> float:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
    gate = asyncio.Semaphore(concurrency)

    async def ask(q: tuple[str, str]) -> None:
        async with gate:
            with contextlib.suppress(dns.exception.DNSException):
                await resolver.resolve(q[0], q[1])

    t = time.perf_counter()
    await asyncio.gather(*(ask(q) for q in questions))
    return time.perf_counter() - t


def checkdmarc_run(host: str, port: int, domains: list[str], tmp: Path) -> dict[str, float] | str:
    venv = ROOT / ".bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "checkdmarc"], capture_output=True, text=True)
        if done.returncode:
            return f"checkdmarc could not be installed: {done.stderr.strip()[-300:]}"
    (tmp / "domains.txt").write_text("\n".join(domains))
    (tmp / "driver.py").write_text(CHECKDMARC_DRIVER)
    done = subprocess.run([str(python), str(tmp / "driver.py"), host, str(port), str(tmp / "domains.txt")],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode:
        return f"checkdmarc failed: {done.stderr.strip()[-500:]}"
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--no-checkdmarc", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        t = time.perf_counter()
        text, specs, questions = build_zone(args.domains, tmp / "web")
        build = time.perf_counter() - t
        with KnotServer(text, tmp) as server:
            host, port = server.address
            print(f"zone: {args.domains:,} domains, {text.count(chr(10)):,} records, built in {build:.1f} s; "
                  f"knotd on {host}:{port}; {os.cpu_count()} cores (shared with other work: figures are under contention)")
            setup = AuditSetup(nameservers=(f"{host}:{port}",), web_root=str(tmp / "web"), timeout=2.0, lifetime=6.0)
            setup_offline_web = _LiveWithOfflineWeb(setup, str(tmp / "web"))
            t = time.perf_counter()
            audits = run_audit(specs, setup_offline_web, processes=args.processes, concurrency=args.concurrency)
            ours = time.perf_counter() - t
            findings = sum(len(a.findings) for a in audits)
            errors = sum(f.severity == "error" for a in audits for f in a.findings)
            queries = sum(len(a.evidence) for a in audits)
            print(f"ours       full audit (SPF tree + check_host, 2 DKIM selectors with key match, DMARC, PTR/FCrDNS, MX, "
                  f"MTA-STS + policy, TLS-RPT, BIMI): {ours:6.2f} s  {args.domains / ours:7.0f} domains/s  "
                  f"({queries:,} distinct questions answered, {findings:,} findings, {errors} errors)")
            bare = asyncio.run(bare_dnspython(questions, host, port, args.concurrency))
            print(f"baseline   bare dnspython async, {len(questions) // args.domains} queries/domain, no cache, 1 process: "
                  f"{bare:6.2f} s  {args.domains / bare:7.0f} domains/s   ratio ours/baseline {ours / bare:.2f}")
            if not args.no_checkdmarc:
                result = checkdmarc_run(host, port, [s.domain for s in specs], tmp)
                if isinstance(result, str):
                    print(f"checkdmarc {result}")
                else:
                    print(f"checkdmarc check_domains (SPF, DMARC, MX, MTA-STS, TLS-RPT, BIMI; no DKIM), serial: "
                          f"{result['seconds']:6.2f} s  {args.domains / result['seconds']:7.0f} domains/s   "
                          f"speed-up ours vs checkdmarc {result['seconds'] / ours:.1f}x")
            target = "met" if ours < 10 else "NOT met"
            print(f"target: full audit of {args.domains:,} domains under 10 s on 2 cores — {target} ({ours:.2f} s)")


class _LiveWithOfflineWeb:
    """Live DNS (Knot) with the MTA-STS policies read from a folder (picklable)."""

    def __init__(self, setup: AuditSetup, web_root: str) -> None:
        self.setup, self.web_root = setup, web_root

    def __call__(self) -> tuple[object, object]:
        from workbench.auth.web import OfflineWeb

        resolver, _ = self.setup()
        return resolver, OfflineWeb(Path(self.web_root))


if __name__ == "__main__":
    main()
