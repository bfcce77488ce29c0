"""The national rules (specs/national.yaml), rule by rule.

For every rule id there is at least one claim that fires it and a closely
related claim that does not. Expectations come from the edit catalogue
contract (/work/shared/domain/edit-catalogue.md): the code, its default
severity and its CARC/RARC are copied from the contract table below, not
from the product's own catalogue, so a drift between the two fails here. The
CARC/RARC pairs were corrected against the X12 code lists in 2026-12 (issue 10;
tests/test_policy_sources.py quotes each description); docs/changelog.md lists them.

Rules gated by a payer parameter that Medicare leaves off (NDC_MISSING,
PRIOR_AUTH_MISSING, PATIENT_UNDER_18, UNITS_OVER_POLICY_LIMIT) are exercised
on a TEST FIXTURE payer registered by a test-only plugin with a test-only
spec that switches every national parameter on from 2000-01-01. Because its
parameters are on long before any rule's ``effective_from``, the
effective-date tests on that payer isolate the rules' own dates.

Reference data: by default every example runs on an editor with the fixture
CMS files loaded (ASP, MUE, NDC-HCPCS crosswalk) and a TEST FIXTURE fee
schedule for the TEST FIXTURE payer, so a correct claim is clean. The rules
that report missing reference data (NAT-NDC-UNCONFIRMED,
NAT-FEE-SCHEDULE-MISSING) run their examples on an editor that lacks exactly
the file concerned (``Fires.editor`` / ``Clean.editor``).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pytest
import yaml

import j9330_rules
from j9330_rules import Editor, Payer
from tests.conftest import ENGINE_NAMES, FIXTURE_ASP, FIXTURE_CROSSWALK, FIXTURE_MUE, codes, make_claim

# --- the contract -----------------------------------------------------------

# code: (default severity, CARC, RARC), from the edit catalogue's table ("—" is None).
CONTRACT: dict[str, tuple[str, str | None, str | None]] = {
    "UNITS_INVALID": ("reject", "16", "M53"),
    "UNITS_DOSE_MISMATCH": ("deny", "16", "M53"),
    "UNITS_OVER_MUE": ("deny", "151", "N362"),
    "UNITS_OVER_POLICY_LIMIT": ("deny", "151", "N640"),
    "DOSE_ABOVE_LABEL": ("review", "153", None),
    "DOSE_ABOVE_MAX": ("review", "153", None),
    "WASTE_ARITHMETIC": ("deny", "16", "M53"),
    "JWJZ_MISSING": ("reject", "16", "N822"),
    "JWJZ_CONFLICT": ("reject", "4", "N519"),
    "JW_WITHOUT_ADMIN": ("deny", "107", None),
    "JZ_WITH_WASTE": ("warn", "4", None),
    "MODIFIER_340B_MISSING": ("reject", "16", "N822"),
    "MODIFIER_340B_WRONG": ("warn", "4", None),
    "MODIFIER_INVALID": ("deny", "4", None),
    "NDC_MISSING": ("reject", "16", "M119"),
    "NDC_INVALID": ("reject", "16", "M119"),
    "NDC_NOT_TEMSIROLIMUS": ("deny", "16", "N846"),
    "NDC_QUANTITY_MISMATCH": ("warn", "16", "N815"),
    "DX_MISSING": ("reject", "16", "M76"),
    "DX_CODE_INVALID": ("reject", "146", None),
    "DX_CODE_NOT_BILLABLE": ("reject", "146", None),
    "NDC_NOT_MARKETED": ("warn", "16", "M119"),
    "DX_NOT_COVERED": ("deny", "11", None),
    "DX_COVERAGE_UNVERIFIED": ("review", None, None),
    "PRIOR_AUTH_MISSING": ("deny", "197", None),
    "PATIENT_UNDER_18": ("review", "6", None),
    "ADMIN_CODE_MISSING": ("warn", None, None),
    "PLACE_OF_SERVICE": ("deny", "234", "M2"),
    "REVENUE_CODE": ("warn", None, None),
    "FREQUENCY": ("review", "151", "N640"),
    "DOC_INCOMPLETE": ("warn", None, None),
    "PAYER_POLICY_NOT_PROVIDED": ("info", None, None),
    "REFERENCE_DATA_MISSING": ("info", None, None),
}

NATIONAL = yaml.safe_load((resources.files("j9330_specs") / "national.yaml").read_text("utf-8"))
# The rules that judge codes against a dated code file (an ICD-10-CM fiscal year, the NDC
# Directory) fire only with that file loaded and inside its dates: tests/test_code_files.py
# tests each against the file's own words, on both engines.
CODE_FILE_RULES = {
    "NAT-DX-CODE-UNKNOWN",
    "NAT-DX-CODE-HEADER",
    "NAT-NDC-NOT-MARKETED",
    "NAT-DX-CODE-UNCONFIRMED",  # and these two tell what a loaded ICD-10-CM file could not judge
    "NAT-DX-CODE-FILE-MISSING",
}
RULES: dict[str, dict[str, Any]] = {rule["id"]: rule for rule in NATIONAL["rules"] if rule["id"] not in CODE_FILE_RULES}

# --- the TEST FIXTURE payer -------------------------------------------------

FIXTURE = "test_fixture_payer"
FIXTURE_PA = "TEST-PA-0001"
_ON = 'effective_from: "2000-01-01"\n      source: "TEST FIXTURE: made up for tests, not a real payer policy"'
FIXTURE_SPEC = f"""
# TEST FIXTURE: a made-up payer for tests only. NOT a real payer policy.
# It switches every national parameter on from 2000-01-01.
ruleset: {FIXTURE}
version: "0-test"
title: TEST FIXTURE payer (not a real policy)
applies_to: [{FIXTURE}]
parameters:
  jwjz_required:
    - value: true
      {_ON}
  ndc_required:
    - value: true
      {_ON}
  prior_auth_required:
    - value: true
      {_ON}
  requires_340b_flags:
    - value: true
      {_ON}
  tb_hospital_types:
    - value: [critical_access, childrens]
      {_ON}
  adults_only:
    - value: true
      {_ON}
  # 100 units in 28 days: four weekly 25 mg doses. Made up; high enough that the
  # single-date examples below (at most 75 units a date) stay under it.
  units_limit:
    - value: 100
      {_ON}
  units_limit_days:
    - value: 28
      {_ON}
  metastatic_rcc_covered:
    - value: true
      {_ON}
  unlisted_neoplasm_review:
    - value: true
      {_ON}
code_sets:
  covered_diagnoses:
    field: diagnosis
    codes: ["C64*", "C83.1*"]
    source: "TEST FIXTURE: made up for tests, not a real payer policy"
rules: []
"""


class FixturePayerPlugin:
    """TEST FIXTURE plugin: registers the made-up payer and its test-only spec."""

    def __init__(self, spec_path):
        self.spec_path = spec_path

    @j9330_rules.hookimpl
    def j9330_register_payers(self, register):
        register(Payer(FIXTURE, "TEST FIXTURE payer", policy_sourced=True, note="TEST FIXTURE: not a real payer"))

    @j9330_rules.hookimpl
    def j9330_register_rulesets(self, register):
        register(self.spec_path)


# TEST FIXTURE fee schedule: a made-up contract rate for the TEST FIXTURE payer, open-ended from 2000.
FIXTURE_FEES = f"""payer,hcpcs,rate_per_unit,effective_from,effective_to,note
{FIXTURE},J9330,1.00,2000-01-01,,TEST FIXTURE: made-up rate for a made-up payer
"""

# Which reference files each editor loads (the name says what is left out).
FULL, NO_CROSSWALK, NO_FEES = "full", "no crosswalk", "no fee schedule"


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def rules_editors(tmp_path_factory, request) -> dict[str, Editor]:
    """Editors with the installed payers (Medicare) plus the TEST FIXTURE payer, on each engine.

    ``full`` loads the fixture ASP, MUE and crosswalk files and the TEST FIXTURE
    fee schedule; the others leave out one of them.
    """
    folder = tmp_path_factory.mktemp("fixture_spec")
    path = folder / f"{FIXTURE}.yaml"
    path.write_text(FIXTURE_SPEC)
    fees = folder / "fixture_fee_schedule.csv"
    fees.write_text(FIXTURE_FEES)
    cms = dict(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine=request.param)
    editors = {
        FULL: Editor(**cms, crosswalk_file=FIXTURE_CROSSWALK, fee_schedule=fees, plugins=[FixturePayerPlugin(path)]),
        NO_CROSSWALK: Editor(**cms, fee_schedule=fees, plugins=[FixturePayerPlugin(path)]),
        NO_FEES: Editor(**cms, crosswalk_file=FIXTURE_CROSSWALK, plugins=[FixturePayerPlugin(path)]),
    }
    for editor in editors.values():
        assert {"medicare", FIXTURE} <= set(editor.payers)
    return editors


@pytest.fixture(scope="module")
def rules_editor(rules_editors) -> Editor:
    """The editor with every reference file loaded."""
    return rules_editors[FULL]


# --- building claims ----------------------------------------------------------

DOS = dt.date(2026, 3, 2)
DAY = dt.timedelta(days=1)
DELETE = object()  # remove the key instead of setting it
BOTH = ("medicare", FIXTURE)


def iso(day: dt.date) -> str:
    return day.isoformat()


def build(
    day: dt.date, payer: str, *, lines: dict[int, dict] | None = None, drop: tuple[int, ...] = (), **top: Any
) -> dict:
    """The contract's clean claim on ``day`` for ``payer``, with changes.

    ``lines`` maps a line index to field changes (``DELETE`` removes a key);
    ``drop`` removes lines by index; ``top`` changes top-level fields.
    The clean claim: line 1 J9330 x20 (dose 20 mg, documented), line 2
    J9330-JW x5, line 3 96413, Medicare, POS 11, C64.1.
    """
    claim = make_claim(payer=payer)
    if payer == FIXTURE:
        claim["prior_authorization"] = FIXTURE_PA  # the fixture requires one
    for line in claim["lines"]:
        line["service_date"] = iso(day)
    claim["lines"][0]["documentation"]["expiration"] = iso(day + 300 * DAY)
    for index, changes in (lines or {}).items():
        for key, value in changes.items():
            if value is DELETE:
                claim["lines"][index].pop(key, None)
            else:
                claim["lines"][index][key] = copy.deepcopy(value)
    claim["lines"] = [line for index, line in enumerate(claim["lines"]) if index not in drop]
    claim.update(copy.deepcopy(top))
    return claim


def full_kit_jz(units: int = 25) -> dict:
    """Line 1 as a whole-kit dose with JZ (line 2, the JW line, is dropped by the caller)."""
    return {"units": units, "dose_mg": str(units), "modifiers": ["JZ"]}


PROVIDER_340B = {"npi": "1234567893", "is_340b": True}


def doc(day: dt.date, **changes: Any) -> dict:
    record = {"lot": "AB123", "expiration": iso(day + 300 * DAY), "route": "IV"}
    record.update(changes)
    return {key: value for key, value in record.items() if value is not DELETE}


def with_doses(claim: dict, day: dt.date, doses: dict[int, int]) -> dict:
    """Add earlier administrations to ``claim``: ``doses`` maps days before ``day`` to units.

    Each is a whole-kit dose (a multiple of 25) billed with JZ, with its 96413, as
    lines numbered after the claim's own; so the lines of ``day`` keep 1, 2, 3.
    """
    number = max(line["line"] for line in claim["lines"])
    for days_before, units in doses.items():
        date = iso(day - days_before * DAY)
        number += 1
        claim["lines"].append(
            {
                "line": number,
                "hcpcs": "J9330",
                "modifiers": ["JZ"],
                "units": units,
                "dose_mg": str(units),
                "service_date": date,
                "ndc": "00008117901",
                "ndc_unit": "UN",
                "ndc_quantity": str(units // 25),
                "dx_pointers": [1],
            }
        )
        number += 1
        claim["lines"].append({"line": number, "hcpcs": "96413", "units": 1, "service_date": date, "dx_pointers": [1]})
    return claim


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def born(birth_date: dt.date | None) -> dict:
    return {"birth_date": iso(birth_date) if birth_date else None, "sex": "F"}


def aged_17(d: dt.date) -> dict:
    """The 18th birthday is the day after the date of service."""
    return born(years_before(d + DAY, 18))


Builder = Callable[[dt.date, str], dict]


@dataclass(frozen=True)
class Fires:
    rule_id: str
    code: str
    lines: tuple[int, ...]  # the claim lines the finding is expected on
    why: str
    build: Builder
    payers: tuple[str, ...] = BOTH
    editor: str = FULL  # which reference files are loaded


@dataclass(frozen=True)
class Clean:
    rule_id: str
    code: str
    why: str
    build: Builder
    payers: tuple[str, ...] = BOTH
    editor: str = FULL


# One case per line, so that the table reads as its source's list.
# fmt: off
FIRES: list[Fires] = [
    # UNITS_INVALID: units missing, zero, negative, or not a whole number.
    Fires("NAT-UNITS-INVALID", "UNITS_INVALID", (1,), "zero units", lambda d, p: build(d, p, lines={0: {"units": 0}})),
    Fires("NAT-UNITS-INVALID", "UNITS_INVALID", (1,), "negative units", lambda d, p: build(d, p, lines={0: {"units": -20}})),
    Fires("NAT-UNITS-INVALID", "UNITS_INVALID", (1,), "fractional units", lambda d, p: build(d, p, lines={0: {"units": "20.5"}})),
    Fires("NAT-UNITS-INVALID", "UNITS_INVALID", (1,), "units missing", lambda d, p: build(d, p, lines={0: {"units": DELETE}})),
    Fires("NAT-UNITS-INVALID", "UNITS_INVALID", (1,), "units null", lambda d, p: build(d, p, lines={0: {"units": None}})),
    Fires("NAT-UNITS-INVALID", "UNITS_INVALID", (2,), "zero units on the JW line", lambda d, p: build(d, p, lines={1: {"units": 0}})),
    # UNITS_DOSE_MISMATCH: units != ceil(dose_mg).
    Fires("NAT-UNITS-DOSE", "UNITS_DOSE_MISMATCH", (1,), "20.4 mg billed as 20 (not rounded up)",
          lambda d, p: build(d, p, lines={0: {"dose_mg": "20.4"}})),
    Fires("NAT-UNITS-DOSE", "UNITS_DOSE_MISMATCH", (1,), "19 mg billed as 20",
          lambda d, p: build(d, p, lines={0: {"dose_mg": "19"}})),
    # DOSE_ABOVE_LABEL: administered mg of a date > 25.
    Fires("NAT-DOSE-LABEL", "DOSE_ABOVE_LABEL", (1,), "25.5 mg documented",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "25.5"}, 1: {"units": 24}})),
    Fires("NAT-DOSE-LABEL", "DOSE_ABOVE_LABEL", (1,), "30 units, no documented dose",
          lambda d, p: build(d, p, lines={0: {"units": 30, "dose_mg": DELETE}, 1: {"units": 20}})),
    # DOSE_ABOVE_MAX: administered mg of a date > 50, unless a line diagnosis is C83.1-.
    Fires("NAT-DOSE-MAX", "DOSE_ABOVE_MAX", (1,), "51 mg for RCC",
          lambda d, p: build(d, p, lines={0: {"units": 51, "dose_mg": "51"}, 1: {"units": 24}})),
    Fires("NAT-DOSE-MAX", "DOSE_ABOVE_MAX", (1,), "51 mg, C83.10 on the claim but not on the drug line",
          lambda d, p: build(d, p, diagnoses=["C64.1", "C83.10"],
                             lines={0: {"units": 51, "dose_mg": "51"}, 1: {"units": 24}, 2: {"dx_pointers": [1, 2]}})),
    # WASTE_ARITHMETIC (whole kits): administered + discarded is not a multiple of 25.
    Fires("NAT-WASTE-KITS", "WASTE_ARITHMETIC", (1,), "20 + 10 discarded = 30",
          lambda d, p: build(d, p, lines={1: {"units": 10}})),
    Fires("NAT-WASTE-KITS", "WASTE_ARITHMETIC", (1,), "20 + 4 discarded = 24",
          lambda d, p: build(d, p, lines={1: {"units": 4}})),
    # WASTE_ARITHMETIC (unopened kit): 25 or more discarded units.
    Fires("NAT-WASTE-UNOPENED", "WASTE_ARITHMETIC", (1,), "25 + 25 discarded",
          lambda d, p: build(d, p, lines={0: {"units": 25, "dose_mg": "25"}, 1: {"units": 25}})),
    Fires("NAT-WASTE-UNOPENED", "WASTE_ARITHMETIC", (1,), "20 + 30 discarded",
          lambda d, p: build(d, p, lines={1: {"units": 30}})),
    # JWJZ_MISSING: no JW line, an administered line without JZ, payer requires JW/JZ.
    Fires("NAT-JWJZ-MISSING", "JWJZ_MISSING", (1,), "25 mg with neither JZ nor a JW line",
          lambda d, p: build(d, p, lines={0: {"units": 25, "dose_mg": "25"}}, drop=(1,))),
    # JWJZ_CONFLICT: JW and JZ on one line, or JZ on a date with a JW line.
    Fires("NAT-JWJZ-CONFLICT", "JWJZ_CONFLICT", (1,), "JZ on the administered line beside a JW line",
          lambda d, p: build(d, p, lines={0: {"modifiers": ["JZ"]}})),
    Fires("NAT-JWJZ-CONFLICT", "JWJZ_CONFLICT", (1,), "JW and JZ on one line",
          lambda d, p: build(d, p, lines={1: {"modifiers": ["JW", "JZ"]}})),
    # JW_WITHOUT_ADMIN: a JW line with no administered line on the same date.
    Fires("NAT-JW-WITHOUT-ADMIN", "JW_WITHOUT_ADMIN", (2,), "only the JW line", lambda d, p: build(d, p, drop=(0,))),
    Fires("NAT-JW-WITHOUT-ADMIN", "JW_WITHOUT_ADMIN", (2,), "the JW line on the next day",
          lambda d, p: build(d, p, lines={1: {"service_date": iso(d + DAY)}})),
    # JZ_WITH_WASTE: JZ, administered units not a multiple of 25.
    Fires("NAT-JZ-WITH-WASTE", "JZ_WITH_WASTE", (1,), "20 mg with JZ", lambda d, p: build(d, p, lines={0: {"modifiers": ["JZ"]}}, drop=(1,))),
    Fires("NAT-JZ-WITH-WASTE", "JZ_WITH_WASTE", (1,), "30 mg with JZ",
          lambda d, p: build(d, p, lines={0: {"modifiers": ["JZ"], "units": 30, "dose_mg": "30"}}, drop=(1,))),
    # MODIFIER_340B_MISSING: 340B provider, payer requires flags, line lacks JG/TB.
    Fires("NAT-340B-MISSING", "MODIFIER_340B_MISSING", (1, 2), "340B provider, no JG/TB",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": None})),
    Fires("NAT-340B-MISSING", "MODIFIER_340B_MISSING", (2,), "340B critical access, TB on line 1 only",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": "critical_access"}, lines={0: {"modifiers": ["TB"]}})),
    # MODIFIER_340B_WRONG: JG where TB applies or the reverse.
    Fires("NAT-340B-WRONG", "MODIFIER_340B_WRONG", (1, 2), "critical access billed JG",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": "critical_access"},
                             lines={0: {"modifiers": ["JG"]}, 1: {"modifiers": ["JW", "JG"]}})),
    Fires("NAT-340B-WRONG", "MODIFIER_340B_WRONG", (1, 2), "DSH billed TB",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": "dsh"},
                             lines={0: {"modifiers": ["TB"]}, 1: {"modifiers": ["JW", "TB"]}})),
    Fires("NAT-340B-WRONG", "MODIFIER_340B_WRONG", (1,), "DSH billed JG and TB on one line",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": "dsh"},
                             lines={0: {"modifiers": ["JG", "TB"]}, 1: {"modifiers": ["JW", "JG"]}})),
    # MODIFIER_INVALID: a modifier outside the drug-line list.
    Fires("NAT-MODIFIER-INVALID", "MODIFIER_INVALID", (1,), "25 (E/M modifier) on the drug line",
          lambda d, p: build(d, p, lines={0: {"modifiers": ["25"]}})),
    Fires("NAT-MODIFIER-INVALID", "MODIFIER_INVALID", (2,), "RT beside JW on the JW line",
          lambda d, p: build(d, p, lines={1: {"modifiers": ["JW", "RT"]}})),
    # NDC_MISSING: payer requires an NDC (TEST FIXTURE payer only; Medicare does not).
    Fires("NAT-NDC-MISSING", "NDC_MISSING", (1,), "NDC removed", lambda d, p: build(d, p, lines={0: {"ndc": DELETE}}), (FIXTURE,)),
    Fires("NAT-NDC-MISSING", "NDC_MISSING", (1,), "NDC empty", lambda d, p: build(d, p, lines={0: {"ndc": "  "}}), (FIXTURE,)),
    Fires("NAT-NDC-MISSING", "NDC_MISSING", (1, 2), "NDC null on both drug lines",
          lambda d, p: build(d, p, lines={0: {"ndc": None}, 1: {"ndc": None}}), (FIXTURE,)),
    # NDC_INVALID: not 11 digits after removing hyphens, or no 4-4-2/5-3-2/5-4-1 origin.
    Fires("NAT-NDC-INVALID", "NDC_INVALID", (1,), "11 digits with no padding zero",
          lambda d, p: build(d, p, lines={0: {"ndc": "12345678911"}})),
    Fires("NAT-NDC-INVALID", "NDC_INVALID", (1,), "10 digits without hyphens",
          lambda d, p: build(d, p, lines={0: {"ndc": "0008117901"}})),
    Fires("NAT-NDC-INVALID", "NDC_INVALID", (1,), "12 digits", lambda d, p: build(d, p, lines={0: {"ndc": "000081179012"}})),
    Fires("NAT-NDC-INVALID", "NDC_INVALID", (2,), "N4 qualifier left in the NDC", lambda d, p: build(d, p, lines={1: {"ndc": "N400008117901"}})),
    # NDC_NOT_TEMSIROLIMUS: well-formed NDC, not a J9330 NDC in the loaded crosswalk.
    Fires("NAT-NDC-NOT-TEMSIROLIMUS", "NDC_NOT_TEMSIROLIMUS", (1,), "made-up well-formed NDC 99999-0999-99",
          lambda d, p: build(d, p, lines={0: {"ndc": "99999099999"}})),
    Fires("NAT-NDC-NOT-TEMSIROLIMUS", "NDC_NOT_TEMSIROLIMUS", (2,), "hyphenated well-formed NDC on the JW line",
          lambda d, p: build(d, p, lines={1: {"ndc": "99999-0999-99"}})),
    # DX_MISSING: the J9330 line points to no diagnosis.
    Fires("NAT-DX-MISSING", "DX_MISSING", (1,), "empty pointers", lambda d, p: build(d, p, lines={0: {"dx_pointers": []}})),
    Fires("NAT-DX-MISSING", "DX_MISSING", (1,), "pointers missing", lambda d, p: build(d, p, lines={0: {"dx_pointers": DELETE}})),
    Fires("NAT-DX-MISSING", "DX_MISSING", (1, 2), "no diagnoses on the claim",
          lambda d, p: build(d, p, diagnoses=[], lines={i: {"dx_pointers": []} for i in range(3)})),
    # DX_NOT_COVERED: none of the line's diagnoses is covered by the payer.
    Fires("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", (1, 2), "diabetes, clearly unrelated", lambda d, p: build(d, p, diagnoses=["E11.9"])),
    Fires("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", (1, 2), "breast cancer where the payer does not review unlisted uses",
          lambda d, p: build(d, p, diagnoses=["C50.911"]), ("aetna",)),
    # DX_COVERAGE_UNVERIFIED: Medicare covers compendium-supported uses (MBPM ch. 15 50.4.5): review.
    Fires("NAT-DX-UNLISTED-NEOPLASM", "DX_COVERAGE_UNVERIFIED", (1, 2), "breast cancer, a neoplasm outside the listed uses",
          lambda d, p: build(d, p, diagnoses=["C50.911"])),
    Fires("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", (1,), "line 1 points only to the uncovered diagnosis",
          lambda d, p: build(d, p, diagnoses=["E11.9", "C64.1"], lines={0: {"dx_pointers": [1]}, 1: {"dx_pointers": [2]}, 2: {"dx_pointers": [2]}})),
    # PRIOR_AUTH_MISSING: payer requires PA (TEST FIXTURE payer only).
    Fires("NAT-PRIOR-AUTH", "PRIOR_AUTH_MISSING", (1, 2), "no PA", lambda d, p: build(d, p, prior_authorization=None), (FIXTURE,)),
    Fires("NAT-PRIOR-AUTH", "PRIOR_AUTH_MISSING", (1, 2), "blank PA", lambda d, p: build(d, p, prior_authorization="  "), (FIXTURE,)),
    # ADMIN_CODE_MISSING: professional, POS 11, no 96409/96413/96415/96417 on the date.
    Fires("NAT-ADMIN-CODE", "ADMIN_CODE_MISSING", (1,), "no administration line", lambda d, p: build(d, p, drop=(2,))),
    Fires("NAT-ADMIN-CODE", "ADMIN_CODE_MISSING", (1,), "96413 on another date",
          lambda d, p: build(d, p, lines={2: {"service_date": iso(d + DAY)}})),
    Fires("NAT-ADMIN-CODE", "ADMIN_CODE_MISSING", (1,), "only an IV push of another drug (96375)",
          lambda d, p: build(d, p, lines={2: {"hcpcs": "96375"}})),
    # PLACE_OF_SERVICE: inpatient setting.
    Fires("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", (1, 2), "POS 21", lambda d, p: build(d, p, place_of_service="21")),
    Fires("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", (1, 2), "POS 51", lambda d, p: build(d, p, place_of_service="51")),
    Fires("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", (1, 2), "POS 61", lambda d, p: build(d, p, place_of_service="61")),
    Fires("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", (1, 2), "inpatient bill 0111",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0111", place_of_service=None,
                             lines={0: {"revenue_code": "0636"}, 1: {"revenue_code": "0636"}})),
    # Both alternatives of the rule's $or hold: still one finding per line.
    Fires("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", (1, 2), "inpatient bill 0111 and POS 21",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0111", place_of_service="21",
                             lines={0: {"revenue_code": "0636"}, 1: {"revenue_code": "0636"}})),
    # REVENUE_CODE: institutional J9330 line not under 0636.
    Fires("NAT-REVENUE-CODE", "REVENUE_CODE", (1, 2), "institutional, no revenue codes",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0131", place_of_service=None)),
    Fires("NAT-REVENUE-CODE", "REVENUE_CODE", (1,), "institutional, 0250 on line 1",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0131", place_of_service=None,
                             lines={0: {"revenue_code": "0250"}, 1: {"revenue_code": "0636"}})),
    # DOC_INCOMPLETE, one rule per gap.
    Fires("NAT-DOC-LOT", "DOC_INCOMPLETE", (1,), "no lot", lambda d, p: build(d, p, lines={0: {"documentation": doc(d, lot=DELETE)}})),
    Fires("NAT-DOC-LOT", "DOC_INCOMPLETE", (1,), "blank lot", lambda d, p: build(d, p, lines={0: {"documentation": doc(d, lot=" ")}})),
    Fires("NAT-DOC-LOT", "DOC_INCOMPLETE", (1,), "empty record", lambda d, p: build(d, p, lines={0: {"documentation": {}}})),
    Fires("NAT-DOC-EXPIRATION", "DOC_INCOMPLETE", (1,), "no expiration",
          lambda d, p: build(d, p, lines={0: {"documentation": doc(d, expiration=DELETE)}})),
    Fires("NAT-DOC-EXPIRATION", "DOC_INCOMPLETE", (1,), "empty record", lambda d, p: build(d, p, lines={0: {"documentation": {}}})),
    Fires("NAT-DOC-ROUTE", "DOC_INCOMPLETE", (1,), "no route", lambda d, p: build(d, p, lines={0: {"documentation": doc(d, route=DELETE)}})),
    Fires("NAT-DOC-ROUTE", "DOC_INCOMPLETE", (2,), "empty record on the JW line", lambda d, p: build(d, p, lines={1: {"documentation": {}}})),
    Fires("NAT-DOC-NOT-IV", "DOC_INCOMPLETE", (1,), "subcutaneous", lambda d, p: build(d, p, lines={0: {"documentation": doc(d, route="SC")}})),
    Fires("NAT-DOC-NOT-IV", "DOC_INCOMPLETE", (1,), "oral", lambda d, p: build(d, p, lines={0: {"documentation": doc(d, route="oral")}})),
    Fires("NAT-DOC-EXPIRED", "DOC_INCOMPLETE", (1,), "lot expired the day before",
          lambda d, p: build(d, p, lines={0: {"documentation": doc(d, expiration=iso(d - DAY))}})),
    # PATIENT_UNDER_18: the payer covers adults only (TEST FIXTURE payer; Medicare sets no age limit).
    Fires("NAT-PATIENT-UNDER-18", "PATIENT_UNDER_18", (1,), "18th birthday the day after the date of service",
          lambda d, p: build(d, p, patient=aged_17(d)), (FIXTURE,)),
    Fires("NAT-PATIENT-UNDER-18", "PATIENT_UNDER_18", (1,), "a 12-year-old",
          lambda d, p: build(d, p, patient=born(years_before(d, 12))), (FIXTURE,)),
    # FREQUENCY: another J9330 date on the claim under 7 days away (the earlier date is listed
    # second, so it falls before the rule's effective_from in the effective-date test).
    Fires("NAT-FREQUENCY", "FREQUENCY", (1, 4), "another dose 6 days before", lambda d, p: with_doses(build(d, p), d, {6: 25})),
    Fires("NAT-FREQUENCY", "FREQUENCY", (1, 4), "another dose the day before", lambda d, p: with_doses(build(d, p), d, {1: 25})),
    # UNITS_OVER_POLICY_LIMIT: TEST FIXTURE payer limit 100 units in a trailing 28 days.
    Fires("NAT-UNITS-POLICY-LIMIT", "UNITS_OVER_POLICY_LIMIT", (1,), "25 + 25 + 50 units in the 3 weeks before, 25 on the date",
          lambda d, p: with_doses(build(d, p), d, {21: 25, 14: 25, 7: 50}), (FIXTURE,)),
    Fires("NAT-UNITS-POLICY-LIMIT", "UNITS_OVER_POLICY_LIMIT", (1,), "101 + 24 discarded units on one date",
          lambda d, p: build(d, p, lines={0: {"units": 101, "dose_mg": "101", "ndc_quantity": "5"}, 1: {"units": 24}}),
          (FIXTURE,)),
    # NDC_QUANTITY_MISMATCH: NDC quantity (UN) x BILLUNITSPKG (25 in the fixture crosswalk) < units.
    Fires("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", (1,), "26 units on one kit",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "26"}, 1: {"units": 24}})),
    Fires("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", (1, 2), "51 + 24 units, one kit on each line",
          lambda d, p: build(d, p, lines={0: {"units": 51, "dose_mg": "51"}, 1: {"units": 24, "ndc_quantity": "0.5"}})),
    # REFERENCE_DATA_MISSING (NDC): no crosswalk loaded, the NDC is not one of the two bundled ones.
    Fires("NAT-NDC-UNCONFIRMED", "REFERENCE_DATA_MISSING", (1,), "made-up well-formed NDC, no crosswalk",
          lambda d, p: build(d, p, lines={0: {"ndc": "99999099999"}}), editor=NO_CROSSWALK),
    Fires("NAT-NDC-UNCONFIRMED", "REFERENCE_DATA_MISSING", (2,), "the fixture crosswalk's other temsirolimus NDC, no crosswalk",
          lambda d, p: build(d, p, lines={1: {"ndc": "44444-0444-01"}}), editor=NO_CROSSWALK),
    # REFERENCE_DATA_MISSING (fee schedule): a fee-schedule payer with no schedule covering the date.
    Fires("NAT-FEE-SCHEDULE-MISSING", "REFERENCE_DATA_MISSING", (1,), "no fee schedule loaded",
          lambda d, p: build(d, p), (FIXTURE,), editor=NO_FEES),
]
# fmt: on

ACCEPTED_DRUG_MODIFIERS = [
    "JW",
    "JZ",
    "JG",
    "TB",
    "GA",
    "GY",
    "GZ",
    "KX",
    "59",
    "XE",
    "XS",
    "XP",
    "XU",
    "CR",
    "Q0",
    "Q1",
]

# One case per line, so that the table reads as its source's list.
# fmt: off
CLEAN: list[Clean] = [
    Clean("NAT-UNITS-INVALID", "UNITS_INVALID", "contract example", lambda d, p: build(d, p)),
    Clean("NAT-UNITS-INVALID", "UNITS_INVALID", "units as '20.0'", lambda d, p: build(d, p, lines={0: {"units": "20.0"}})),
    Clean("NAT-UNITS-INVALID", "UNITS_INVALID", "units as 20.0 float", lambda d, p: build(d, p, lines={0: {"units": 20.0}})),
    Clean("NAT-UNITS-INVALID", "UNITS_INVALID", "administration line without units",
          lambda d, p: build(d, p, lines={2: {"units": DELETE}})),
    Clean("NAT-UNITS-DOSE", "UNITS_DOSE_MISMATCH", "19.2 mg rounded up to 20", lambda d, p: build(d, p, lines={0: {"dose_mg": "19.2"}})),
    Clean("NAT-UNITS-DOSE", "UNITS_DOSE_MISMATCH", "no documented dose", lambda d, p: build(d, p, lines={0: {"dose_mg": DELETE}})),
    Clean("NAT-DOSE-LABEL", "DOSE_ABOVE_LABEL", "exactly 25 mg with JZ",
          lambda d, p: build(d, p, lines={0: full_kit_jz()}, drop=(1,))),
    Clean("NAT-DOSE-MAX", "DOSE_ABOVE_MAX", "exactly 50 mg with JZ", lambda d, p: build(d, p, lines={0: full_kit_jz(50)}, drop=(1,))),
    Clean("NAT-DOSE-MAX", "DOSE_ABOVE_MAX", "51 mg for mantle cell lymphoma (C83.10 on the drug line)",
          lambda d, p: build(d, p, diagnoses=["C64.1", "C83.10"],
                             lines={0: {"units": 51, "dose_mg": "51", "dx_pointers": [1, 2]}, 1: {"units": 24}})),
    Clean("NAT-DOSE-MAX", "DOSE_ABOVE_MAX", "51 mg for mantle cell lymphoma (C8318, no dot)",
          lambda d, p: build(d, p, diagnoses=["C64.1", "C8318"],
                             lines={0: {"units": 51, "dose_mg": "51", "dx_pointers": [2, 1]}, 1: {"units": 24}})),
    Clean("NAT-WASTE-KITS", "WASTE_ARITHMETIC", "20 + 5 discarded (contract example)", lambda d, p: build(d, p)),
    Clean("NAT-WASTE-KITS", "WASTE_ARITHMETIC", "26 + 24 discarded = two kits",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "26"}, 1: {"units": 24}})),
    Clean("NAT-WASTE-UNOPENED", "WASTE_ARITHMETIC", "1 + 24 discarded",
          lambda d, p: build(d, p, lines={0: {"units": 1, "dose_mg": "1"}, 1: {"units": 24}})),
    Clean("NAT-JWJZ-MISSING", "JWJZ_MISSING", "25 mg with JZ", lambda d, p: build(d, p, lines={0: full_kit_jz()}, drop=(1,))),
    Clean("NAT-JWJZ-MISSING", "JWJZ_MISSING", "administered line bare beside a JW line", lambda d, p: build(d, p)),
    Clean("NAT-JWJZ-CONFLICT", "JWJZ_CONFLICT", "25 mg with JZ", lambda d, p: build(d, p, lines={0: full_kit_jz()}, drop=(1,))),
    Clean("NAT-JWJZ-CONFLICT", "JWJZ_CONFLICT", "JW line without JZ", lambda d, p: build(d, p)),
    Clean("NAT-JW-WITHOUT-ADMIN", "JW_WITHOUT_ADMIN", "JW line beside the administered line", lambda d, p: build(d, p)),
    Clean("NAT-JZ-WITH-WASTE", "JZ_WITH_WASTE", "25 mg with JZ", lambda d, p: build(d, p, lines={0: full_kit_jz()}, drop=(1,))),
    Clean("NAT-JZ-WITH-WASTE", "JZ_WITH_WASTE", "50 mg with JZ", lambda d, p: build(d, p, lines={0: full_kit_jz(50)}, drop=(1,))),
    Clean("NAT-340B-MISSING", "MODIFIER_340B_MISSING", "340B provider with JG on both lines",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": None},
                             lines={0: {"modifiers": ["JG"]}, 1: {"modifiers": ["JW", "JG"]}})),
    Clean("NAT-340B-MISSING", "MODIFIER_340B_MISSING", "not a 340B provider", lambda d, p: build(d, p)),
    Clean("NAT-340B-WRONG", "MODIFIER_340B_WRONG", "critical access billed TB",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": "critical_access"},
                             lines={0: {"modifiers": ["TB"]}, 1: {"modifiers": ["JW", "TB"]}})),
    Clean("NAT-340B-WRONG", "MODIFIER_340B_WRONG", "DSH billed JG",
          lambda d, p: build(d, p, provider={**PROVIDER_340B, "hospital_type": "dsh"},
                             lines={0: {"modifiers": ["JG"]}, 1: {"modifiers": ["JW", "JG"]}})),
    Clean("NAT-340B-WRONG", "MODIFIER_340B_WRONG", "not 340B, JG billed anyway",
          lambda d, p: build(d, p, lines={0: {"modifiers": ["JG"]}})),
    *[
        Clean("NAT-MODIFIER-INVALID", "MODIFIER_INVALID", f"{modifier} on the drug line",
              lambda d, p, m=modifier: build(d, p, lines={0: {"modifiers": [m]}}))
        for modifier in ACCEPTED_DRUG_MODIFIERS
    ],
    Clean("NAT-MODIFIER-INVALID", "MODIFIER_INVALID", "RT on the administration line (not a drug line)",
          lambda d, p: build(d, p, lines={2: {"modifiers": ["RT"]}})),
    Clean("NAT-MODIFIER-INVALID", "MODIFIER_INVALID", "'00' placeholder means no modifier",
          lambda d, p: build(d, p, lines={0: {"modifiers": ["00"]}})),
    Clean("NAT-NDC-MISSING", "NDC_MISSING", "NDC present", lambda d, p: build(d, p), (FIXTURE,)),
    Clean("NAT-NDC-MISSING", "NDC_MISSING", "Medicare does not require the NDC",
          lambda d, p: build(d, p, lines={0: {"ndc": DELETE}, 1: {"ndc": None}}), ("medicare",)),
    Clean("NAT-NDC-MISSING", "NDC_MISSING", "administration line without NDC", lambda d, p: build(d, p), (FIXTURE,)),
    Clean("NAT-NDC-INVALID", "NDC_INVALID", "hyphenated 5-4-2", lambda d, p: build(d, p, lines={0: {"ndc": "00008-1179-01"}})),
    Clean("NAT-NDC-INVALID", "NDC_INVALID", "Gland 11-digit", lambda d, p: build(d, p, lines={0: {"ndc": "68083020201"}})),
    Clean("NAT-NDC-INVALID", "NDC_INVALID", "no NDC at all (Medicare)", lambda d, p: build(d, p, lines={0: {"ndc": DELETE}}), ("medicare",)),
    Clean("NAT-NDC-NOT-TEMSIROLIMUS", "NDC_NOT_TEMSIROLIMUS", "Torisel kit", lambda d, p: build(d, p)),
    # The January 2026 fixture crosswalk does not list the Gland kit, so the bundled list is
    # checked with no crosswalk loaded.
    Clean("NAT-NDC-NOT-TEMSIROLIMUS", "NDC_NOT_TEMSIROLIMUS", "Gland temsirolimus kit, hyphenated, bundled list",
          lambda d, p: build(d, p, lines={0: {"ndc": "68083-0202-01"}, 1: {"ndc": "68083-0202-01"}}), editor=NO_CROSSWALK),
    Clean("NAT-NDC-NOT-TEMSIROLIMUS", "NDC_NOT_TEMSIROLIMUS", "temsirolimus NDC in the crosswalk, not bundled",
          lambda d, p: build(d, p, lines={0: {"ndc": "44444-0444-01"}, 1: {"ndc": "44444044401"}})),
    Clean("NAT-NDC-NOT-TEMSIROLIMUS", "NDC_NOT_TEMSIROLIMUS", "made-up NDC without a crosswalk is unconfirmed, not denied",
          lambda d, p: build(d, p, lines={0: {"ndc": "99999099999"}}), editor=NO_CROSSWALK),
    Clean("NAT-DX-MISSING", "DX_MISSING", "line points to C64.1", lambda d, p: build(d, p)),
    Clean("NAT-DX-MISSING", "DX_MISSING", "administration line without pointers", lambda d, p: build(d, p, lines={2: {"dx_pointers": []}})),
    Clean("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", "C64.2", lambda d, p: build(d, p, diagnoses=["C64.2"])),
    Clean("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", "a neoplasm outside the list goes to review where the payer reviews",
          lambda d, p: build(d, p, diagnoses=["C50.911"])),
    Clean("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", "metastatic RCC: a secondary site with the kidney history",
          lambda d, p: build(d, p, diagnoses=["C78.01", "Z85.528"])),
    Clean("NAT-DX-UNLISTED-NEOPLASM", "DX_COVERAGE_UNVERIFIED", "a listed use", lambda d, p: build(d, p, diagnoses=["C83.10"])),
    Clean("NAT-DX-UNLISTED-NEOPLASM", "DX_COVERAGE_UNVERIFIED", "not a neoplasm: denied, not reviewed",
          lambda d, p: build(d, p, diagnoses=["E11.9"])),
    Clean("NAT-DX-UNLISTED-NEOPLASM", "DX_COVERAGE_UNVERIFIED", "payer does not review unlisted uses",
          lambda d, p: build(d, p, diagnoses=["C50.911"]), ("aetna",)),
    Clean("NAT-DX-NOT-COVERED", "DX_NOT_COVERED", "one covered diagnosis among the line's",
          lambda d, p: build(d, p, diagnoses=["C50.911", "C64.1"], lines={0: {"dx_pointers": [1, 2]}, 1: {"dx_pointers": [2, 1]}})),
    Clean("NAT-PRIOR-AUTH", "PRIOR_AUTH_MISSING", "PA given", lambda d, p: build(d, p), (FIXTURE,)),
    Clean("NAT-PRIOR-AUTH", "PRIOR_AUTH_MISSING", "Medicare does not require PA",
          lambda d, p: build(d, p, prior_authorization=None), ("medicare",)),
    *[
        Clean("NAT-ADMIN-CODE", "ADMIN_CODE_MISSING", f"{code} on the date",
              lambda d, p, c=code: build(d, p, lines={2: {"hcpcs": c}}))
        for code in ("96409", "96413", "96415", "96417")
    ],
    Clean("NAT-ADMIN-CODE", "ADMIN_CODE_MISSING", "professional at POS 22", lambda d, p: build(d, p, place_of_service="22", drop=(2,))),
    Clean("NAT-ADMIN-CODE", "ADMIN_CODE_MISSING", "institutional claim",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0131", place_of_service=None, drop=(2,))),
    Clean("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", "POS 11", lambda d, p: build(d, p)),
    Clean("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", "POS 22", lambda d, p: build(d, p, place_of_service="22")),
    Clean("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", "POS 19", lambda d, p: build(d, p, place_of_service="19")),
    Clean("NAT-POS-INPATIENT", "PLACE_OF_SERVICE", "outpatient bill 0131",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0131", place_of_service=None)),
    Clean("NAT-REVENUE-CODE", "REVENUE_CODE", "institutional with 0636 on the drug lines",
          lambda d, p: build(d, p, form="institutional", type_of_bill="0131", place_of_service=None,
                             lines={0: {"revenue_code": "0636"}, 1: {"revenue_code": "0636"}, 2: {"revenue_code": "0335"}})),
    Clean("NAT-REVENUE-CODE", "REVENUE_CODE", "professional without revenue codes", lambda d, p: build(d, p)),
    Clean("NAT-DOC-LOT", "DOC_INCOMPLETE", "complete record", lambda d, p: build(d, p)),
    Clean("NAT-DOC-LOT", "DOC_INCOMPLETE", "no record given", lambda d, p: build(d, p, lines={0: {"documentation": DELETE}})),
    Clean("NAT-DOC-EXPIRATION", "DOC_INCOMPLETE", "complete record", lambda d, p: build(d, p)),
    Clean("NAT-DOC-ROUTE", "DOC_INCOMPLETE", "complete record", lambda d, p: build(d, p)),
    Clean("NAT-DOC-NOT-IV", "DOC_INCOMPLETE", "route 'intravenous'",
          lambda d, p: build(d, p, lines={0: {"documentation": doc(d, route="intravenous")}})),
    Clean("NAT-DOC-NOT-IV", "DOC_INCOMPLETE", "route ' iv '", lambda d, p: build(d, p, lines={0: {"documentation": doc(d, route=" iv ")}})),
    Clean("NAT-DOC-EXPIRED", "DOC_INCOMPLETE", "lot expires on the date of service",
          lambda d, p: build(d, p, lines={0: {"documentation": doc(d, expiration=iso(d))}})),
    Clean("NAT-PATIENT-UNDER-18", "PATIENT_UNDER_18", "18th birthday on the date of service",
          lambda d, p: build(d, p, patient=born(years_before(d, 18)))),
    Clean("NAT-PATIENT-UNDER-18", "PATIENT_UNDER_18", "no birth date given", lambda d, p: build(d, p, patient=born(None))),
    Clean("NAT-PATIENT-UNDER-18", "PATIENT_UNDER_18", "Medicare sets no age limit",
          lambda d, p: build(d, p, patient=aged_17(d)), ("medicare",)),
    Clean("NAT-FREQUENCY", "FREQUENCY", "another dose 7 days before (weekly)", lambda d, p: with_doses(build(d, p), d, {7: 25})),
    Clean("NAT-FREQUENCY", "FREQUENCY", "weekly doses for four weeks", lambda d, p: with_doses(build(d, p), d, {7: 25, 14: 25, 21: 25})),
    Clean("NAT-FREQUENCY", "FREQUENCY", "the JW line on the same date is not another date", lambda d, p: build(d, p)),
    Clean("NAT-UNITS-POLICY-LIMIT", "UNITS_OVER_POLICY_LIMIT", "100 units in 28 days: the limit itself",
          lambda d, p: with_doses(build(d, p), d, {21: 25, 14: 25, 7: 25})),
    Clean("NAT-UNITS-POLICY-LIMIT", "UNITS_OVER_POLICY_LIMIT", "a dose 28 days before is outside the window",
          lambda d, p: with_doses(build(d, p), d, {28: 25, 21: 25, 14: 25, 7: 25})),
    Clean("NAT-UNITS-POLICY-LIMIT", "UNITS_OVER_POLICY_LIMIT", "Medicare sets no unit limit",
          lambda d, p: with_doses(build(d, p), d, {21: 25, 14: 25, 7: 50}), ("medicare",)),
    Clean("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", "25 units on one kit",
          lambda d, p: build(d, p, lines={0: full_kit_jz()}, drop=(1,))),
    Clean("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", "26 units on two kits",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "26", "ndc_quantity": "2"}, 1: {"units": 24}})),
    Clean("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", "quantity in ML is not compared",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "26", "ndc_unit": "ML"}, 1: {"units": 24}})),
    Clean("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", "no quantity given",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "26", "ndc_quantity": DELETE}, 1: {"units": 24}})),
    Clean("NAT-NDC-QUANTITY", "NDC_QUANTITY_MISMATCH", "no crosswalk loaded: billing units per package unknown",
          lambda d, p: build(d, p, lines={0: {"units": 26, "dose_mg": "26"}, 1: {"units": 24}}), editor=NO_CROSSWALK),
    Clean("NAT-NDC-UNCONFIRMED", "REFERENCE_DATA_MISSING", "Torisel, bundled, no crosswalk", lambda d, p: build(d, p),
          editor=NO_CROSSWALK),
    Clean("NAT-NDC-UNCONFIRMED", "REFERENCE_DATA_MISSING", "Gland kit, bundled, no crosswalk",
          lambda d, p: build(d, p, lines={0: {"ndc": "68083-0202-01"}, 1: {"ndc": "68083020201"}}), editor=NO_CROSSWALK),
    Clean("NAT-NDC-UNCONFIRMED", "REFERENCE_DATA_MISSING", "made-up NDC with the crosswalk loaded (denied instead)",
          lambda d, p: build(d, p, lines={0: {"ndc": "99999099999"}})),
    Clean("NAT-NDC-UNCONFIRMED", "REFERENCE_DATA_MISSING", "fixture-crosswalk temsirolimus NDC, crosswalk loaded",
          lambda d, p: build(d, p, lines={1: {"ndc": "44444-0444-01"}})),
    Clean("NAT-FEE-SCHEDULE-MISSING", "REFERENCE_DATA_MISSING", "the fee schedule covers the date", lambda d, p: build(d, p), (FIXTURE,)),
    Clean("NAT-FEE-SCHEDULE-MISSING", "REFERENCE_DATA_MISSING", "Medicare is priced from the ASP file",
          lambda d, p: build(d, p), ("medicare",), editor=NO_FEES),
]
# fmt: on


def _params(cases, payers_of=lambda case: case.payers):
    return [
        pytest.param(case, payer, id=f"{case.rule_id}-{payer}-{case.why}")
        for case in cases
        for payer in payers_of(case)
    ]


def by_rule(result, rule_id: str):
    return [finding for finding in result.findings if finding.rule_id == rule_id]


# --- coverage of the spec -----------------------------------------------------


def test_every_national_rule_has_a_firing_and_a_clean_example():
    assert set(RULES) == {case.rule_id for case in FIRES}
    assert set(RULES) == {case.rule_id for case in CLEAN}


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_code_and_severity_agree_with_the_contract(rule_id):
    rule = RULES[rule_id]
    expected_codes = {case.code for case in FIRES if case.rule_id == rule_id}
    assert expected_codes == {rule["code"]}
    assert rule["severity"] == CONTRACT[rule["code"]][0]
    assert rule["source"].strip() and rule["message"].strip()


# --- each rule fires, and a related claim does not ---------------------------


@pytest.mark.parametrize(("case", "payer"), _params(FIRES))
def test_rule_fires(rules_editors, case, payer):
    result = rules_editors[case.editor].check(build_checked(case.build, DOS, payer))
    assert result.error is None
    hits = by_rule(result, case.rule_id)
    assert sorted(finding.line for finding in hits) == list(case.lines), result.findings
    severity, carc, rarc = CONTRACT[case.code]
    for finding in hits:
        assert finding.code == case.code
        assert finding.severity == severity  # no override applies to these codes in 2026
        assert (finding.carc, finding.rarc) == (carc, rarc)
        assert finding.source == RULES[case.rule_id]["source"]
        assert finding.payer == payer
        # The Line column carries the line; messages for people neither repeat it nor name
        # Python arguments.
        assert not finding.message.lower().startswith("line "), finding.message
        assert "Editor(" not in finding.message
        assert "$" not in finding.message  # every placeholder was filled


@pytest.mark.parametrize(("case", "payer"), _params(CLEAN))
def test_related_claim_does_not_fire(rules_editors, case, payer):
    result = rules_editors[case.editor].check(build_checked(case.build, DOS, payer))
    assert result.error is None
    assert case.code not in codes(result), result.findings
    assert by_rule(result, case.rule_id) == []


def build_checked(builder: Builder, day: dt.date, payer: str) -> dict:
    claim = builder(day, payer)
    assert claim["payer"] == payer
    return claim


def test_the_contract_example_is_clean_on_both_payers(rules_editor):
    for payer in BOTH:
        result = rules_editor.check(build(DOS, payer))
        assert result.findings == (), (payer, result.findings)


# --- effective dates ------------------------------------------------------------


def first_firing_case(rule_id: str) -> Fires:
    return next(case for case in FIRES if case.rule_id == rule_id)


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_starts_on_its_effective_from(rules_editors, rule_id):
    """On the TEST FIXTURE payer (parameters on since 2000) only the rule's own date gates it."""
    case = first_firing_case(rule_id)
    start = dt.date.fromisoformat(RULES[rule_id]["effective_from"])
    for day, fires in ((start - DAY, False), (start, True), (start + 400 * DAY, True)):
        hits = by_rule(rules_editors[case.editor].check(case.build(day, FIXTURE)), rule_id)
        assert bool(hits) is fires, (day, hits)


# Dates from the sources, not from the spec: JW required 2017-01-01 (CR9603); JZ introduced
# 2023-01-01 (JW/JZ FAQs); JG/TB for every 340B entity from 2024-01-01.
LATER_RULES = {
    "NAT-WASTE-KITS": ("2017-01-01", dt.date(2016, 6, 15)),
    "NAT-WASTE-UNOPENED": ("2017-01-01", dt.date(2016, 6, 15)),
    "NAT-JW-WITHOUT-ADMIN": ("2017-01-01", dt.date(2016, 6, 15)),
    "NAT-JWJZ-MISSING": ("2023-01-01", dt.date(2022, 6, 15)),
    "NAT-JWJZ-CONFLICT": ("2023-01-01", dt.date(2022, 6, 15)),
    "NAT-JZ-WITH-WASTE": ("2023-01-01", dt.date(2022, 6, 15)),
    "NAT-340B-MISSING": ("2024-01-01", dt.date(2023, 6, 15)),
    "NAT-340B-WRONG": ("2024-01-01", dt.date(2023, 6, 15)),
}


@pytest.mark.parametrize("rule_id", sorted(LATER_RULES))
@pytest.mark.parametrize("payer", BOTH)
def test_jw_jz_and_340b_rules_do_not_fire_before_they_existed(rules_editor, rule_id, payer):
    effective_from, too_early = LATER_RULES[rule_id]
    assert RULES[rule_id]["effective_from"] == effective_from
    for case in (c for c in FIRES if c.rule_id == rule_id and payer in c.payers):
        result = rules_editor.check(case.build(too_early, payer))
        assert result.error is None
        assert by_rule(result, rule_id) == [], (case.why, result.findings)


def test_jw_rules_fire_in_2017_but_not_2016(rules_editor):
    waste = build(dt.date(2016, 12, 31), "medicare", lines={1: {"units": 10}})
    assert "WASTE_ARITHMETIC" not in codes(rules_editor.check(waste))
    waste = build(dt.date(2017, 1, 1), "medicare", lines={1: {"units": 10}})
    assert "WASTE_ARITHMETIC" in codes(rules_editor.check(waste))


def test_jz_rules_do_not_fire_in_2022_even_where_the_payer_requires_jw_jz(rules_editor):
    # The TEST FIXTURE payer switches jwjz_required on from 2000: only the rules' dates hold them back.
    day = dt.date(2022, 12, 31)
    bare = build(day, FIXTURE, lines={0: {"units": 25, "dose_mg": "25"}}, drop=(1,))
    jz_partial = build(day, FIXTURE, lines={0: {"modifiers": ["JZ"]}}, drop=(1,))
    conflict = build(day, FIXTURE, lines={0: {"modifiers": ["JZ"]}})
    for claim in (bare, jz_partial, conflict):
        found = set(codes(rules_editor.check(claim)))
        assert not found & {"JWJZ_MISSING", "JZ_WITH_WASTE", "JWJZ_CONFLICT"}, found
    assert "JWJZ_MISSING" in codes(
        rules_editor.check(build(day + DAY, FIXTURE, lines={0: {"units": 25, "dose_mg": "25"}}, drop=(1,)))
    )


# --- a few behaviours the table above does not show ----------------------------------


def test_date_rules_judge_each_date_on_its_own(rules_editor):
    """Two correct partial-kit dates on one claim: the waste and JW/JZ edits see each date apart."""
    claim = build(DOS, "medicare")
    later = copy.deepcopy(claim["lines"])
    for offset, line in enumerate(later, start=4):
        line["line"] = offset
        line["service_date"] = iso(DOS + 7 * DAY)
    claim["lines"] += later
    assert rules_editor.check(claim).findings == ()
    # The same units on one date would be 40 + 10 = 50 mg: still whole kits, but 40 mg > 25 mg.
    for line in claim["lines"]:
        line["service_date"] = iso(DOS)
    assert "DOSE_ABOVE_LABEL" in codes(rules_editor.check(claim))


def test_a_date_with_invalid_units_is_not_judged_by_the_waste_edits(rules_editor):
    claim = build(DOS, "medicare", lines={0: {"units": "20.5"}, 1: {"units": 10}})
    found = codes(rules_editor.check(claim))
    assert "UNITS_INVALID" in found and "WASTE_ARITHMETIC" not in found


def test_dose_above_max_also_raises_dose_above_label(rules_editor):
    claim = build(DOS, "medicare", lines={0: {"units": 51, "dose_mg": "51"}, 1: {"units": 24}})
    found = codes(rules_editor.check(claim))
    assert found.count("DOSE_ABOVE_LABEL") == 1 and found.count("DOSE_ABOVE_MAX") == 1


def test_ndc_not_temsirolimus_is_not_raised_for_an_invalid_ndc(rules_editor):
    claim = build(DOS, "medicare", lines={0: {"ndc": "12345678911"}})
    found = codes(rules_editor.check(claim))
    assert "NDC_INVALID" in found and "NDC_NOT_TEMSIROLIMUS" not in found


def test_non_ascii_digits_are_not_a_valid_ndc(rules_editor):
    claim = build(DOS, "medicare", lines={0: {"ndc": "0" + "\u0661" * 10}})
    assert "NDC_INVALID" in codes(rules_editor.check(claim))


def test_a_real_payer_age_criterion_raises_patient_under_18(rules_editor):
    """Florida Blue (VP-0166: 'Patient is at least 18 years of age') switches adults_only on."""
    minor = build(DOS, "florida_blue", patient=aged_17(DOS), prior_authorization="PA-1")
    hits = by_rule(rules_editor.check(minor), "NAT-PATIENT-UNDER-18")
    assert [(f.line, f.code, f.payer) for f in hits] == [(1, "PATIENT_UNDER_18", "florida_blue")]
    adult = build(DOS, "florida_blue", patient=born(years_before(DOS, 18)), prior_authorization="PA-1")
    assert by_rule(rules_editor.check(adult), "NAT-PATIENT-UNDER-18") == []
