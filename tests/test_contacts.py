"""Contacts: address checks, the attribute schema, imports (files and frames), upsert by
email, lists and the history of changes."""

from __future__ import annotations

import gzip
import os
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from workbench.audience.contacts import Stager, canonical_name, parse_frame, sniff_header
from workbench.audience.directory import contact, history, import_contacts, subscriptions
from workbench.audience.emails import check, check_series, is_disposable_domain, is_role_local
from workbench.errors import InputError, ParseError
from workbench.sources import contacts as contacts_format
from workbench.sources import registry
from workbench.store import Store
from workbench.store.loading import load_paths

T0 = datetime(2026, 1, 1)


@pytest.mark.parametrize(("raw", "email", "ascii_", "error"), [
    ("Jean.Dupont@Example.FR", "jean.dupont@example.fr", "jean.dupont@example.fr", None),
    ("  <Bob@Example.com> ", "bob@example.com", "bob@example.com", None),
    ("mailto:ann@example.com", "ann@example.com", "ann@example.com", None),
    ("user@münchen.de", "user@münchen.de", "user@xn--mnchen-3ya.de", None),
    ("josé@exämple.fr", "josé@exämple.fr", "josé@xn--exmple-cua.fr", None),
    ("a..b@example.com", None, None, "two periods"),
    ("nobody@", None, None, "after the @-sign"),
    ("x@localhost", None, None, "should have a period"),
    ("x@foo.test", None, None, "special-use"),
    ("a b@example.com", None, None, "invalid characters"),
    ("", None, None, "no address"),
    (None, None, None, "no address"),
])
def test_address_check(raw: str | None, email: str | None, ascii_: str | None, error: str | None) -> None:
    a = check(raw)
    assert (a.email, a.email_ascii) == (email, ascii_)
    assert (a.error is None) if error is None else (error in (a.error or ""))


def test_role_and_disposable_flags() -> None:
    assert check("Postmaster@example.com").is_role and check("sales+eu@example.com").is_role
    assert not check("jean.sales@example.com").is_role
    assert check("x@mailinator.com").is_disposable and is_disposable_domain("mx.mailinator.com")
    assert not check("x@gmail.com").is_disposable and not is_disposable_domain("com")
    assert is_role_local("INFO") and not is_role_local("informatics")


def test_check_series_keeps_order_and_checks_each_value_once() -> None:
    frame = check_series(pl.Series(["B@x.example", None, "bad@", "b@x.example", "B@x.example"]))
    assert frame["email"].to_list() == ["b@x.example", None, None, "b@x.example", "b@x.example"]
    assert frame["email_error"].is_null().to_list() == [True, False, False, True, True]


def test_names_and_sniffing() -> None:
    assert canonical_name(" E-mail ") == "email" and canonical_name("First Name") == "first_name"
    assert canonical_name("Zip Code") == "postal_code" and canonical_name("loyalty tier") == "loyalty_tier"
    assert sniff_header(["Email", "age"]) and sniff_header(["email"]) and sniff_header(["id", "E-mail"])
    assert not sniff_header(["ts", "event_type", "email"]) and not sniff_header(["When", "Status", "Email", "Campaign"])
    assert not sniff_header(["email", "first_name", "message_id"]) and sniff_header(["email", "Loyalty", "Country"])
    assert contacts_format.sniff(b"\xef\xbb\xbfE-mail,Name\nx@y.example,X\n", Path("c.csv"))
    assert not contacts_format.sniff(b"ts,event_type,recipient\n", Path("e.csv"))
    assert not contacts_format.sniff(b'{"email": "x@y.example"}\n', Path("c.json"))
    assert "contacts" in [f.name for f in registry.FORMATS]


def test_parse_frame_types_and_rejects() -> None:
    frame = pl.DataFrame({
        "Email": ["a@x.example", "b@x.example", "c@x.example", "bad@", "d@x.example", "e@x.example"],
        "Age": ["34", "34.0", "abc", "20", "200", None],
        "signup_at": ["2026-01-02T03:04:05Z", "2026-01-02", "2026-01-02 03:04:05+02:00", None, None, "yesterday"],
        "Country": ["fr", "France", None, None, None, None],
        "lists": ["Newsletter; promotions", "alerts|newsletter,alerts", "", None, None, None],
        "Loyalty Tier": ["gold", None, "si\"lver", None, None, None],
    })
    rows, rejects = parse_frame(frame, source="f", as_of=T0)
    assert rows["email"].to_list() == ["a@x.example", "b@x.example"]
    assert rows["age"].to_list() == [34, 34]
    assert rows["signup_at"].to_list() == [datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2)]
    assert rows["country"].to_list() == ["FR", "France"]
    assert rows["lists"].to_list() == [["newsletter", "promotions"], ["alerts", "newsletter"]]
    assert rows["attributes"].to_list() == ['{"loyalty_tier":"gold"}', None]
    assert rows["line_no"].to_list() == [1, 2] and rows["as_of"].to_list() == [T0, T0]
    reasons = {r.position: r.reason for r in rejects}
    assert reasons["row 3"] == "age: abc is not a whole number of years between 0 and 130"
    assert reasons["row 4"].startswith("email: ")
    assert "age: 200" in reasons["row 5"]
    assert reasons["row 6"] == "signup_at: yesterday is not a date or an ISO 8601 time"
    assert rejects[0].excerpt.startswith("c@x.example,abc,")


def test_parse_frame_header_errors_and_mapping() -> None:
    with pytest.raises(ParseError, match="no email column"):
        parse_frame(pl.DataFrame({"name": ["x"]}), source="f", as_of=T0)
    with pytest.raises(ParseError, match="two columns mean 'email'"):
        parse_frame(pl.DataFrame({"email": ["a@x.example"], "E-mail": ["b@x.example"]}), source="f", as_of=T0)
    rows, _ = parse_frame(pl.DataFrame({"Courriel": ["a@x.example"], "Âge": ["40"]}), source="f", as_of=T0,
                          mapping={"email": "Courriel", "age": "Âge"})
    assert rows.select("email", "age").row(0) == ("a@x.example", 40)
    rows, _ = parse_frame(pl.DataFrame({"email": ["a@x.example"]}), source="f", as_of=T0)
    assert rows["lists"].to_list() == [None]  # no lists column: lists are left alone


def _write(path: Path, text: str, mtime: datetime) -> Path:
    path.write_bytes(text.encode("utf-8"))
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_import_a_file_then_update_it(store: Store, tmp_path: Path) -> None:
    first = _write(tmp_path / "c1.csv", "\ufeffcontact_id,Email,first_name,age,city,lists,vip\n"
                   "C1,Ann@X.example,Ann,30,Paris,newsletter;alerts,yes\n"
                   "C2,bob@x.example,Bob,41,\"Lyon, Rhône\",promotions,\n"
                   "C3,bad@,Bad,1,,,\n"
                   "C4,ann@x.example,Dup,2,,,\n", datetime(2026, 1, 1, 12))
    seen: list[tuple[int, int]] = []
    report = import_contacts(store, first, progress=lambda done, total: seen.append((done, total)))
    assert (report.status, report.rows, report.created, report.changed, report.rejected) == ("loaded", 4, 2, 0, 2)
    assert report.reasons == {"email": 1, "duplicate": 1}
    assert [r.position for r in report.rejects] == ["line 4", "line 5"]
    assert "the same address as line 2" in report.rejects[1].reason
    assert seen and seen[-1][0] == seen[-1][1]
    ann = contact(store, "ANN@x.example")
    assert ann is not None and (ann["contact_id"], ann["first_name"], ann["age"], ann["attributes"]) == ("C1", "Ann", 30, '{"vip":"yes"}')
    assert ann["created_at"] == datetime(2026, 1, 1, 12)
    assert [(x["list_name"], x["status"]) for x in ann["lists"]] == [("alerts", "subscribed"), ("newsletter", "subscribed")]
    assert contact(store, "C2")["city"] == "Lyon, Rhône"  # type: ignore[index]
    assert import_contacts(store, first).status == "skipped"
    assert store.scalar("SELECT count(*) FROM quarantine WHERE file = ?", [str(first)]) == 2

    second = _write(tmp_path / "c2.csv", "email,age,city,lists,vip\n"
                    "ann@x.example,31,,newsletter,no\n"          # age and vip change, city kept, alerts dropped
                    "carl@x.example,50,Nice,,\n", datetime(2026, 2, 1))
    report = import_contacts(store, second)
    assert (report.created, report.changed, report.rejected) == (1, 1, 0)
    changes = history(store, "C1").select("changed_at", "field", "old_value", "new_value").rows()
    assert changes == [(datetime(2026, 2, 1), "age", "30", "31"), (datetime(2026, 2, 1), "attributes.vip", "yes", "no"),
                       (datetime(2026, 2, 1), "list:alerts", "subscribed", "unsubscribed")]
    ann = contact(store, "C1")
    assert (ann["age"], ann["city"], ann["attributes"], ann["updated_at"]) == (31, "Paris", '{"vip":"no"}', datetime(2026, 2, 1))  # type: ignore[index]
    assert subscriptions(store, "C1").select("list_name", "status").rows() == [("alerts", "unsubscribed"), ("newsletter", "subscribed")]
    carl = contact(store, "carl@x.example")
    assert carl is not None and carl["contact_id"].startswith("c") and len(carl["contact_id"]) == 17 and carl["lists"] == []

    older = _write(tmp_path / "c0.csv", "email,age\nann@x.example,29\n", datetime(2025, 12, 1))
    assert import_contacts(store, older).changed == 0
    assert contact(store, "C1")["age"] == 31  # type: ignore[index]


def test_address_change_and_id_conflicts(store: Store) -> None:
    import_contacts(store, pl.DataFrame({"contact_id": ["C1", "C2"], "email": ["a@x.example", "b@x.example"]}), as_of=T0)
    # C1 moves to a new address: recorded as a change of the same contact
    report = import_contacts(store, pl.DataFrame({"contact_id": ["C1"], "email": ["a.new@x.example"]}),
                             as_of=datetime(2026, 2, 1))
    assert (report.created, report.changed) == (0, 1)
    assert history(store, "C1").select("field", "old_value", "new_value").rows() == [("email", "a@x.example", "a.new@x.example")]
    assert contact(store, "a@x.example") is None and contact(store, "a.new@x.example")["contact_id"] == "C1"  # type: ignore[index]
    # an id that is another stored address's, on a stored address: refused
    report = import_contacts(store, pl.DataFrame({"contact_id": ["C1", "C9", "C9"],
                                                  "email": ["b@x.example", "c@x.example", "d@x.example"]}),
                             as_of=datetime(2026, 3, 1))
    assert [(r.position, r.reason) for r in report.rejects] == [
        ("row 1", "contact_id C1 belongs to a.new@x.example, and b@x.example is another stored contact"),
        ("row 3", "contact_id C9 is also given to row 2")]
    assert contact(store, "C2")["email"] == "b@x.example"  # type: ignore[index]
    assert contact(store, "c@x.example")["contact_id"] == "C9"  # type: ignore[index]


def test_stager_dedupes_across_chunks(store: Store) -> None:
    rows_a, _ = parse_frame(pl.DataFrame({"email": ["a@x.example"], "_line_no": [2]}), source="f", as_of=T0)
    rows_b, _ = parse_frame(pl.DataFrame({"email": ["A@x.example", "b@x.example"], "_line_no": [9, 10]}), source="f", as_of=T0)

    class Sink:
        def __init__(self) -> None:
            self.staged: list[pl.DataFrame] = []

        def add_rows(self, table: str, frame: pl.DataFrame) -> None:
            self.staged.append(frame)

        def query(self, sql: str, params: dict[str, object] | None = None) -> pl.DataFrame:
            return store.query(sql, params)

    stager, sink = Stager(), Sink()
    assert stager.feed(rows_a, sink) == []
    rejects = stager.feed(rows_b, sink)
    assert [(r.position, r.reason) for r in rejects] == [("line 9", "duplicate: the same address as line 2 (a@x.example)")]
    assert stager.staged == 2 and [len(f) for f in sink.staged] == [1, 1]


def test_load_recognises_contacts_gz_and_parquet(store: Store, tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    with gzip.open(tmp_path / "in" / "a.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("email,country\nx@a.example,FR\nnot-an-address,FR\n")
    pl.DataFrame({"EMAIL": ["y@a.example", "x@a.example"], "age": [40, 50], "tier": ["gold", "silver"]}).write_parquet(
        tmp_path / "in" / "b.parquet")
    summary = load_paths(store, [tmp_path / "in"])
    assert [(f.format, f.status, f.rows_quarantined) for f in summary.files] == [("contacts", "loaded", 1), ("contacts", "loaded", 0)]
    assert summary.exit_code == 2
    rows = store.query("SELECT email, country, age, attributes FROM contacts ORDER BY email").rows()
    assert rows == [("x@a.example", "FR", 50, '{"tier":"silver"}'), ("y@a.example", None, 40, '{"tier":"gold"}')]
    reason = store.query("SELECT position, reason FROM quarantine").row(0)
    assert reason[0] == "line 3" and reason[1].startswith("email: ")


def test_import_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_contacts(store, tmp_path / "missing.csv")
    bad = _write(tmp_path / "x.csv", "email\n", T0)
    assert import_contacts(store, bad).rows == 0
    report = import_contacts(store, _write(tmp_path / "y.csv", "email,email_address\na@x.example,b@x.example\n", T0),
                             mapping={"email": "email"})
    assert report.status == "failed" and "two columns mean 'email'" in (report.message or "")
    frame = import_contacts(store, pl.DataFrame({"email": ["a@x.example"]}).to_pandas(), source="pandas")
    assert frame.created == 1 and contact(store, "a@x.example")["source"] == "pandas"  # type: ignore[index]
    assert frame.as_dict()["unchanged"] == 0
