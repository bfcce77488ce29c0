"""Shared fixtures: one Editor per session (building one compiles every payer)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from j9330_rules import Editor

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FIXTURES = ROOT / "tests" / "fixtures"
CMS = FIXTURES / "cms"
# TEST FIXTURES: made-up numbers in the published CMS layouts (see each file's header).
FIXTURE_ASP = CMS / "asp_payment_limit_fixture_january_2026.csv"
FIXTURE_CROSSWALK = CMS / "asp_ndc_hcpcs_crosswalk_fixture_january_2026.csv"
FIXTURE_MUE = [
    CMS / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv",
    CMS / "MCR_MUE_OutpatientHospitalServices_Eff_01-01-2026_fixture.csv",
]


#: TEST FIXTURE: a payer without a sourced policy (every built-in payer now has one), for the
#: PAYER_POLICY_NOT_PROVIDED path a third party's unsourced payer takes.
UNSOURCED = "unsourced_fixture"


def unsourced_plugin():
    from j9330_rules import Payer
    from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

    note = "TEST FIXTURE: no policy was sourced for this made-up payer; national rules only."
    return SpecPayerPlugin(Payer(UNSOURCED, "TEST FIXTURE unsourced payer", policy_sourced=False, note=note))


#: Every test that takes an editor runs on both engines: compiled (the default) and durable-rules.
ENGINE_NAMES = ["compiled", "durable"]


@pytest.fixture(scope="session", params=ENGINE_NAMES)
def editor(request) -> Editor:
    """An editor with the fixture ASP and MUE files loaded, so a correct claim is clean."""
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine=request.param)


@pytest.fixture(scope="session", params=ENGINE_NAMES)
def unsourced_editor(request) -> Editor:
    """The ``editor``, plus the TEST FIXTURE payer that has no sourced policy."""
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine=request.param, plugins=[unsourced_plugin()])


@pytest.fixture(scope="session", params=ENGINE_NAMES)
def bare_editor(request) -> Editor:
    """An editor with no reference files loaded: what a new user has."""
    return Editor(engine=request.param)


CLEAN_CLAIM: dict[str, Any] = {
    "claim_id": "CLM-0001",
    "payer": "medicare",
    "form": "professional",
    "type_of_bill": None,
    "place_of_service": "11",
    "diagnoses": ["C64.1"],
    "patient": {"birth_date": "1956-04-02", "sex": "F"},
    "provider": {"npi": "1234567893", "is_340b": False, "hospital_type": None},
    "prior_authorization": None,
    "lines": [
        {
            "line": 1,
            "hcpcs": "J9330",
            "modifiers": [],
            "units": 20,
            "service_date": "2026-03-02",
            "charge": "2400.00",
            "ndc": "00008117901",
            "ndc_unit": "UN",
            "ndc_quantity": "1",
            "revenue_code": None,
            "dx_pointers": [1],
            "dose_mg": "20",
            "documentation": {"lot": "AB123", "expiration": "2027-01-31", "route": "IV"},
        },
        {
            "line": 2,
            "hcpcs": "J9330",
            "modifiers": ["JW"],
            "units": 5,
            "service_date": "2026-03-02",
            "charge": "600.00",
            "ndc": "00008117901",
            "ndc_unit": "UN",
            "ndc_quantity": "1",
            "dx_pointers": [1],
        },
        {
            "line": 3,
            "hcpcs": "96413",
            "modifiers": [],
            "units": 1,
            "service_date": "2026-03-02",
            "charge": "350.00",
            "dx_pointers": [1],
        },
    ],
}


def make_claim(**changes: Any) -> dict[str, Any]:
    """A deep copy of the clean example claim (the contract's) with top-level changes."""
    claim = copy.deepcopy(CLEAN_CLAIM)
    claim.update(copy.deepcopy(changes))
    return claim


def codes(result) -> list[str]:
    return [finding.code for finding in result.findings]


def check_items(editor, items) -> list:
    """What the CLI does with read items: an Unreadable becomes an error result, a claim is checked."""
    from j9330_rules.model import Result
    from j9330_rules.readers import Unreadable

    results = []
    for item in items:
        if isinstance(item, Unreadable):
            results.append(Result(None, None, error=item.message))
        else:
            results.extend(editor.check_many([item]))
    return results


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter at the repo root: a crash there fails a test, not the run."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env or {**os.environ, "PYTHONPATH": str(ROOT)},
    )
