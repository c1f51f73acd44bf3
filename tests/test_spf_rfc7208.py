"""Conformance: the OpenSPF RFC 7208 test suite, every test, through ``check_host``."""

from __future__ import annotations

import pytest

from tests.conftest import require_corpus
from tests.spf_suite import load_suite
from workbench.auth.spf import check_host

pytestmark = pytest.mark.corpus


def test_rfc7208_suite_passes_in_full() -> None:
    path = require_corpus("spf", "rfc7208-tests.yml")
    failures, count = [], 0
    for test_id, test, resolver in load_suite(path):
        count += 1
        expected = test["result"] if isinstance(test["result"], list) else [test["result"]]
        got = check_host(str(test["host"]), test.get("mailfrom", ""), test.get("helo", ""), resolver=resolver,
                         receiver=test.get("receiver", "unknown"))
        if got.result not in expected:
            failures.append(f"{test_id}: expected {expected}, got {got.result} ({got.explanation})")
        elif test.get("explanation") not in (None, "DEFAULT") and got.explanation != test["explanation"]:
            failures.append(f"{test_id}: explanation {got.explanation!r} != {test['explanation']!r}")
    assert count == 203
    assert failures == [], "\n".join(failures)


def test_ptr_cname_loop_is_neutral() -> None:
    path = require_corpus("spf", "rfc7208-tests.yml")
    found = [(t, r) for test_id, t, r in load_suite(path) if test_id == "ptr-cname-loop"]
    assert len(found) == 1
    test, resolver = found[0]
    assert check_host(test["host"], test["mailfrom"], test["helo"], resolver=resolver).result == "neutral"
