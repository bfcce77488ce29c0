"""Property tests through the whole pipeline: arithmetic and modifiers as the rules see them."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from j9330_rules.facts import units
from tests.conftest import make_claim

ARITHMETIC_AND_MODIFIER_CODES = {
    "UNITS_INVALID",
    "UNITS_DOSE_MISMATCH",
    "WASTE_ARITHMETIC",
    "JWJZ_MISSING",
    "JWJZ_CONFLICT",
    "JW_WITHOUT_ADMIN",
    "JZ_WITH_WASTE",
    "MODIFIER_340B_MISSING",
    "MODIFIER_340B_WRONG",
    "MODIFIER_INVALID",
}
TB_TYPES = ["critical_access", "maryland", "non_excepted_off_campus", "rural_sch", "childrens", "cancer"]
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)


def billed_claim(dose: Decimal, *, provider=None, flag=None, service_date="2026-03-02"):
    """A claim billing ``dose`` the way CMS says: JZ or a separate JW line, plus a 340B flag if given."""
    billing = units.bill_dose(dose)
    extra = [flag] if flag else []
    lines = [
        {
            "line": 1,
            "hcpcs": "J9330",
            "units": billing.administered_units,
            "service_date": service_date,
            "modifiers": [*billing.administered_modifiers, *extra],
            "ndc": "00008117901",
            "dx_pointers": [1],
            "dose_mg": str(dose),
        }
    ]
    if billing.discarded_units:
        lines.append(
            {
                "line": 2,
                "hcpcs": "J9330",
                "units": billing.discarded_units,
                "service_date": service_date,
                "modifiers": ["JW", *extra],
                "ndc": "00008117901",
                "dx_pointers": [1],
            }
        )
    lines.append({"line": 3, "hcpcs": "96413", "units": 1, "service_date": service_date, "dx_pointers": [1]})
    changes = {"lines": lines}
    if provider:
        changes["provider"] = provider
    return make_claim(**changes)


@pytest.mark.parametrize("half_mg", range(1, 201))
def test_every_half_mg_dose_billed_correctly_is_clean(editor, half_mg):
    dose = Decimal(half_mg) / 2
    result = editor.check(billed_claim(dose))
    assert not {f.code for f in result.findings} & ARITHMETIC_AND_MODIFIER_CODES, result.findings


@fixture_ok
@given(
    dose=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("100"), places=1),
    hospital_type=st.sampled_from([*TB_TYPES, "dsh", None]),
)
def test_correct_340b_flag_is_clean(editor, dose, hospital_type):
    flag = "TB" if hospital_type in TB_TYPES else "JG"
    claim = billed_claim(dose, provider={"is_340b": True, "hospital_type": hospital_type}, flag=flag)
    assert not {f.code for f in editor.check(claim).findings} & ARITHMETIC_AND_MODIFIER_CODES


@fixture_ok
@given(
    dose=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("100"), places=1),
    delta=st.integers(min_value=-30, max_value=30).filter(bool),
)
def test_administered_units_off_the_dose_are_caught(editor, dose, delta):
    claim = billed_claim(dose)
    claim["lines"][0]["units"] += delta
    codes = {f.code for f in editor.check(claim).findings}
    if claim["lines"][0]["units"] <= 0:
        assert "UNITS_INVALID" in codes
    else:
        assert "UNITS_DOSE_MISMATCH" in codes


@fixture_ok
@given(administered=st.integers(1, 120), discarded=st.integers(1, 60))
def test_waste_arithmetic_fires_exactly_when_kits_do_not_add_up(editor, administered, discarded):
    claim = billed_claim(Decimal(20))
    claim["lines"][0].update(units=administered, dose_mg=None)
    claim["lines"][1].update(units=discarded)
    fires = "WASTE_ARITHMETIC" in {f.code for f in editor.check(claim).findings}
    assert fires == ((administered + discarded) % 25 != 0 or discarded >= 25)


drug_modifiers = st.lists(st.sampled_from(["JW", "JZ", "GA", "KX"]), max_size=3, unique=True)


@fixture_ok
@given(st.lists(drug_modifiers, min_size=1, max_size=4))
def test_jw_and_jz_never_both_pass(editor, modifier_lists):
    lines = [
        {
            "line": i,
            "hcpcs": "J9330",
            "units": 5,
            "service_date": "2026-03-02",
            "modifiers": mods,
            "ndc": "00008117901",
            "dx_pointers": [1],
        }
        for i, mods in enumerate(modifier_lists, start=1)
    ]
    result = editor.check(make_claim(lines=lines))
    all_mods = {m for mods in modifier_lists for m in mods}
    if {"JW", "JZ"} <= all_mods:
        assert any(f.code == "JWJZ_CONFLICT" and f.blocking for f in result.findings)
    else:
        assert "JWJZ_CONFLICT" not in {f.code for f in result.findings}
