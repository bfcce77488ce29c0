"""Medicare's parameters and overrides (specs/medicare.yaml), each against its cited source.

* JW/JZ (CMS JW and JZ Modifier Policy FAQs): JZ required from 2023-07-01; claims
  lacking JW/JZ may be returned as unprocessable from 2023-10-01. So JWJZ_MISSING is
  not raised before 2023-07-01, is a warning 2023-07-01..2023-09-30, and a reject after.
* 340B (Part B inflation rebate guidance, December 2022, revised March 2023): from
  2024-01-01 every 340B covered entity reports JG or TB; TB for critical access, Maryland,
  non-excepted off-campus, rural SCH, children's and PPS-exempt cancer hospitals, JG for
  the others.
* Coverage (FDA label; SSA 1861(t)(2)(B) and MBPM ch. 15 50.4.5): advanced renal cell
  carcinoma, ICD-10-CM C64.-, and the compendial uses (tests/test_policy_sources.py); a
  neoplasm outside them is reviewed, anything else denied.
* MUE (CMS NCCI): the units of a date are checked against the loaded MUE table,
  practitioner for professional claims and outpatient hospital for institutional ones;
  a denial carries CARC 151 / RARC N362. The values are the TEST FIXTURE tables'
  (tests/fixtures/cms: J9330 practitioner 77, outpatient hospital 66, both MAI 3).
* Reference data: without an MUE table or an ASP payment limit covering the date, an
  info finding says so and names the option that loads it.

The dates and lists below are copied from those sources (via
/work/shared/domain/j9330-facts.md), not from the spec, so the spec is checked.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

import pytest
import yaml

from j9330_rules import Editor
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, codes, make_claim

MEDICARE = yaml.safe_load((resources.files("j9330_specs") / "medicare.yaml").read_text("utf-8"))
MEDICARE_RULES = {rule["id"]: rule for rule in MEDICARE["rules"]}
NATIONAL = yaml.safe_load((resources.files("j9330_specs") / "national.yaml").read_text("utf-8"))
NATIONAL_SOURCE = {rule["code"]: rule["source"] for rule in NATIONAL["rules"]}

TB_TYPES = ["critical_access", "maryland", "non_excepted_off_campus", "rural_sch", "childrens", "cancer"]
JG_TYPES = ["dsh", "rural_referral", None]


def on(day: dt.date, claim: dict) -> dict:
    for line in claim["lines"]:
        line["service_date"] = day.isoformat()
    return claim


def full_kit(day: dt.date, modifiers: list[str]) -> dict:
    """25 mg from one 25 mg kit: one administered line (JZ when correct), no JW line."""
    claim = make_claim()
    claim["lines"][0].update(units=25, dose_mg="25", modifiers=modifiers)
    del claim["lines"][1]
    return on(day, claim)


def jwjz_findings(editor, claim):
    return [f for f in editor.check(claim).findings if f.code == "JWJZ_MISSING"]


# --- JW/JZ ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "severity"),
    [
        (dt.date(2017, 1, 1), None),  # JW required since CR9603, JZ not yet in existence
        (dt.date(2022, 12, 31), None),
        (dt.date(2023, 1, 1), None),  # JZ introduced, optional
        (dt.date(2023, 6, 30), None),  # last day before JZ was required
        (dt.date(2023, 7, 1), "warn"),  # JZ required
        (dt.date(2023, 8, 15), "warn"),
        (dt.date(2023, 9, 30), "warn"),  # last day before claims could be returned
        (dt.date(2023, 10, 1), "reject"),  # returned as unprocessable
        (dt.date(2026, 3, 2), "reject"),
    ],
)
def test_jwjz_missing_phases_in_as_cms_required_it(editor, day, severity):
    findings = jwjz_findings(editor, full_kit(day, []))
    if severity is None:
        assert findings == []
        return
    (finding,) = findings
    assert (finding.severity, finding.line, finding.carc, finding.rule_id) == (severity, 1, "16", "NAT-JWJZ-MISSING")
    assert finding.source == NATIONAL_SOURCE["JWJZ_MISSING"]
    assert finding.payer == "medicare"


@pytest.mark.parametrize("day", [dt.date(2023, 7, 1), dt.date(2023, 9, 30), dt.date(2023, 10, 1), dt.date(2026, 3, 2)])
def test_jwjz_missing_not_raised_when_billed_correctly(editor, day):
    assert jwjz_findings(editor, full_kit(day, ["JZ"])) == []
    assert jwjz_findings(editor, on(day, make_claim())) == []  # partial kit: bare line + JW line


def test_jwjz_missing_uses_the_date_of_service_of_each_date(editor):
    """A claim spanning the 2023-10-01 change: each date gets the severity in force on it."""
    claim = full_kit(dt.date(2023, 9, 25), [])
    second = dict(claim["lines"][0], line=4, service_date="2023-10-02")
    claim["lines"].append(second)
    claim["lines"].append(dict(claim["lines"][1], line=5, service_date="2023-10-02"))  # its 96413
    findings = jwjz_findings(editor, claim)
    assert sorted((f.line, f.severity) for f in findings) == [(1, "warn"), (4, "reject")]


def test_jwjz_parameter_and_override_carry_the_cited_dates():
    (period,) = MEDICARE["parameters"]["jwjz_required"]
    assert (period["value"], period["effective_from"]) == (True, "2023-07-01")
    assert "JZ" in period["source"] and "2023-07-01" in period["source"]
    (override,) = [o for o in MEDICARE["severity_overrides"] if o["code"] == "JWJZ_MISSING"]
    assert (override["severity"], override["effective_from"], override["effective_to"]) == (
        "warn",
        "2023-07-01",
        "2023-09-30",
    )
    assert "2023-10-01" in override["source"]


# --- 340B -----------------------------------------------------------------------


def hospital_claim(day: dt.date, hospital_type: str | None, flag: str | None, *, is_340b: bool = True) -> dict:
    """A hospital outpatient claim (TOB 0131, revenue 0636): 20 mg + JW 5, each line flagged ``flag``."""
    claim = make_claim(
        form="institutional",
        type_of_bill="0131",
        place_of_service=None,
        provider={"npi": "1234567893", "is_340b": is_340b, "hospital_type": hospital_type},
    )
    extra = [flag] if flag else []
    claim["lines"][0].update(modifiers=[*extra], revenue_code="0636")
    claim["lines"][1].update(modifiers=["JW", *extra], revenue_code="0636")
    claim["lines"][2].update(revenue_code="0335")
    return on(day, claim)


def findings_340b(editor, claim):
    return [f for f in editor.check(claim).findings if f.code.startswith("MODIFIER_340B")]


@pytest.mark.parametrize("hospital_type", TB_TYPES + JG_TYPES)
def test_340b_flag_missing_is_a_reject_from_2024(editor, hospital_type):
    findings = findings_340b(editor, hospital_claim(dt.date(2024, 1, 1), hospital_type, None))
    assert sorted(f.line for f in findings) == [1, 2]
    expected = "TB" if hospital_type in TB_TYPES else "JG"
    for finding in findings:
        assert (finding.code, finding.severity, finding.carc, finding.rule_id) == (
            "MODIFIER_340B_MISSING",
            "reject",
            "16",  # with N822, 'Missing procedure modifier(s)': CARC 4 no longer covers a missing modifier
            "NAT-340B-MISSING",
        )
        assert f"{expected} applies" in finding.message
        assert finding.source == NATIONAL_SOURCE["MODIFIER_340B_MISSING"]


def without_missing_asp_and_mue(result) -> tuple:
    """The findings, less the info findings that say no ASP file or MUE table covers the date.

    The fixture ASP file covers 2026-01-01..2026-03-31 and the fixture MUE tables take
    effect 2026-01-01 (tests/conftest.py); no fixture covers an earlier date, where
    MCR-ASP-MISSING and MCR-MUE-MISSING rightly report that. Exactly those two are set
    aside (and must be there); every other finding is kept.
    """
    missing = [f for f in result.findings if f.code == "REFERENCE_DATA_MISSING"]
    assert sorted((f.rule_id, f.severity) for f in missing) == [
        ("MCR-ASP-MISSING", "info"),
        ("MCR-MUE-MISSING", "info"),
    ]
    return tuple(f for f in result.findings if f not in missing)


@pytest.mark.parametrize("hospital_type", TB_TYPES + JG_TYPES)
def test_the_right_340b_flag_is_clean(editor, hospital_type):
    flag = "TB" if hospital_type in TB_TYPES else "JG"
    result = editor.check(hospital_claim(dt.date(2024, 1, 1), hospital_type, flag))
    assert without_missing_asp_and_mue(result) == ()
    assert (
        editor.check(hospital_claim(dt.date(2026, 3, 2), hospital_type, flag)).findings == ()
    )  # reference data loaded


@pytest.mark.parametrize("hospital_type", TB_TYPES + JG_TYPES)
def test_the_wrong_340b_flag_is_a_warning_from_2024(editor, hospital_type):
    wrong = "JG" if hospital_type in TB_TYPES else "TB"
    right = "TB" if wrong == "JG" else "JG"
    findings = findings_340b(editor, hospital_claim(dt.date(2026, 3, 2), hospital_type, wrong))
    assert sorted(f.line for f in findings) == [1, 2]
    for finding in findings:
        assert (finding.code, finding.severity, finding.carc, finding.rule_id) == (
            "MODIFIER_340B_WRONG",
            "warn",
            "4",
            "NAT-340B-WRONG",
        )
        assert f"{wrong} billed" in finding.message and f"{right} applies" in finding.message
        assert finding.source == NATIONAL_SOURCE["MODIFIER_340B_WRONG"]


def test_critical_access_takes_tb_and_dsh_takes_jg(editor):
    day = dt.date(2024, 3, 1)
    assert [f.code for f in findings_340b(editor, hospital_claim(day, "critical_access", "JG"))] == [
        "MODIFIER_340B_WRONG"
    ] * 2
    assert findings_340b(editor, hospital_claim(day, "critical_access", "TB")) == []
    assert [f.code for f in findings_340b(editor, hospital_claim(day, "dsh", "TB"))] == ["MODIFIER_340B_WRONG"] * 2
    assert findings_340b(editor, hospital_claim(day, "dsh", "JG")) == []


@pytest.mark.parametrize("day", [dt.date(2018, 1, 1), dt.date(2023, 6, 30), dt.date(2023, 12, 31)])
@pytest.mark.parametrize(
    ("hospital_type", "flag"), [("critical_access", None), ("dsh", None), ("critical_access", "JG"), ("dsh", "TB")]
)
def test_no_340b_edits_before_2024(editor, day, hospital_type, flag):
    assert findings_340b(editor, hospital_claim(day, hospital_type, flag)) == []


@pytest.mark.parametrize("flag", [None, "JG", "TB"])
def test_no_340b_edits_for_a_provider_outside_340b(editor, flag):
    assert findings_340b(editor, hospital_claim(dt.date(2026, 3, 2), "critical_access", flag, is_340b=False)) == []


def test_340b_parameters_carry_the_cited_date_and_tb_list():
    (flags,) = MEDICARE["parameters"]["requires_340b_flags"]
    assert (flags["value"], flags["effective_from"]) == (True, "2024-01-01")
    (tb,) = MEDICARE["parameters"]["tb_hospital_types"]
    assert tb["effective_from"] == "2024-01-01"
    assert sorted(tb["value"]) == sorted(TB_TYPES)


# --- coverage -----------------------------------------------------------------------


@pytest.mark.parametrize("diagnosis", ["E11.9", "I10", "M54.5"])
def test_a_diagnosis_that_is_not_a_neoplasm_is_not_covered(editor, diagnosis):
    result = editor.check(make_claim(diagnoses=[diagnosis]))
    findings = [f for f in result.findings if f.code == "DX_NOT_COVERED"]
    assert sorted(f.line for f in findings) == [1, 2]  # both J9330 lines; not the 96413 line
    for finding in findings:
        assert (finding.severity, finding.carc, finding.rarc, finding.rule_id) == (
            "deny",
            "11",
            None,
            "NAT-DX-NOT-COVERED",
        )
        assert finding.source == NATIONAL_SOURCE["DX_NOT_COVERED"]


@pytest.mark.parametrize("diagnosis", ["C50.911", "C34.90", "C65.1", "C61"])
def test_a_neoplasm_outside_the_listed_uses_is_reviewed_not_denied(editor, diagnosis):
    """MBPM ch. 15 50.4.5: 'Do not deny coverage based solely on the absence of FDA-approved labeling'."""
    result = editor.check(make_claim(diagnoses=[diagnosis]))
    assert "DX_NOT_COVERED" not in codes(result)
    assert [f.line for f in result.findings if f.code == "DX_COVERAGE_UNVERIFIED"] == [1, 2]


@pytest.mark.parametrize("diagnosis", ["C64.1", "C64.2", "C64.9", "C641", "c64.9"])
def test_kidney_cancer_is_covered(editor, diagnosis):
    result = editor.check(make_claim(diagnoses=[diagnosis]))
    assert "DX_NOT_COVERED" not in codes(result)
    assert result.findings == ()


def test_coverage_is_judged_on_the_diagnoses_the_drug_line_points_to(editor):
    claim = make_claim(diagnoses=["E11.9", "C64.1"])
    for line in claim["lines"]:
        line["dx_pointers"] = [1]
    claim["lines"][2]["dx_pointers"] = [2]  # the RCC diagnosis only on the administration line
    assert [f.line for f in editor.check(claim).findings if f.code == "DX_NOT_COVERED"] == [1, 2]
    claim["lines"][0]["dx_pointers"] = claim["lines"][1]["dx_pointers"] = [1, 2]
    assert "DX_NOT_COVERED" not in codes(editor.check(claim))


def test_medicare_does_not_require_ndc_or_prior_authorization(editor):
    claim = make_claim(prior_authorization=None)
    for line in claim["lines"]:
        line.pop("ndc", None)
    result = editor.check(claim)
    assert not {"NDC_MISSING", "PRIOR_AUTH_MISSING"} & set(codes(result))
    assert "PAYER_POLICY_NOT_PROVIDED" not in codes(result)  # Medicare's policy is sourced


# --- MUE ------------------------------------------------------------------------------

# The TEST FIXTURE MUE tables (tests/fixtures/cms), not CMS values.
MUE = {"professional": (77, "practitioner"), "institutional": (66, "outpatient hospital")}


def mue_claim(form: str, administered: int, discarded: int | None = None, day: dt.date = dt.date(2026, 3, 2)) -> dict:
    """``administered`` units (dose documented) plus a JW line of ``discarded`` units, or JZ without one."""
    if form == "institutional":
        claim = make_claim(form="institutional", type_of_bill="0131", place_of_service=None)
        for line, revenue in zip(claim["lines"], ("0636", "0636", "0335")):
            line["revenue_code"] = revenue
    else:
        claim = make_claim()
    claim["lines"][0].update(units=administered, dose_mg=str(administered), ndc_quantity=str(-(-administered // 25)))
    if discarded is None:
        claim["lines"][0]["modifiers"] = ["JZ"]
        del claim["lines"][1]
    else:
        claim["lines"][1]["units"] = discarded
    return on(day, claim)


def by_rule(result, rule_id: str) -> list:
    return [f for f in result.findings if f.rule_id == rule_id]


@pytest.mark.parametrize("form", sorted(MUE))
def test_units_over_the_mue_of_the_claims_setting_are_denied(editor, form):
    value, setting = MUE[form]
    assert by_rule(editor.check(mue_claim(form, value)), "MCR-MUE") == []  # at the MUE: allowed
    (finding,) = by_rule(editor.check(mue_claim(form, value + 1)), "MCR-MUE")
    assert (finding.code, finding.severity, finding.line) == ("UNITS_OVER_MUE", "deny", 1)
    assert (finding.carc, finding.rarc) == ("151", "N362")
    assert finding.source == MEDICARE_RULES["MCR-MUE"]["source"]
    assert finding.payer == "medicare"
    assert f"{value + 1} units" in finding.message
    assert f"{setting} MUE of {value}" in finding.message
    assert "MAI 3" in finding.message and "$" not in finding.message


def test_professional_claims_use_the_practitioner_table_and_institutional_the_outpatient_table(editor):
    # 70 units: under the practitioner MUE (77), over the outpatient hospital MUE (66).
    assert by_rule(editor.check(mue_claim("professional", 70)), "MCR-MUE") == []
    (finding,) = by_rule(editor.check(mue_claim("institutional", 70)), "MCR-MUE")
    assert "outpatient hospital MUE of 66" in finding.message


def test_mai_3_counts_every_drug_line_of_the_date(editor):
    # 60 administered + 20 discarded: each line under 77, the date over it.
    (finding,) = by_rule(editor.check(mue_claim("professional", 60, 20)), "MCR-MUE")
    assert finding.line == 1 and "80 units" in finding.message
    assert by_rule(editor.check(mue_claim("professional", 57, 20)), "MCR-MUE") == []  # 77: at the MUE


def test_the_mue_is_judged_per_date(editor):
    claim = mue_claim("professional", 50)
    later = [dict(line, line=line["line"] + 10, service_date="2026-03-09") for line in claim["lines"]]
    claim["lines"] += later  # 50 + 50 units, a week apart
    assert by_rule(editor.check(claim), "MCR-MUE") == []


# --- reference data missing ---------------------------------------------------------------


@pytest.mark.parametrize("form", sorted(MUE))
def test_without_an_mue_table_the_units_are_not_checked_and_a_note_says_so(bare_editor, form):
    _value, setting = MUE[form]
    result = bare_editor.check(mue_claim(form, 100))
    assert by_rule(result, "MCR-MUE") == []
    (finding,) = by_rule(result, "MCR-MUE-MISSING")
    assert (finding.code, finding.severity, finding.line) == ("REFERENCE_DATA_MISSING", "info", 1)
    assert (finding.carc, finding.rarc) == (None, None)
    assert finding.source == MEDICARE_RULES["MCR-MUE-MISSING"]["source"]
    assert "--mue-file" in finding.message and f"{setting} setting" in finding.message
    assert "$" not in finding.message


def test_an_mue_table_for_the_other_setting_does_not_count():
    (practitioner,) = [path for path in FIXTURE_MUE if "Practitioner" in path.name]
    editor = Editor(asp_file=FIXTURE_ASP, mue_file=practitioner)
    assert by_rule(editor.check(mue_claim("professional", 78)), "MCR-MUE")
    assert by_rule(editor.check(mue_claim("professional", 25)), "MCR-MUE-MISSING") == []
    (finding,) = by_rule(editor.check(mue_claim("institutional", 25)), "MCR-MUE-MISSING")
    assert "outpatient hospital setting" in finding.message


def test_mue_tables_apply_from_their_effective_date(editor):
    # The fixture tables are effective 2026-01-01.
    before = editor.check(mue_claim("professional", 78, day=dt.date(2025, 12, 31)))
    assert by_rule(before, "MCR-MUE") == [] and by_rule(before, "MCR-MUE-MISSING")
    first_day = editor.check(mue_claim("professional", 78, day=dt.date(2026, 1, 1)))
    assert by_rule(first_day, "MCR-MUE") and by_rule(first_day, "MCR-MUE-MISSING") == []


def test_without_an_asp_file_no_benchmark_and_a_note_says_so(bare_editor):
    result = bare_editor.check(make_claim())
    assert result.payment is None
    (finding,) = by_rule(result, "MCR-ASP-MISSING")
    assert (finding.code, finding.severity, finding.line) == ("REFERENCE_DATA_MISSING", "info", 1)
    assert (finding.carc, finding.rarc) == (None, None)
    assert finding.source == MEDICARE_RULES["MCR-ASP-MISSING"]["source"]
    assert "--asp-file" in finding.message and "$" not in finding.message


@pytest.mark.parametrize(
    ("day", "covered"),
    [
        (dt.date(2025, 12, 31), False),
        (dt.date(2026, 1, 1), True),
        (dt.date(2026, 3, 31), True),
        (dt.date(2026, 4, 1), False),
    ],
)
def test_the_asp_file_covers_its_quarter_only(editor, day, covered):
    # The fixture ASP file is effective 2026-01-01 through 2026-03-31.
    result = editor.check(on(day, make_claim()))
    assert (result.payment is not None) is covered
    assert (by_rule(result, "MCR-ASP-MISSING") == []) is covered


def test_a_correct_claim_without_reference_files_gets_only_the_two_notes(bare_editor):
    result = bare_editor.check(make_claim())
    assert [(f.rule_id, f.code, f.severity, f.line) for f in result.findings] == [
        ("MCR-ASP-MISSING", "REFERENCE_DATA_MISSING", "info", 1),
        ("MCR-MUE-MISSING", "REFERENCE_DATA_MISSING", "info", 1),
    ]
    assert not result.blocking
