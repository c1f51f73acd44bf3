"""Bounce and complaint classification throughput: messages per second, ours against Sisimai.

Two workloads, each run by both classifiers in the same process run (so that they share the
machine's load at that moment):

1. the shared bounce corpus (``../shared/corpus/bounces``, 280 mails from many MTAs), read
   from memory, several rounds;
2. a synthetic Maildir of ``--messages`` messages (default 100,000) cycled from the corpus,
   the hand-written fixtures and the synthetic world's feedback mail, read from disk
   (``workbench.sources.mailbox.iter_messages`` for us, ``Sisimai->make`` for Sisimai).

Sisimai (Debian ``libsisimai-perl``) runs when ``perl -MSisimai`` works, timed inside Perl
(interpreter start-up excluded). Usage::

    python benchmarks/bench_bounces.py [--messages 100000] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.feedback import parse_message  # noqa: E402
from workbench.feedback.rules import default_rules  # noqa: E402
from workbench.sources.mailbox import iter_messages  # noqa: E402

CORPUS = Path(os.environ.get("WORKBENCH_SHARED", ROOT.parent / "shared")) / "corpus" / "bounces"
FIXTURES = ROOT / "tests" / "fixtures" / "bounces"
#: Sisimai->make's own loop (Sisimai.pm), counting the messages read
SISIMAI = r"""
use strict; use warnings; use Sisimai; use Sisimai::Mail; use Sisimai::Message; use Sisimai::Data;
use Time::HiRes qw(time);
my ($messages, $records) = (0, 0);
my $t0 = time;
for my $path (@ARGV) {
    my $mail = Sisimai::Mail->new($path) or next;
    while (my $r = $mail->data->read) {
        $messages++;
        my $mesg = Sisimai::Message->new('data' => $r) or next;
        my $data = Sisimai::Data->make('data' => $mesg, 'delivered' => 1, 'origin' => $mail->data->path);
        $records += scalar @$data if $data;
    }
}
printf "%d %d %.6f\n", $messages, $records, time - $t0;
"""


def sisimai_version() -> str | None:
    try:
        out = subprocess.run(["perl", "-MSisimai", "-e", "print Sisimai->version"], capture_output=True, text=True,
                             timeout=60, check=False)
    except FileNotFoundError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def run_sisimai(paths: list[Path]) -> tuple[int, int, float]:
    """(messages, records, seconds) of Sisimai over ``paths`` (mbox files or Maildir folders)."""
    out = subprocess.run(["perl", "-e", SISIMAI, *map(str, paths)], capture_output=True, text=True, check=True)
    messages, records, seconds = out.stdout.split()
    return int(messages), int(records), float(seconds)


def corpus_files() -> list[Path]:
    if not CORPUS.exists():
        return []
    return sorted(f for f in CORPUS.rglob("*") if f.is_file() and f.name not in ("expected.jsonl", "LICENSE"))


def corpus_messages() -> list[bytes]:
    return [item.data for f in corpus_files() for item in iter_messages(f) if item.data]


def pool(corpus: list[bytes], world_events: int = 300_000) -> list[bytes]:
    """Messages to cycle into the synthetic Maildir."""
    from workbench.synth import generate

    out = Path(tempfile.mkdtemp(prefix="bench-world-"))
    try:
        generate(out, events=world_events, seed=11, end=date(2026, 11, 26))
        world = [item.data for item in iter_messages(out / "mail" / "feedback.mbox")]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    fixtures = [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))] if FIXTURES.exists() else []
    return corpus + fixtures + world


def ours_memory(messages: list[bytes], rounds: int) -> tuple[int, int, float]:
    rules = default_rules()
    records = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        for data in messages:
            report = parse_message(data, rules)
            records += len(report.bounces) + len(report.complaints)
    return len(messages) * rounds, records, time.perf_counter() - t0


def ours_files(paths: list[Path]) -> tuple[int, int, float]:
    """(messages, records, seconds) of ours over ``paths`` (files, mbox files or Maildir folders)."""
    rules = default_rules()
    messages = records = 0
    t0 = time.perf_counter()
    for path in paths:
        for item in iter_messages(path):
            report = parse_message(item.data, rules)
            messages += 1
            records += len(report.bounces) + len(report.complaints)
    return messages, records, time.perf_counter() - t0


def write_maildir(folder: Path, messages: list[bytes], count: int) -> None:
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / "new" / f"{1764000000 + n}.M{n}P1.bench").write_bytes(messages[n % len(messages)])


def line(name: str, who: str, result: tuple[int, int, float]) -> dict[str, object]:
    messages, records, seconds = result
    rate = messages / seconds if seconds else 0.0
    print(f"  {name:<26} {who:<16} {messages:>8,} messages {records:>8,} records {seconds:8.2f} s {rate:>9,.0f} messages/s")
    return {"workload": name, "classifier": who, "messages": messages, "records": records, "seconds": round(seconds, 3),
            "messages_per_second": round(rate, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=100_000, help="size of the synthetic Maildir")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the corpus in memory")
    parser.add_argument("--keep", type=Path, help="build the Maildir here and keep it")
    parser.add_argument("--world-events", type=int, default=300_000,
                        help="size of the synthetic world whose feedback mail joins the pool")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    version = sisimai_version()
    print(f"bounce classification, {os.cpu_count()} cores (shared: figures vary with the machine's load); "
          f"Sisimai {version or 'not installed (perl -MSisimai failed)'}")
    results = []
    corpus = corpus_messages()
    if corpus:
        results.append(line("corpus (memory)", "workbench", ours_memory(corpus, args.rounds)))
        if version:
            results.append(line("corpus (files)", f"Sisimai {version}", run_sisimai(corpus_files())))
            results.append(line("corpus (files)", "workbench", ours_files(corpus_files())))
    else:
        print(f"  (no corpus at {CORPUS}: skipping the corpus workload)")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-maildir-"))
    try:
        t0 = time.perf_counter()
        write_maildir(folder, pool(corpus, args.world_events), args.messages)
        print(f"  wrote a {args.messages:,}-message Maildir in {time.perf_counter() - t0:.1f} s ({folder})")
        results.append(line(f"maildir {args.messages:,}", "workbench", ours_files([folder])))
        if version:
            results.append(line(f"maildir {args.messages:,}", f"Sisimai {version}", run_sisimai([folder / "new"])))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
