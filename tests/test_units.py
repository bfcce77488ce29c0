"""Unit arithmetic: administered rounds up, discarded rounds down, kits are whole."""

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from j9330_rules.facts import units
from j9330_rules.model import ClaimLine

doses = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("500"), places=3)
kit_sizes = st.integers(min_value=1, max_value=100)


@given(doses, kit_sizes)
def test_administered_plus_discarded_is_whole_kits(dose, kit_mg):
    billing = units.bill_dose(dose, kit_mg)
    assert billing.administered_units + billing.discarded_units == billing.kits * kit_mg


@given(doses, kit_sizes)
def test_administered_rounds_up_and_discard_rounds_down(dose, kit_mg):
    billing = units.bill_dose(dose, kit_mg)
    assert billing.administered_units - 1 < dose <= billing.administered_units
    wasted_mg = billing.kits * kit_mg - dose
    assert billing.discarded_units <= wasted_mg < billing.discarded_units + 1


@given(doses, kit_sizes)
def test_fewest_kits_and_never_a_whole_kit_wasted(dose, kit_mg):
    billing = units.bill_dose(dose, kit_mg)
    assert (billing.kits - 1) * kit_mg < dose <= billing.kits * kit_mg
    assert 0 <= billing.discarded_units < kit_mg


@given(doses)
def test_jz_exactly_when_nothing_is_discarded(dose):
    billing = units.bill_dose(dose)
    assert (billing.administered_modifiers == ("JZ",)) == (billing.discarded_units == 0)


@pytest.mark.parametrize(
    ("dose", "administered", "discarded", "kits"),
    [
        ("15", 15, 10, 1),
        ("25", 25, 0, 1),
        ("20", 20, 5, 1),
        ("12.5", 13, 12, 1),
        ("24.5", 25, 0, 1),
        ("50", 50, 0, 2),
        ("26", 26, 24, 2),
    ],
)
def test_label_examples(dose, administered, discarded, kits):
    billing = units.bill_dose(Decimal(dose))
    assert (billing.administered_units, billing.discarded_units, billing.kits) == (administered, discarded, kits)


def test_dose_must_be_positive():
    with pytest.raises(ValueError):
        units.bill_dose(Decimal(0))


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-1000, max_value=1000) | st.none())
def test_whole_units_only_for_positive_integers(value):
    result = units.whole_units(value)
    if value is not None and value > 0 and value == value.to_integral_value():
        assert result == int(value)
    else:
        assert result is None


def _line(number, units_, *modifiers, dose=None):
    import datetime as dt

    return ClaimLine(
        line=number,
        hcpcs="J9330",
        service_date=dt.date(2026, 3, 2),
        modifiers=modifiers,
        units=Decimal(units_),
        dose_mg=None if dose is None else Decimal(dose),
    )


@given(doses.filter(lambda d: d <= 200))
def test_date_units_of_correct_billing_fill_whole_kits(dose):
    billing = units.bill_dose(dose)
    lines = [_line(1, billing.administered_units, *billing.administered_modifiers, dose=dose)]
    if billing.discarded_units:
        lines.append(_line(2, billing.discarded_units, "JW"))
    totals = units.date_units(lines)
    assert totals.fills_whole_kits and totals.discards_under_one_kit
    assert totals.kits_opened == billing.kits == math.ceil(dose / 25)
    assert totals.administered_mg == dose


def test_date_units_ignore_invalid_units():
    totals = units.date_units([_line(1, "-3"), _line(2, "5", "JW")])
    assert (totals.administered_units, totals.discarded_units) == (0, 5)
