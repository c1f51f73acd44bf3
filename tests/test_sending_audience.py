"""The audience seam: frames, records, a contacts file by list, the store's contacts table,
and a segments module when one exists."""

from __future__ import annotations

import sys
import types

import pandas as pd
import polars as pl
import pytest

from workbench.errors import ConfigError
from workbench.sending.audience import audience, normalise


def test_normalise_trims_lowercases_and_drops_bad_rows():
    frame = pl.DataFrame({"email": [" Ana@Example.COM ", "nobody", "b@x.example", "c@x.example"],
                          "contact_id": [1, 2, None, 1], "lists": ["a", "a", "a", "a"], "city": ["Lyon", "", "", "Nice"]})
    out = normalise(frame)
    assert out.columns == ["contact_id", "email", "city"]
    assert out.rows() == [("1", "ana@example.com", "Lyon")]
    with pytest.raises(ConfigError, match="contact_id and email"):
        normalise(pl.DataFrame({"email": ["a@b.c"]}))


def test_frames_and_records_pass_through(send_store):
    records = [{"contact_id": "C1", "email": "a@x.example", "first_name": "Ana"},
               {"contact_id": "C2", "email": "b@x.example", "first_name": None}]
    assert audience(send_store, records)["first_name"].to_list() == ["Ana", None]
    assert len(audience(send_store, pd.DataFrame(records), limit=1)) == 1
    assert len(audience(send_store, pl.DataFrame(records))) == 2


def test_contacts_file_by_list(send_store, small_world):
    everyone = audience(send_store, "all")  # the default file: <raw>/audience/contacts.csv
    newsletter = audience(send_store, "newsletter")
    same = audience(send_store, "list:newsletter", contacts=small_world / "audience" / "contacts.csv")
    assert 0 < len(newsletter) < len(everyone) and newsletter.equals(same)
    assert "lists" not in newsletter.columns and {"first_name", "city", "age"} <= set(newsletter.columns)
    assert len(audience(send_store, "nobody-list")) == 0
    with pytest.raises(ConfigError, match="no contacts for segment"):
        audience(send_store, "all", contacts=small_world / "missing.csv")


def test_contacts_table_when_the_store_has_one(send_store):
    send_store.execute("CREATE TABLE contacts (contact_id VARCHAR, email VARCHAR, first_name VARCHAR)")
    send_store.execute("CREATE TABLE contact_subscriptions (contact_id VARCHAR, list_name VARCHAR, status VARCHAR)")
    send_store.execute("INSERT INTO contacts VALUES ('C1', 'a@x.example', 'Ana'), ('C2', 'b@x.example', 'Bo')")
    send_store.execute("INSERT INTO contact_subscriptions VALUES ('C1', 'newsletter', 'subscribed'), "
                       "('C2', 'newsletter', 'unsubscribed')")
    assert audience(send_store, "all")["contact_id"].to_list() == ["C1", "C2"]
    assert audience(send_store, "newsletter")["contact_id"].to_list() == ["C1"]


def test_a_segments_module_is_used_when_present(send_store, monkeypatch):
    module = types.ModuleType("workbench.audience.segments")
    module.members = lambda store, name: pl.DataFrame({"contact_id": ["C9"], "email": [f"{name}@x.example"]})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workbench.audience.segments", module)
    assert audience(send_store, "vip").rows() == [("C9", "vip@x.example")]


def test_a_name_the_segments_module_does_not_know_is_a_list(send_store, monkeypatch):
    module = types.ModuleType("workbench.audience.segments")

    def get(store, name):
        if name != "vip":
            raise ConfigError(f"no segment {name!r}")
    module.get = get  # type: ignore[attr-defined]
    module.members = lambda store, name: pl.DataFrame({"contact_id": ["C9"], "email": ["v@x.example"]})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workbench.audience.segments", module)
    assert audience(send_store, "vip")["contact_id"].to_list() == ["C9"]
    newsletter = audience(send_store, "newsletter")  # not a saved segment: the list, from the contacts file
    assert len(newsletter) > 1 and "C9" not in newsletter["contact_id"].to_list()


def test_free_form_attributes_become_columns_for_templates():
    frame = pl.DataFrame({"contact_id": ["C1", "C2"], "email": ["a@x.example", "b@x.example"], "city": ["Lyon", None],
                          "attributes": ['{"tier": "gold", "city": "ignored", "points": 12}', None]})
    out = normalise(frame)
    assert out.columns == ["contact_id", "email", "city", "points", "tier"]
    assert out.rows() == [("C1", "a@x.example", "Lyon", 12, "gold"), ("C2", "b@x.example", None, None, None)]
