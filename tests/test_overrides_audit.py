"""What claim editors expect of an edit engine: overrides, audit record, as-of mode, dispositions."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from j9330_rules import Editor, SpecError, __version__
from j9330_rules.cli import main
from j9330_rules.model import Finding
from j9330_rules.model.disposition import claim_disposition, line_dispositions
from j9330_rules.rules.overrides import parse_overrides
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, codes, make_claim

DOC_WARNING = {"lot": "AB123", "expiration": "2027-01-31", "route": "IM"}  # DOC_INCOMPLETE (warn)


def doc_claim(**changes):
    claim = make_claim(**changes)
    claim["lines"][0]["documentation"] = DOC_WARNING
    return claim


def editor_with(overrides):
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, overrides=parse_overrides(overrides))


def test_a_suppressed_finding_is_recorded_with_its_entry():
    editor = editor_with({"suppress": [{"id": "no-doc", "code": "DOC_INCOMPLETE", "reason": "checked elsewhere"}]})
    result = editor.check(doc_claim())
    assert "DOC_INCOMPLETE" not in codes(result)
    (suppression,) = result.suppressed
    assert suppression.entry == "no-doc" and suppression.reason == "checked elsewhere"
    assert suppression.finding.code == "DOC_INCOMPLETE" and suppression.finding.rule_id == "NAT-DOC-NOT-IV"


@pytest.mark.parametrize(
    ("selector", "applies"),
    [
        ({"payer": "medicare"}, True),
        ({"payer": "aetna"}, False),
        ({"npi": "1234567893"}, True),
        ({"npi": "9999999999"}, False),
        ({"claim_id": "CLM-0001"}, True),
        ({"claim_id": "OTHER"}, False),
        ({"payer": "medicare", "npi": "9999999999"}, False),
    ],
)
def test_overrides_apply_per_payer_npi_and_claim(selector, applies):
    editor = editor_with({"suppress": [{"code": "DOC_INCOMPLETE", "reason": "r", **selector}]})
    result = editor.check(doc_claim())
    assert ("DOC_INCOMPLETE" not in codes(result)) == applies
    assert bool(result.suppressed) == applies


def test_a_severity_override_keeps_the_original():
    editor = editor_with({"severity": [{"code": "DOC_INCOMPLETE", "severity": "deny", "reason": "payer contract"}]})
    finding = next(f for f in editor.check(doc_claim()).findings if f.code == "DOC_INCOMPLETE")
    assert (finding.severity, finding.overridden_from, finding.override) == ("deny", "warn", "severity[0]")
    assert finding.blocking


@pytest.mark.parametrize(
    "bad",
    [
        {"suppress": [{"code": "NOT_A_CODE", "reason": "r"}]},
        {"suppress": [{"code": "DOC_INCOMPLETE"}]},
        {"severity": [{"code": "DOC_INCOMPLETE", "reason": "r"}]},
        {"severity": [{"code": "DOC_INCOMPLETE", "severity": "fatal", "reason": "r"}]},
        {"suppress": [{"code": "DOC_INCOMPLETE", "reason": "r", "provider": "x"}]},
        {"bypass": []},
    ],
)
def test_bad_override_entries_fail_at_load(bad):
    with pytest.raises(SpecError):
        parse_overrides(bad)


def test_the_audit_record(editor):
    claim = make_claim(patient={"birth_date": "1956-04-02", "member_id": "ZEBULON-SECRET"})
    claim["lines"][0]["units"] = 0
    result = editor.check(claim)
    audit = result.audit
    assert audit.package_version == __version__ and audit.as_of is None
    names = [name for name, _version, _sha in audit.rulesets]
    assert names == ["national", "medicare"]
    assert all(len(sha) == 64 for _n, _v, sha in audit.rulesets)
    evidence = {e.rule_id: e for e in audit.evidence}
    assert evidence["NAT-UNITS-INVALID"].line == 1 and evidence["NAT-UNITS-INVALID"].facts["units_valid"] is False
    assert "ZEBULON" not in json.dumps([e.facts for e in audit.evidence])


def test_as_of_chooses_rules_by_processing_date(editor):
    claim = make_claim()
    claim["lines"][0]["units"] = 25
    claim["lines"][0]["dose_mg"] = "25"
    del claim["lines"][1]
    for line in claim["lines"]:
        line["service_date"] = "2023-08-01"
    by_service_date = next(f for f in editor.check(claim).findings if f.code == "JWJZ_MISSING")
    assert by_service_date.severity == "warn"  # Medicare: warn until 2023-09-30
    by_processing = next(
        f for f in editor.check(claim, as_of=dt.date(2023, 10, 2)).findings if f.code == "JWJZ_MISSING"
    )
    assert by_processing.severity == "reject"
    assert editor.check(claim, as_of=dt.date(2023, 6, 1)).audit.as_of == dt.date(2023, 6, 1)
    assert "JWJZ_MISSING" not in codes(editor.check(claim, as_of=dt.date(2023, 6, 1)))


def finding(severity, line):
    return Finding(code="DOC_INCOMPLETE", severity=severity, line=line, message="m")


@pytest.mark.parametrize(
    ("severities", "claim_level"),
    [
        ([], "accept"),
        (["info", "warn"], "accept"),
        (["review", "warn"], "review"),
        (["deny", "review"], "deny_lines"),
        (["reject", "deny"], "return_to_provider"),
    ],
)
def test_claim_disposition_follows_the_worst_severity(severities, claim_level):
    assert claim_disposition([finding(s, 1) for s in severities]) == claim_level


def test_line_dispositions_and_errors():
    findings = [finding("deny", 1), finding("review", 2)]
    assert line_dispositions(findings, [1, 2, 3]) == {1: "deny", 2: "review", 3: "accept"}
    assert line_dispositions([finding("reject", None)], [1, 2]) == {1: "return_to_provider", 2: "return_to_provider"}
    assert claim_disposition([], error="bad") == "not_checked"


def test_results_carry_dispositions(editor):
    claim = make_claim(diagnoses=["E11.9"])
    result = editor.check(claim)
    assert result.disposition == "deny_lines"
    assert result.line_dispositions == {1: "deny", 2: "deny", 3: "accept"}


def test_cli_overrides_as_of_and_json_output(tmp_path):
    overrides = tmp_path / "overrides.toml"
    overrides.write_text('[[suppress]]\ncode = "DOC_INCOMPLETE"\npayer = "medicare"\nreason = "tested elsewhere"\n')
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(doc_claim()))
    out = CliRunner().invoke(
        main, ["check", "--format", "json", "--overrides", str(overrides), "--as-of", "2026-03-02", str(path)]
    )
    assert out.exit_code == 0, out.output
    (result,) = json.loads(out.stdout)
    assert result["suppressed"][0]["entry"] == "suppress[0]"
    assert result["audit"]["as_of"] == "2026-03-02" and result["disposition"] == "accept"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[suppress]]\ncode = "NOPE"\nreason = "x"\n')
    assert CliRunner().invoke(main, ["check", "--overrides", str(bad), str(path)]).exit_code == 2
