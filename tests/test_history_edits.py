"""FREQUENCY and UNITS_OVER_POLICY_LIMIT against the claim history (Editor(history=...))."""

from pathlib import Path

import pytest

from j9330_rules import Editor, Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, codes, make_claim

LIMIT_SPEC = """
# TEST FIXTURE payer: a made-up "25 units per 7 days" limit, the shape of the Magellan VP-0166 limit.
ruleset: fixture_limit
version: "0"
title: Test fixture unit limit
applies_to: [fixture_limit]
parameters:
  units_limit:
    - {value: 25, source: "TEST FIXTURE: not a real policy"}
  units_limit_days:
    - {value: 7, source: "TEST FIXTURE: not a real policy"}
rules: []
"""


def claim_on(date: str, claim_id: str, member: str = "MEMBER-1", payer: str = "medicare", **changes):
    claim = make_claim(claim_id=claim_id, payer=payer, **changes)
    claim["patient"]["member_id"] = member
    for line in claim["lines"]:
        line["service_date"] = date
    return claim


@pytest.fixture
def history_editor(tmp_path):
    spec = tmp_path / "limit.yaml"
    spec.write_text(LIMIT_SPEC)
    plugin = SpecPayerPlugin(Payer("fixture_limit", "Fixture limit (test)", policy_sourced=True), spec)
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history=tmp_path / "history.sqlite", plugins=[plugin])


def test_a_dose_six_days_after_a_recorded_one_is_flagged(history_editor):
    assert codes(history_editor.check(claim_on("2026-03-02", "A"))) == []
    result = history_editor.check(claim_on("2026-03-08", "B"))
    finding = next(f for f in result.findings if f.code == "FREQUENCY")
    assert finding.severity == "review" and "6 day(s)" in finding.message


def test_seven_days_apart_is_weekly_dosing(history_editor):
    history_editor.check(claim_on("2026-03-02", "A"))
    assert "FREQUENCY" not in codes(history_editor.check(claim_on("2026-03-09", "B")))


def test_rechecking_the_same_claim_does_not_count_it_twice(history_editor):
    first = history_editor.check(claim_on("2026-03-02", "A"))
    again = history_editor.check(claim_on("2026-03-02", "A"))
    assert first == again and "FREQUENCY" not in codes(again)


def test_history_is_per_patient(history_editor):
    history_editor.check(claim_on("2026-03-02", "A", member="MEMBER-1"))
    assert "FREQUENCY" not in codes(history_editor.check(claim_on("2026-03-05", "B", member="MEMBER-2")))


def test_blocking_claims_are_not_recorded(history_editor):
    bad = claim_on("2026-03-02", "A")
    bad["lines"][0]["units"] = 0  # UNITS_INVALID: rejected, so not billed
    assert history_editor.check(bad).blocking
    assert "FREQUENCY" not in codes(history_editor.check(claim_on("2026-03-05", "B")))


def test_two_dates_on_one_claim_need_no_history():
    claim = make_claim()
    extra = [dict(line, line=line["line"] + 3, service_date="2026-03-05") for line in claim["lines"]]
    claim["lines"] += extra
    assert "FREQUENCY" in codes(Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE).check(claim))


def test_units_over_a_payer_limit_in_the_window(history_editor):
    assert "UNITS_OVER_POLICY_LIMIT" not in codes(
        history_editor.check(claim_on("2026-03-02", "A", payer="fixture_limit"))
    )
    later = history_editor.check(claim_on("2026-03-09", "B", payer="fixture_limit"))  # a new 7-day window
    assert "UNITS_OVER_POLICY_LIMIT" not in codes(later)
    close = history_editor.check(claim_on("2026-03-12", "C", payer="fixture_limit"))  # 25 + 25 in 7 days
    finding = next(f for f in close.findings if f.code == "UNITS_OVER_POLICY_LIMIT")
    assert finding.severity == "deny" and finding.carc == "151" and "50 units in 7 days" in finding.message


def test_member_id_never_reaches_the_database_in_clear(history_editor, tmp_path):
    history_editor.check(claim_on("2026-03-02", "A", member="ZEBULON-SECRET-42"))
    history_editor.history.close()
    raw = b"".join(p.read_bytes() for p in Path(tmp_path).glob("history.sqlite*"))
    assert b"ZEBULON-SECRET-42" not in raw
