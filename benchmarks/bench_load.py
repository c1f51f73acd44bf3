"""Loading speed and memory: our loaders against DuckDB's own readers, pandas, and
straightforward line-by-line Python parsers, measured in one run.

    python benchmarks/bench_load.py [--events 10000000] [--baseline-sample 1000000] [--workdir DIR]

(a) N canonical events as CSV and as Parquet: `workbench load` (sniffing, keys, dedupe,
    provider and IP attribution, quarantine bookkeeping) vs DuckDB `read_csv` / `read_parquet`
    into a table (the limit) vs pandas `read_csv` + insert. Target: >= 0.7x DuckDB.
(b) N Postfix maillog lines, N SendGrid webhook events, N/5 SES events: our loaders vs two
    straightforward line-by-line Python parsers, both measured on the first --baseline-sample
    records: "lean" (regex / json.loads, raw strings only, then one insert; target >= 10x) and
    "same output" (what our loaders store: parsed time stamps, recipient domain, mailbox
    provider from workbench's mapping, smtp code, enhanced status, bounce reason and class,
    an md5 content key per row deduped on it, inserted through Arrow).
Every contender runs in a fresh process; peak memory is its maximum resident set.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
from _common import Result, run, table

CANONICAL = ["ts", "event_type", "message_id", "campaign_id", "contact_id", "recipient", "sending_domain", "sending_ip",
             "ip_pool", "bounce_class", "bounce_reason", "smtp_code", "enhanced_status", "diagnostic", "url", "user_agent", "client_ip"]

OURS = """
from pathlib import Path
from workbench.config import Settings
from workbench.store import Store
from workbench.store.loading import load_paths
db = Path(sys.argv[1]); db.unlink(missing_ok=True); Path(str(db) + ".wal").unlink(missing_ok=True)
store = Store(Settings.load(db_path=db, lock_timeout=600))
store.migrate()
t = time.perf_counter()
summary = load_paths(store, [sys.argv[2]])
seconds = time.perf_counter() - t
assert summary.rows_quarantined == 0, summary.as_dict()
rows = store.scalar("SELECT count(*) FROM events")
if len(sys.argv) > 3:  # logs and JSON: count input lines (records), like the line-by-line baselines
    with open(sys.argv[2], "rb") as f:
        rows = sum(block.count(b"\\n") for block in iter(lambda: f.read(1 << 24), b""))
report(rows, seconds)
"""

DUCKDB_RAW = """
import duckdb
from pathlib import Path
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
con = duckdb.connect(str(db))
t = time.perf_counter()
reader = "read_csv" if sys.argv[2].endswith(".csv") else "read_parquet"
con.execute(f"CREATE TABLE events AS SELECT * FROM {reader}('{sys.argv[2]}')")
con.close()
seconds = time.perf_counter() - t
report(duckdb.connect(str(db)).execute("SELECT count(*) FROM events").fetchone()[0], seconds)
"""

PANDAS = """
import duckdb, pandas as pd
from pathlib import Path
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
t = time.perf_counter()
df = pd.read_csv(sys.argv[2])
con = duckdb.connect(str(db))
con.register("df", df)
con.execute("CREATE TABLE events AS SELECT * FROM df")
con.close()
report(len(df), time.perf_counter() - t)
"""

POSTFIX_BASELINE = """
import re, duckdb, gzip
from pathlib import Path
limit = int(sys.argv[3])
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
head = re.compile(r"^(\\S+) (\\S+) ([^\\[:]+)\\[\\d+\\]: ([0-9A-Za-z]+): (.*)$")
status = re.compile(r"^to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]*), .*?dsn=([0-9.]+), status=(\\w+) \\((.*)\\)$")
t = time.perf_counter()
mids, senders, rows, n = {}, {}, [], 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        n += 1
        if n > limit:
            break
        m = head.match(raw.decode("utf-8", "replace").rstrip("\\n"))
        if not m:
            continue
        ts, host, prog, qid, rest = m.groups()
        if rest.startswith("message-id="):
            mids[qid] = rest[12:-1]
        elif rest.startswith("from=<"):
            senders[qid] = rest[6:rest.index(">")]
        elif rest.startswith("to=<"):
            s = status.match(rest)
            if s:
                rows.append((ts, s.group(4), mids.get(qid), s.group(1), senders.get(qid), s.group(2), s.group(3), s.group(5)))
con = duckdb.connect(str(db))
con.execute("CREATE TABLE events (ts VARCHAR, status VARCHAR, message_id VARCHAR, recipient VARCHAR, sender VARCHAR, relay VARCHAR, dsn VARCHAR, diagnostic VARCHAR)")
con.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows) if len(rows) < 20000 else None
if len(rows) >= 20000:
    import pyarrow as pa
    tbl = pa.table(list(zip(*rows)), names=["ts", "status", "message_id", "recipient", "sender", "relay", "dsn", "diagnostic"])
    con.execute("INSERT INTO events SELECT * FROM tbl")
con.close()
report(min(n, limit), time.perf_counter() - t)
"""

JSON_BASELINE = """
import json, duckdb, pyarrow as pa
from pathlib import Path
limit = int(sys.argv[3]); kind = sys.argv[4]
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
t = time.perf_counter()
rows, n = [], 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        n += 1
        if n > limit:
            break
        d = json.loads(raw)
        if kind == "sendgrid":
            rows.append((d.get("timestamp"), d.get("event"), d.get("email"), d.get("sg_event_id"), d.get("sg_message_id"),
                         d.get("ip"), d.get("response") or d.get("reason"), d.get("url"), d.get("useragent"), d.get("campaign_id")))
        else:
            mail = d.get("mail", {})
            obj = d.get(d["eventType"][0].lower() + d["eventType"][1:].replace(" ", ""), {}) or {}
            recipients = [r["emailAddress"] if isinstance(r, dict) else r for r in
                          obj.get("bouncedRecipients") or obj.get("recipients") or obj.get("complainedRecipients")
                          or obj.get("delayedRecipients") or mail.get("destination", [])]
            for r in recipients:
                rows.append((obj.get("timestamp") or mail.get("timestamp"), d["eventType"], r, mail.get("messageId"), None, None,
                             obj.get("smtpResponse"), obj.get("link"), obj.get("userAgent"), (mail.get("tags") or {}).get("campaign", [None])[0]))
names = ["ts", "event", "recipient", "id", "message_id", "ip", "diagnostic", "url", "user_agent", "campaign_id"]
tbl = pa.table([pa.array([r[i] for r in rows]) for i in range(len(names))], names=names)
con = duckdb.connect(str(db))
con.execute("CREATE TABLE events AS SELECT * FROM tbl")
con.close()
report(min(n, limit), time.perf_counter() - t)
"""


# -- "line-by-line, same output" baselines: straightforward Python that stores what our loaders
# store (parsed time stamps, recipient domain, mailbox provider from workbench's mapping, smtp
# code and enhanced status, bounce reason and class, an md5 content key per row, deduped on it,
# inserted through Arrow), measured on the same sample as the lean baselines above.
SAME_COMMON = r"""
import hashlib, re, duckdb, pyarrow as pa
from datetime import datetime, timezone
from pathlib import Path
from workbench.store import _providers_table
from workbench.sources.events import _RULES
limit = int(sys.argv[3])
db = Path(sys.argv[1]); db.unlink(missing_ok=True)
PROVIDERS = {name: provider for kind, name, provider in _providers_table()[1] if kind == "domain"}
ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
CODE = re.compile(r"^(?:smtp;\s*)?([245]\d\d)[\s-]", re.I)
STATUS = {"hostunknown": r"5\.1\.2", "userunknown": r"5\.1\.[0136]", "mailboxfull": r"[45]\.2\.2",
          "authfailure": r"[45]\.7\.(26|27|32|515)", "blocked": r"[45]\.7"}
RULES = [(reason, re.compile(STATUS[reason]) if reason in STATUS else None, re.compile("|".join(words)))
         for reason, _, words in _RULES]
MX = {name: provider for kind, name, provider in _providers_table()[1] if kind == "mx"}
rows, seen = [], set()

def add(key, ts, event_type, recipient, message_id=None, campaign_id=None, contact_id=None, sender=None,
        sending_ip=None, ip_pool=None, remote_mta=None, enhanced_status=None, diagnostic=None, bounce_class=None,
        bounce_reason=None, user_agent=None, client_ip=None, url=None, is_machine=None, mta_instance=None):
    digest = hashlib.md5(key.encode()).digest()
    if digest in seen:
        return
    seen.add(digest)
    recipient = recipient.strip().lower() if recipient else None
    sender = sender.rsplit("<", 1)[-1].split(">", 1)[0].strip().lower() or None if sender else None
    domain = recipient.rsplit("@", 1)[1].rstrip(".") or None if recipient and "@" in recipient else None
    if diagnostic and not enhanced_status:
        m = ENHANCED.search(diagnostic)
        enhanced_status = m.group(1) if m else None
    code = CODE.match(diagnostic) if diagnostic else None
    smtp_code = int(code.group(1)) if code else None
    if event_type in ("bounced", "deferred", "dropped"):
        text, st = (diagnostic or "").lower(), enhanced_status or ""
        if bounce_reason is None:
            bounce_reason = next((r for r, p, w in RULES if (p and p.match(st)) or w.search(text)), "undefined")
        permanent = st.startswith("5") or (smtp_code or 0) >= 500
        if bounce_class is None:
            bounce_class = ("admin" if event_type == "dropped" else "block" if bounce_reason in (
                "blocked", "badreputation", "spamdetected", "authfailure", "speeding") else "hard" if bounce_reason in (
                "userunknown", "hostunknown") and permanent else "soft" if not permanent or bounce_reason in (
                "mailboxfull", "expired") else "hard")
    if is_machine is None and event_type == "opened":
        is_machine = user_agent == "Mozilla/5.0"
    rows.append([ts, event_type, message_id, campaign_id, contact_id, recipient, domain,
                 PROVIDERS.get(domain or "", "other"), sender, sending_ip, ip_pool, remote_mta, bounce_class,
                 bounce_reason, smtp_code, enhanced_status, diagnostic, is_machine, url, user_agent, client_ip,
                 mta_instance, int.from_bytes(digest, "big")])

NAMES = ["ts", "event_type", "message_id", "campaign_id", "contact_id", "recipient", "recipient_domain",
         "mailbox_provider", "sender", "sending_ip", "ip_pool", "remote_mta", "bounce_class", "bounce_reason",
         "smtp_code", "enhanced_status", "diagnostic", "is_machine", "url", "user_agent", "client_ip", "mta_instance",
         "source_key"]

def store():
    # what the loader's later steps fill: providers of hosted domains learned from their MX, the
    # sending IP of a message's first attempt, clicks within 10 s of their delivery (scanners)
    TS, EV, MID, RCPT, DOM, PROV, IP, POOL, MTA, MACHINE = (NAMES.index(c) for c in (
        "ts", "event_type", "message_id", "recipient", "recipient_domain", "mailbox_provider", "sending_ip",
        "ip_pool", "remote_mta", "is_machine"))
    learned, first, delivered = {}, {}, {}
    for r in rows:
        if r[MTA] and r[PROV] == "other" and r[EV] in ("delivered", "bounced", "deferred"):
            mx = MX.get(".".join(r[MTA].lower().rstrip(".").split(".")[-2:]))
            if mx:
                learned.setdefault(r[DOM], set()).add(mx)
        if r[IP] and r[EV] in ("delivered", "deferred", "bounced") and ((r[MID], r[RCPT]) not in first
                                                                        or r[TS] < first[r[MID], r[RCPT]][0]):
            first[r[MID], r[RCPT]] = (r[TS], r[IP], r[POOL])
        if r[EV] == "delivered":
            delivered[r[MID], r[RCPT]] = min(r[TS], delivered.get((r[MID], r[RCPT]), r[TS]))
    for r in rows:
        if r[PROV] == "other" and len(learned.get(r[DOM], ())) == 1:
            r[PROV] = next(iter(learned[r[DOM]]))
        if r[IP] is None and (r[MID], r[RCPT]) in first:
            r[IP], r[POOL] = first[r[MID], r[RCPT]][1], r[POOL] or first[r[MID], r[RCPT]][2]
        if r[EV] == "clicked" and r[MACHINE] is None and (r[MID], r[RCPT]) in delivered:
            r[MACHINE] = (r[TS] - delivered[r[MID], r[RCPT]]).total_seconds() < 10
    cols = list(zip(*rows)) if rows else [[] for _ in NAMES]
    arrays = [pa.array(c, type=pa.int16()) if n == "smtp_code" else
              pa.array([str(k) for k in c]) if n == "source_key" else pa.array(c) for n, c in zip(NAMES, cols)]
    tbl = pa.table(arrays, names=NAMES)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE events AS SELECT * REPLACE (source_key::UHUGEINT AS source_key) FROM tbl")
    con.close()
"""

POSTFIX_SAME = SAME_COMMON + r"""
head = re.compile(r"^(\S+) (\S+) ([^\[:]+)\[\d+\]: ([0-9A-Za-z]+): (.*)$")
status = re.compile(r"^to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]*), .*?dsn=([0-9.]+), status=(\w+) \((.*)\)$")
said = re.compile(r"^host \S+ said: (.*?)(?: \(in reply to [^)]*\))?$")
EVENTS = {"sent": "delivered", "deferred": "deferred", "bounced": "bounced"}
t = time.perf_counter()
facts, attempted, n = {}, set(), 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        n += 1
        if n > limit:
            break
        line = raw.decode("utf-8", "replace").rstrip("\n")
        m = head.match(line)
        if not m:
            continue
        stamp, host, prog, qid, rest = m.groups()
        fact = facts.setdefault((host, qid), {})
        if rest.startswith("message-id=<"):
            fact["message_id"] = rest[12:-1]
            fact["queued"] = stamp
        elif rest.startswith("from=<") and ", nrcpt=" in rest:
            fact["sender"] = rest[6:rest.index(">")]
        elif rest.startswith("info: header X-Campaign-ID: "):
            fact["campaign_id"] = rest[28:].split(" ", 1)[0].rstrip(";")
        elif rest.startswith("to=<"):
            s = status.match(rest)
            if not s or s.group(4) not in EVENTS:
                continue
            rcpt, relay, dsn, st, reply = s.groups()
            d = said.match(reply)
            mta = relay.split("[", 1)[0]
            instance = prog.rsplit("/", 1)[0] if "/" in prog else prog
            common = dict(message_id=fact.get("message_id"), campaign_id=fact.get("campaign_id"), sender=fact.get("sender"),
                          mta_instance=instance)
            if (host, qid, rcpt) not in attempted and "queued" in fact:
                attempted.add((host, qid, rcpt))
                add(f"postfix-injected|{host}|{qid}|{rcpt}", datetime.fromisoformat(fact["queued"]).astimezone(timezone.utc)
                    .replace(tzinfo=None), "injected", rcpt, **common)
            add(line, datetime.fromisoformat(stamp).astimezone(timezone.utc).replace(tzinfo=None), EVENTS[st], rcpt,
                remote_mta=None if mta in ("none", "local") else mta, enhanced_status=dsn,
                diagnostic=d.group(1) if d else reply, **common)
store()
report(min(n, limit), time.perf_counter() - t)
"""

JSON_SAME = SAME_COMMON + r"""
import json
kind = sys.argv[4]
SG = {"processed": "injected", "delivered": "delivered", "deferred": "deferred", "bounce": "bounced", "dropped": "dropped",
      "open": "opened", "click": "clicked", "spamreport": "complained", "unsubscribe": "unsubscribed",
      "group_unsubscribe": "unsubscribed"}
SES = {"Send": "injected", "Delivery": "delivered", "Bounce": "bounced", "Complaint": "complained",
       "DeliveryDelay": "deferred", "Reject": "dropped", "Open": "opened", "Click": "clicked", "Subscription": "unsubscribed"}
SES_CLASS = {"Permanent": "hard", "Transient": "soft"}
SES_REASON = {"NoEmail": "userunknown", "MailboxFull": "mailboxfull", "MessageTooLarge": "mesgtoobig"}

def iso(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)

t = time.perf_counter()
n = 0
with open(sys.argv[2], "rb") as f:
    for raw in f:
        n += 1
        if n > limit:
            break
        d = json.loads(raw)
        if kind == "sendgrid":
            event = SG.get(d.get("event"))
            if event is None:
                continue
            engaged = d["event"] in ("open", "click")
            smid = d.get("sg_message_id") or ""
            add(d.get("sg_event_id") or raw.decode(), datetime.fromtimestamp(d["timestamp"], timezone.utc).replace(tzinfo=None),
                event, d.get("email"), message_id=smid.split(".", 1)[0] or (d.get("smtp-id") or "").strip("<> ") or None,
                campaign_id=d.get("campaign_id"), contact_id=d.get("contact_id"),
                sending_ip=None if engaged else d.get("ip"), client_ip=d.get("ip") if engaged else None,
                diagnostic=d.get("response") or d.get("reason"), user_agent=d.get("useragent"), url=d.get("url"),
                is_machine=d.get("sg_machine_open"), ip_pool=(d.get("pool") or {}).get("name"),
                bounce_class="block" if d.get("type") == "blocked" else None)
        else:
            mail = d.get("mail", {})
            raw_event = d.get("eventType") or d.get("notificationType")
            event = SES.get(raw_event)
            if event is None:
                continue
            obj = d.get(raw_event[0].lower() + raw_event[1:], {}) or {}
            stamp = obj.get("timestamp") or mail.get("timestamp")
            tags = mail.get("tags") or {}
            bounce = d.get("bounce") or {}
            if raw_event == "Delivery":
                who = [(r, None, obj.get("smtpResponse")) for r in obj.get("recipients", [])]
            elif raw_event in ("Bounce", "DeliveryDelay"):
                who = [(r["emailAddress"], r.get("status"), r.get("diagnosticCode"))
                       for r in obj.get("bouncedRecipients") or obj.get("delayedRecipients") or []]
            elif raw_event == "Complaint":
                who = [(r["emailAddress"], None, None) for r in obj.get("complainedRecipients", [])]
            else:
                who = [(r, None, None) for r in mail.get("destination", [])]
            for addr, status, diag in who:
                add(f"{mail.get('messageId')}|{raw_event}|{stamp}|{addr}", iso(stamp), event, addr,
                    message_id=(mail.get("messageId") or "").strip("<> "), campaign_id=(tags.get("campaign") or [None])[0],
                    contact_id=(tags.get("contact_id") or [None])[0], sending_ip=(tags.get("ses:outgoing-ip") or [None])[0],
                    sender=mail.get("source"), enhanced_status=status, diagnostic=diag or (d.get("reject") or {}).get("reason"),
                    remote_mta=obj.get("remoteMtaIp") or (obj.get("reportingMTA") or "").replace("dsn; ", "") or None,
                    bounce_class=SES_CLASS.get(bounce.get("bounceType"), "undetermined" if bounce else None),
                    bounce_reason=SES_REASON.get(bounce.get("bounceSubType")),
                    user_agent=obj.get("userAgent"), client_ip=obj.get("ipAddress"), url=obj.get("link"))
store()
report(min(n, limit), time.perf_counter() - t)
"""


def _write_lines(path: Path, frame: pl.DataFrame, lines: Callable[[pl.DataFrame], pl.Series], limit: int,
                 messages_per_slice: int = 250_000) -> None:
    written = 0
    top = int(frame["msgno"].max() or 0)
    with path.open("wb") as out:
        for lo in range(0, top + 1, messages_per_slice):
            part = frame.filter(pl.col("msgno").is_between(lo, lo + messages_per_slice - 1))
            if part.is_empty() or written >= limit:
                continue
            chunk = lines(part).head(limit - written)
            pl.DataFrame({"l": chunk}).write_csv(out, include_header=False, quote_style="never")
            written += len(chunk)


def _warm(path: Path) -> None:
    """Read a file once, so that no contender pays for reading it from disk."""
    with path.open("rb") as f:
        while f.read(1 << 24):
            pass


def prepare(workdir: Path, n: int) -> dict[str, Path]:
    """Write the input files once per size (kept between runs)."""
    from workbench.synth import World, simulate, writers

    files = {k: workdir / f"{n}-{k}" for k in ("canonical.csv", "canonical.parquet", "maillog", "sendgrid.jsonl", "ses.jsonl")}
    if all(p.exists() for p in files.values()):
        return files
    workdir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    _, _, msgs, events, _ = simulate(n, seed=11, end=date(2026, 11, 26))
    events = events.head(n)
    canonical = events.select(CANONICAL).sort("ts")
    canonical.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(files["canonical.csv"])
    canonical.write_parquet(files["canonical.parquet"], row_group_size=1 << 20)
    ev = events.join(msgs.select("msgno", "remote_ip"), on="msgno").with_columns(sent_at=pl.col("ts").min().over("msgno"))
    world = World()
    aliases = {ip: f"postfix-{i}" for i, ip in enumerate(ev["sending_ip"].unique().to_list())}
    mta = ev.filter(pl.col("event_type").is_in(writers.MTA_EVENTS))
    # the text formats are written a slice of messages at a time: whole messages per slice,
    # and never all of a 10M-event file's strings in memory at once
    _write_lines(files["maillog"], mta, lambda part: writers.postfix_lines(part, aliases), n)
    _write_lines(files["sendgrid.jsonl"], ev, lambda part: writers.sendgrid_lines(part.sort("ts")), n)
    _write_lines(files["ses.jsonl"], ev.head(n // 5), writers.ses_lines, n // 5)
    assert world
    print(f"prepared inputs in {time.perf_counter() - t:.0f} s under {workdir}")
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--baseline-sample", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/workbench-bench-load"))
    ap.add_argument("--clean", action="store_true", help="delete the inputs afterwards")
    args = ap.parse_args()
    files = prepare(args.workdir, args.events)
    db = str(args.workdir / "bench.duckdb")
    sample = str(args.baseline_sample)

    results: dict[str, Result] = {}
    plan = [
        ("duckdb read_csv (limit)", DUCKDB_RAW, [db, str(files["canonical.csv"])]),
        ("workbench load csv", OURS, [db, str(files["canonical.csv"])]),
        ("pandas read_csv + insert", PANDAS, [db, str(files["canonical.csv"])]),
        ("duckdb read_parquet (limit)", DUCKDB_RAW, [db, str(files["canonical.parquet"])]),
        ("workbench load parquet", OURS, [db, str(files["canonical.parquet"])]),
        ("postfix line-by-line python", POSTFIX_BASELINE, [db, str(files["maillog"]), sample]),
        ("postfix line-by-line same output", POSTFIX_SAME, [db, str(files["maillog"]), sample]),
        ("workbench load postfix", OURS, [db, str(files["maillog"]), "lines"]),
        ("sendgrid line-by-line python", JSON_BASELINE, [db, str(files["sendgrid.jsonl"]), sample, "sendgrid"]),
        ("sendgrid line-by-line same output", JSON_SAME, [db, str(files["sendgrid.jsonl"]), sample, "sendgrid"]),
        ("workbench load sendgrid", OURS, [db, str(files["sendgrid.jsonl"]), "lines"]),
        ("ses line-by-line python", JSON_BASELINE, [db, str(files["ses.jsonl"]), str(args.baseline_sample // 5), "ses"]),
        ("ses line-by-line same output", JSON_SAME, [db, str(files["ses.jsonl"]), str(args.baseline_sample // 5), "ses"]),
        ("workbench load ses", OURS, [db, str(files["ses.jsonl"]), "lines"]),
    ]
    for name, code, argv in plan:
        _warm(Path(argv[1]))  # every contender starts with its input in the page cache
        results[name] = run(name, code, *argv)
        r = results[name]
        print(f"  {name:32s} {r.rows:>11,} rows {r.seconds:8.1f} s {r.rate / 1e6:6.2f} M rows/s  peak {r.peak_mib:7.0f} MiB", flush=True)

    def ratio(ours: str, other: str) -> str:
        return f"{results[ours].rate / results[other].rate:.2f}x"

    lines = {
        "postfix": "workbench load postfix", "sendgrid": "workbench load sendgrid", "ses": "workbench load ses",
    }
    rows = []  # our loaders of logs and JSON count input lines (records), like the baselines
    for name, r in results.items():
        rows.append((name, f"{r.rows:,}", f"{r.seconds:.1f}", f"{r.rate / 1e6:.2f}", f"{r.peak_mib:.0f}"))
    print()
    print(table(rows, ("contender", "rows (lines for logs)", "seconds", "M rows/s", "peak MiB")))
    print()
    print("ratios (rows/s):")
    print(f"  csv:     ours / duckdb read_csv     = {ratio('workbench load csv', 'duckdb read_csv (limit)')}  (target >= 0.7x)")
    print(f"  csv:     ours / pandas              = {ratio('workbench load csv', 'pandas read_csv + insert')}")
    print(f"  parquet: ours / duckdb read_parquet = {ratio('workbench load parquet', 'duckdb read_parquet (limit)')}  (target >= 0.7x)")
    for fmt, unit in (("postfix", "lines/s"), ("sendgrid", "input records/s"), ("ses", "input records/s")):
        print(f"  {fmt + ':':9s} ours / line-by-line lean        = {ratio(lines[fmt], f'{fmt} line-by-line python')}"
              f"  (target >= 10x; {unit})")
        print(f"  {fmt + ':':9s} ours / line-by-line same output = {ratio(lines[fmt], f'{fmt} line-by-line same output')}")
    peak = max(r.peak_mib for n, r in results.items() if n.startswith("workbench"))
    print(f"  peak memory of our loaders: {peak:.0f} MiB (target < 2048 MiB)")
    if args.clean:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
