"""Policy as its public sources state it (issue 10): each test quotes the words it checks.

Every test runs on both engines (the ``editor`` fixture). The claims that were wrongly
blocked before are here, beside a claim each rule must still block.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from j9330_rules.refdata.cms import load_crosswalk
from j9330_rules.rules.catalogue import catalogue
from tests.conftest import EXAMPLES, codes, make_claim

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples" / "cms"
BLOCKING = {"reject", "deny"}


def institutional(**changes) -> dict:
    """examples/04 (a hospital outpatient claim, DSH 340B, JG) with changes."""
    import json

    claim = json.loads((EXAMPLES / "04-clean-hospital-outpatient-340b.json").read_text())
    claim.update(copy.deepcopy(changes))
    return claim


def with_lines(claim: dict, **changes) -> dict:
    for line in claim["lines"]:
        if line["hcpcs"] == "J9330":
            line.update(copy.deepcopy(changes))
    return claim


def add_modifier(claim: dict, code: str) -> dict:
    for line in claim["lines"]:
        if line["hcpcs"] == "J9330":
            line["modifiers"] = [*line["modifiers"], code]
    return claim


def blocking(result) -> list[str]:
    return [f.code for f in result.findings if f.severity in BLOCKING]


# --- 1. Medicare covers the compendial uses -------------------------------------------------

#: Medicare Benefit Policy Manual ch. 15 50.4.5: "Do not deny coverage based solely on the absence
#: of FDA-approved labeling for the use, if the use is supported by any of the following compendia".
#: The uses, as BCBS of Tennessee restates NCCN ("Compendial Uses"): endometrial carcinoma, soft
#: tissue sarcoma subtypes (PEComa, rhabdomyosarcoma, angiomyolipoma, lymphangioleiomyomatosis),
#: mantle cell lymphoma, uterine sarcoma.
COMPENDIAL = ["C54.1", "C55", "C49.9", "C49.4", "D30.01", "J84.81", "C83.10"]


@pytest.mark.parametrize("diagnosis", ["C64.1", *COMPENDIAL])
def test_medicare_covers_the_label_and_the_compendial_uses(editor, diagnosis):
    result = editor.check(make_claim(diagnoses=[diagnosis]))
    assert not {"DX_NOT_COVERED", "DX_COVERAGE_UNVERIFIED"} & set(codes(result)), result.findings
    assert result.disposition == "accept"


@pytest.mark.parametrize("diagnosis", ["C50.911", "C65.1", "C48.0", "C34.90", "D48.1"])
def test_medicare_holds_an_unlisted_neoplasm_for_review_never_denies_it(editor, diagnosis):
    """A compendium may support it; the claim cannot show which: review, not deny."""
    result = editor.check(make_claim(diagnoses=[diagnosis]))
    assert "DX_NOT_COVERED" not in codes(result)
    found = [f for f in result.findings if f.code == "DX_COVERAGE_UNVERIFIED"]
    assert [(f.severity, f.line) for f in found] == [("review", 1), ("review", 2)]  # both J9330 lines
    assert result.disposition == "review"


@pytest.mark.parametrize("payer", ["medicare", "aetna", "bcbs"])
def test_a_clearly_unrelated_diagnosis_is_still_denied(editor, payer):
    result = editor.check(make_claim(payer=payer, diagnoses=["E11.9"], prior_authorization="PA-1"))
    assert "DX_NOT_COVERED" in blocking(result)
    assert "DX_COVERAGE_UNVERIFIED" not in codes(result)


def test_a_commercial_policy_that_excludes_other_uses_still_denies_an_unlisted_neoplasm(editor):
    """Aetna CPB 0873 and BCBST: 'experimental and investigational for all other indications'."""
    for payer in ("aetna", "bcbs"):
        result = editor.check(make_claim(payer=payer, diagnoses=["C50.911"], prior_authorization="PA-1"))
        assert "DX_NOT_COVERED" in blocking(result), payer


# --- 2. Metastatic RCC after nephrectomy --------------------------------------------------------


@pytest.mark.parametrize("payer", ["medicare", "aetna", "bcbs"])
@pytest.mark.parametrize("secondary", ["C78.01", "C79.51", "C77.2"])
def test_metastatic_rcc_coded_by_its_secondary_site_and_history_is_covered(editor, payer, secondary):
    """ICD-10-CM Guidelines I.C.2: once the primary is excised, 'a code from category Z85 ... should
    be used to indicate the former site'; the line points to the secondary site."""
    claim = make_claim(payer=payer, diagnoses=[secondary, "Z85.528"], prior_authorization="PA-1")
    result = editor.check(claim)
    assert not {"DX_NOT_COVERED", "DX_COVERAGE_UNVERIFIED"} & set(codes(result)), result.findings


def test_a_secondary_site_without_a_kidney_primary_is_not_metastatic_rcc(editor):
    claim = make_claim(payer="aetna", diagnoses=["C78.01", "Z85.3"])  # history of breast cancer
    assert "DX_NOT_COVERED" in blocking(editor.check(claim))


# --- 3. JW/JZ only where the CMS policy applies ------------------------------------------------


def no_jz_full_kit(claim: dict) -> dict:
    """25 mg from one kit with neither JZ nor a JW line: JWJZ_MISSING where the policy applies."""
    drug = [line for line in claim["lines"] if line["hcpcs"] == "J9330"]
    drug[0].update(units=25, dose_mg="25", modifiers=[m for m in drug[0]["modifiers"] if m != "JW"])
    claim["lines"] = [line for line in claim["lines"] if line is drug[0] or line["hcpcs"] != "J9330"]
    return claim


@pytest.mark.parametrize("bill", ["0711", "0771"])
def test_no_jwjz_edit_on_rhc_or_fqhc_claims(editor, bill):
    """JW/JZ FAQ: 'these modifiers do not apply to drugs administered in rural health clinics or
    federally qualified health centers'."""
    result = editor.check(no_jz_full_kit(institutional(type_of_bill=bill)))
    assert not {"JWJZ_MISSING", "JWJZ_CONFLICT", "JZ_WITH_WASTE"} & set(codes(result)), result.findings


def test_the_jwjz_edit_still_applies_to_hospital_outpatient_and_critical_access_claims(editor):
    """JW/JZ FAQ: 'The JW and JZ modifier requirements also apply to Critical Access Hospitals'."""
    for bill in ("0131", "0851"):
        assert "JWJZ_MISSING" in blocking(editor.check(no_jz_full_kit(institutional(type_of_bill=bill)))), bill


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param(lambda: institutional(type_of_bill="0111"), id="inpatient-bill-011x"),
        pytest.param(lambda: make_claim(place_of_service="21"), id="inpatient-place-21"),
    ],
)
def test_an_inpatient_claim_gets_the_setting_edit_alone(editor, claim):
    """JW/JZ FAQ: 'not intended for claims billed under the Inpatient Prospective Payment System';
    the 340B modifiers are for separately payable Part B drugs. Drugs in a stay are paid within it."""
    built = no_jz_full_kit(claim())
    built = add_modifier(built, "XX")  # not a drug-line modifier either
    for line in built["lines"]:
        line["modifiers"] = [m for m in line["modifiers"] if m not in ("JG", "TB")]
    result = editor.check(built)
    assert set(blocking(result)) == {"PLACE_OF_SERVICE"}, result.findings
    (setting,) = [f for f in result.findings if f.code == "PLACE_OF_SERVICE"]
    assert (setting.carc, setting.rarc) == ("234", "M2")


# --- 4. Hospital line modifiers on drug lines -----------------------------------------------


@pytest.mark.parametrize("modifier", ["PO", "PN", "ER", "GX"])
def test_department_and_abn_modifiers_are_valid_on_a_drug_line(editor, modifier):
    """PO: 'reported with every HCPCS code for all outpatient hospital items and services furnished
    in an off-campus provider-based department'; PN: 'should also be reported on claims lines for
    separately payable drugs'; ER: 'with every claim line' of an off-campus emergency department."""
    claim = add_modifier(institutional(), modifier)
    if modifier == "PN":  # a non-excepted department of a 340B hospital reports TB
        claim = with_lines(claim, modifiers=["TB", "PN"])
        claim["lines"][1]["modifiers"] = ["JW", "TB", "PN"]
    result = editor.check(claim)
    assert "MODIFIER_INVALID" not in codes(result), result.findings
    assert not blocking(result)


def test_a_modifier_that_is_not_a_drug_line_modifier_is_still_denied(editor):
    result = editor.check(add_modifier(institutional(), "LT"))
    assert "MODIFIER_INVALID" in blocking(result)


# --- 5. 340B: PN decides TB, whatever the hospital type --------------------------------------


def pn_claim(flag: str, hospital_type: str = "dsh") -> dict:
    claim = institutional(provider={"npi": "1234567893", "is_340b": True, "hospital_type": hospital_type})
    claim["lines"][0]["modifiers"] = [flag, "PN"]
    claim["lines"][1]["modifiers"] = ["JW", flag, "PN"]
    return claim


def test_a_non_excepted_department_reports_tb_whatever_the_hospital_type(editor):
    """Part B inflation rebate guidance (rev. March 2023): TB for 'Non-excepted off-campus
    provider-based departments'; such a department puts PN on every line."""
    assert "MODIFIER_340B_WRONG" not in codes(editor.check(pn_claim("TB")))
    wrong = [f for f in editor.check(pn_claim("JG")).findings if f.code == "MODIFIER_340B_WRONG"]
    assert [f.line for f in wrong] == [1, 2] and "TB applies" in wrong[0].message


def test_the_old_hospital_type_value_still_works_for_one_release(editor):
    claim = institutional(provider={"npi": "1234567893", "is_340b": True, "hospital_type": "non_excepted_off_campus"})
    claim = with_lines(claim, modifiers=["TB"])
    claim["lines"][1]["modifiers"] = ["JW", "TB"]
    assert "MODIFIER_340B_WRONG" not in codes(editor.check(claim))


def test_a_dsh_without_pn_still_reports_jg(editor):
    claim = institutional()
    claim["lines"][0]["modifiers"] = ["TB"]
    claim["lines"][1]["modifiers"] = ["JW", "TB"]
    assert "MODIFIER_340B_WRONG" in codes(editor.check(claim))


# --- 6. Every marketed NDC ------------------------------------------------------------------

#: CMS October 2025 ASP NDC-HCPCS crosswalk, J9330: four packages, 25 billing units each.
CROSSWALK_NDCS = {"00008117901", "16729022361", "65219020005", "72611078502"}


@pytest.mark.parametrize("ndc", sorted(CROSSWALK_NDCS | {"68083020201"}))
def test_every_marketed_ndc_is_temsirolimus_without_a_crosswalk_loaded(bare_editor, ndc):
    result = bare_editor.check(with_lines(make_claim(), ndc=ndc))
    assert not [f for f in result.findings if f.rule_id in ("NAT-NDC-UNCONFIRMED", "NAT-NDC-NOT-TEMSIROLIMUS")]


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not here")
def test_the_published_crosswalk_lists_exactly_the_bundled_crosswalk_ndcs():
    crosswalk = load_crosswalk(SAMPLES / "asp_ndc_hcpcs_crosswalk_october_2025_extract.csv")
    rows = [row for row in crosswalk.entries if row.hcpcs == "J9330"]
    assert {row.ndc for row in rows} == CROSSWALK_NDCS
    assert all(row.bill_units_pkg == 25 for row in rows)
    assert str(crosswalk.effective_from) == "2025-10-01"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not here")
def test_claims_with_each_crosswalk_ndc_are_clean_with_the_published_crosswalk_loaded():
    from j9330_rules import Editor

    editor = Editor(crosswalk_file=SAMPLES / "asp_ndc_hcpcs_crosswalk_october_2025_extract.csv")
    for ndc in sorted(CROSSWALK_NDCS):
        claim = with_lines(make_claim(), ndc=ndc)
        for line in claim["lines"]:
            line["service_date"] = "2025-11-03"
        result = editor.check(claim)
        assert not {"NDC_NOT_TEMSIROLIMUS", "NDC_QUANTITY_MISMATCH"} & set(codes(result)), ndc


# --- 7. Adjustment codes that mean what the edit says ------------------------------------------

#: X12 CARC 16: 'At least one Remark Code must be provided'; likewise 96, 234 and A1.
NEEDS_A_REMARK = {"16", "96", "234", "A1"}


def test_every_carc_that_needs_a_remark_has_one():
    for code, entry in catalogue().items():
        if entry.carc in NEEDS_A_REMARK:
            assert entry.rarc, code


@pytest.mark.parametrize(
    ("code", "carc", "rarc"),
    [
        ("DOSE_ABOVE_MAX", "153", None),  # 153: 'does not support this dosage'
        ("DOSE_ABOVE_LABEL", "153", None),
        ("FREQUENCY", "151", "N640"),  # 151: 'this many/frequency of services'; 119 is a benefit maximum
        ("NDC_NOT_TEMSIROLIMUS", "16", "N846"),  # N846: NDC 'does not correspond to the HCPCs/CPT billed'
        ("NDC_QUANTITY_MISMATCH", "16", "N815"),  # N815: 'Missing/Incomplete/Invalid NDC Unit Count'
        ("UNITS_DOSE_MISMATCH", "16", "M53"),  # M53: 'days or units of service'
        ("WASTE_ARITHMETIC", "16", "M53"),
        ("DX_MISSING", "16", "M76"),  # M76: 'Missing/incomplete/invalid diagnosis or condition'
        ("JWJZ_MISSING", "16", "N822"),  # N822: 'Missing procedure modifier(s)'; CARC 4 no longer says missing
        ("MODIFIER_340B_MISSING", "16", "N822"),
        ("JWJZ_CONFLICT", "4", "N519"),  # N519: 'Invalid combination of HCPCS modifiers'
        ("JW_WITHOUT_ADMIN", "107", None),  # 107: 'related or qualifying claim/service was not identified'
        ("PLACE_OF_SERVICE", "234", "M2"),  # M2: 'Not paid separately when the patient is an inpatient'
        ("PATIENT_UNDER_18", "6", None),  # 6: 'inconsistent with the patient's age'
        ("UNITS_OVER_MUE", "151", "N362"),  # unchanged
        ("PRIOR_AUTH_MISSING", "197", None),  # unchanged: 'Precertification/authorization/... absent'
    ],
)
def test_adjustment_codes_per_the_x12_lists(code, carc, rarc):
    entry = catalogue()[code]
    assert (entry.carc, entry.rarc) == (carc, rarc)


# --- 10. Sources that can be re-checked ---------------------------------------------------------


def test_sources_not_read_for_twelve_months_are_due():
    import datetime as dt

    from j9330_rules.rules.specs import build_spec, sources_due

    spec = build_spec(
        {
            "ruleset": "upkeep",
            "version": "1",
            "title": "t",
            "applies_to": ["x"],
            "parameters": {
                "fresh": [{"value": 1, "source": "read recently", "reviewed": "2026-01-15"}],
                "stale": [{"value": 1, "source": "read long ago", "reviewed": "2025-12-01"}],
                "never": [{"value": 1, "source": "never dated"}],
            },
            "rules": [],
        },
        origin="upkeep.yaml",
    )
    due = sources_due([spec], dt.date(2026, 12, 6))
    assert [(d.item, d.reviewed) for d in due] == [
        ("parameter stale", dt.date(2025, 12, 1)),
        ("parameter never", None),
    ]
    assert sources_due([spec], dt.date(2026, 12, 1)) == due[1:]  # exactly 12 months is not yet due


def test_the_sources_read_for_this_release_carry_their_date(editor):
    policy = editor.policies["medicare"]
    medicare = [p for p in policy.parameters["unlisted_neoplasm_review"] if p.value is True]
    assert [p.reviewed for p in medicare] == [dt_date("2026-12-06")]
    assert policy.code_sets["covered_diagnoses"].reviewed == dt_date("2026-12-06")


def dt_date(text):
    import datetime as dt

    return dt.date.fromisoformat(text)


def test_report_and_plugins_show_the_sources_due():
    from click.testing import CliRunner

    from j9330_rules.cli import main

    listed = CliRunner().invoke(main, ["plugins"]).output
    assert "Sources not read in the last 12 months" in listed and "never dated" in listed
    report = CliRunner().invoke(main, ["report", "--as-of", "2026-12-06"]).output
    assert "Sources due for review" in report
    assert "NAT-UNITS-INVALID" in report.split("Sources due for review", 1)[1]  # never dated
    assert "NAT-340B-MISSING" not in report.split("Sources due for review", 1)[1]  # read 2026-12-06


def test_bcbst_has_no_age_criterion_in_its_current_policy(editor):
    """BCBST's current criteria: 'Authorization of 12 months may be granted ...' per indication, no age;
    'Patient is at least 18 years of age' was in an older version only."""
    claim = make_claim(payer="bcbs", prior_authorization="PA-1", patient={"birth_date": "2012-05-01", "sex": "F"})
    assert "PATIENT_UNDER_18" not in codes(editor.check(claim))


# --- 8. Cigna and UnitedHealthcare publish policies -------------------------------------------


@pytest.mark.parametrize("payer", ["cigna", "uhc"])
def test_cigna_and_uhc_have_a_cited_policy(editor, payer):
    result = editor.check(make_claim(payer=payer, prior_authorization="PA-1"))
    assert "PAYER_POLICY_NOT_PROVIDED" not in codes(result)
    assert editor.registry.payers[payer].policy_sourced


@pytest.mark.parametrize("payer", ["cigna", "uhc"])
def test_an_nccn_use_the_claim_cannot_show_goes_to_review(editor, payer):
    """Cigna/eviCore: NCCN 'categories 1, 2A, or 2B ... or an approved ... indication by the FDA';
    UHC: coverage 'based upon the ... NCCN Drugs & Biologics Compendium'."""
    result = editor.check(make_claim(payer=payer, diagnoses=["C54.1"], prior_authorization="PA-1"))
    assert not blocking(result)
    assert "DX_COVERAGE_UNVERIFIED" in codes(result)
    assert "DX_NOT_COVERED" in blocking(
        editor.check(make_claim(payer=payer, diagnoses=["E11.9"], prior_authorization="PA-1"))
    )


@pytest.mark.parametrize("payer", ["cigna", "uhc"])
def test_a_missing_authorization_is_held_for_review_since_the_plan_decides(editor, payer):
    """Cigna: precertification for customers 'whose Cigna ID card identifies that precertification is
    required'; UHC: 'benefit plans typically require prior authorization'. The claim shows neither."""
    result = editor.check(make_claim(payer=payer, prior_authorization=None))
    (finding,) = {f.severity for f in result.findings if f.code == "PRIOR_AUTH_MISSING"}
    assert finding == "review"
    assert not blocking(result)


# --- 9. Blue plans are companies with their own policies --------------------------------------


def test_florida_blue_applies_its_own_policy(editor):
    """Florida Blue VP-0166: '25 billable units every 7 days'; 'Patient is at least 18 years of age';
    uterine neoplasms (endometrial carcinoma) covered; prior authorization ('Coverage is provided for 6 months')."""
    ok = make_claim(payer="florida_blue", diagnoses=["C54.1"], prior_authorization="PA-1")
    result = editor.check(ok)
    assert not blocking(result) and "PAYER_POLICY_NOT_PROVIDED" not in codes(result)
    over = make_claim(payer="florida_blue", prior_authorization="PA-1")
    over["lines"][0].update(units=30, dose_mg="30")
    over["lines"][1].update(units=20)
    assert "UNITS_OVER_POLICY_LIMIT" in blocking(editor.check(over))
    assert "PRIOR_AUTH_MISSING" in blocking(editor.check(make_claim(payer="florida_blue")))
    young = make_claim(
        payer="florida_blue", prior_authorization="PA-1", patient={"birth_date": "2012-05-01", "sex": "M"}
    )
    assert "PATIENT_UNDER_18" in codes(editor.check(young))


def test_bcbs_says_which_policy_it_applies(editor):
    assert "BCBS of Tennessee" in editor.registry.payers["bcbs"].display_name
