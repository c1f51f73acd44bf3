"""The audience seam: frames, records, a contacts file by list, the store's contacts table,
and a segments module when one exists."""

from __future__ import annotations

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


def _import(store):
    from workbench.audience.directory import import_contacts

    frame = pl.DataFrame({"email": ["ana@x.example", "bo@x.example", "cy@x.example"], "first_name": ["Ana", "Bo", "Cy"],
                          "age": [29, 52, 31], "lists": ["newsletter", "promotions", "newsletter"],
                          "tier_code": ["gold", "silver", "gold"]})
    import_contacts(store, frame)
    return dict(store.query("SELECT email, contact_id FROM contacts").iter_rows())


def test_contacts_table_when_contacts_were_imported(send_store):
    assert audience(send_store, "all")["email"].len() > 3  # nothing imported yet: the world's contacts file
    ids = _import(send_store)
    everyone = audience(send_store, "all")
    assert sorted(everyone["email"]) == sorted(ids)
    newsletter = audience(send_store, "newsletter")
    assert sorted(newsletter["email"]) == ["ana@x.example", "cy@x.example"]
    assert newsletter.filter(pl.col("email") == "ana@x.example")["tier_code"][0] == "gold"  # from the attributes JSON


def test_a_saved_segment_is_evaluated_now(send_store):
    from workbench.audience import segments
    from workbench.audience.compile import Definition

    ids = _import(send_store)
    segments.create(send_store, Definition.from_dict({"name": "young", "rule": {"attribute": "age", "between": [25, 34]}}))
    young = audience(send_store, "young")
    assert sorted(young["contact_id"]) == sorted([ids["ana@x.example"], ids["cy@x.example"]])
    assert {"first_name", "age", "tier_code"} <= set(young.columns)
    assert young.columns[:2] == ["contact_id", "email"]
    assert audience(send_store, "promotions")["email"].to_list() == ["bo@x.example"]  # not a segment: the list
    with pytest.raises(ConfigError, match=r"neither a saved segment \(young\) nor a list .*newsletter, promotions"):
        audience(send_store, "yuong")  # a typo does not send to nobody silently


def test_free_form_attributes_become_columns_for_templates():
    frame = pl.DataFrame({"contact_id": ["C1", "C2"], "email": ["a@x.example", "b@x.example"], "city": ["Lyon", None],
                          "attributes": ['{"tier": "gold", "city": "ignored", "points": 12}', None]})
    out = normalise(frame)
    assert out.columns == ["contact_id", "email", "city", "points", "tier"]
    assert out.rows() == [("C1", "a@x.example", "Lyon", 12, "gold"), ("C2", "b@x.example", None, None, None)]
