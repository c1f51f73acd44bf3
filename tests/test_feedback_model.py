"""The feedback records: the working Delivery, the frozen Bounce / Complaint / Report, and
the package's public surface."""

from __future__ import annotations

import dataclasses

import pytest

import workbench.feedback as feedback
from workbench.feedback.model import Bounce, Complaint, Delivery, Origin, Report


def test_delivery_set_if_empty() -> None:
    d = Delivery(recipient="a@example.org", status="5.1.1")
    d.set_if_empty("status", "4.2.2")
    d.set_if_empty("reply_code", "550")
    d.set_if_empty("command", "")
    assert (d.status, d.reply_code, d.command) == ("5.1.1", "550", "")


def test_results_are_frozen() -> None:
    bounce = Bounce(recipient="a@example.org", reason="userunknown", hard=True, rule="status:5.1.1", action="failed",
                    status="5.1.1", reply_code=550, diagnostic="x", command="RCPT", remote_mta=None, reporting_mta=None,
                    agent="postfix")
    complaint = Complaint(feedback_type="abuse", recipient=None, recipient_redacted=True, provider="yahoo", user_agent=None,
                          source_ip=None, arrival_date=None, reported_domain=None, reporting_mta=None,
                          original_mail_from=None, auth_results=None, version="1", format="arf", rule="arf:feedback-report")
    for record in (bounce, complaint, Origin(), Report(kind="none")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.agent = "other"  # type: ignore[misc]


def test_report_defaults() -> None:
    report = Report(kind="none")
    assert report.bounces == () and report.complaints == () and report.origin == Origin() and report.error is None


def test_public_surface_is_complete_and_sorted() -> None:
    names = feedback.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(feedback, name), name
    assert "parse_message" in names


def test_a_new_delivery_is_empty() -> None:
    d = Delivery()
    assert all(getattr(d, f.name) == "" for f in dataclasses.fields(d))
    assert Delivery(recipient="a@b") != Delivery(recipient="c@d")
