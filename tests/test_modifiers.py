"""Modifier logic: JW/JZ state per date and the expected 340B modifier."""

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from j9330_rules.facts import modifiers
from j9330_rules.model import ClaimLine, Provider

CODES = ["JW", "JZ", "JG", "TB", "GA", "59"]
TB_TYPES = ("critical_access", "maryland", "non_excepted_off_campus", "rural_sch", "childrens", "cancer")

modifier_lists = st.lists(st.sampled_from(CODES), max_size=4, unique=True)


def line(number, mods):
    return ClaimLine(line=number, hcpcs="J9330", service_date=dt.date(2026, 3, 2), modifiers=mods, units=Decimal(5))


@given(st.lists(modifier_lists, min_size=1, max_size=4))
def test_jw_and_jz_on_one_date_is_always_a_conflict(lists):
    state = modifiers.waste_modifiers([line(i, mods) for i, mods in enumerate(lists, 1)])
    has_jw = any("JW" in mods for mods in lists)
    has_jz = any("JZ" in mods for mods in lists)
    assert state.conflict == (has_jw and has_jz)


@given(st.lists(modifier_lists, min_size=1, max_size=4))
def test_missing_only_without_jw_line_and_with_a_bare_administered_line(lists):
    state = modifiers.waste_modifiers([line(i, mods) for i, mods in enumerate(lists, 1)])
    bare = any("JW" not in mods and "JZ" not in mods for mods in lists)
    assert state.missing == (bare and not any("JW" in mods for mods in lists))
    assert state.jw_without_administered == all("JW" in mods for mods in lists)


@given(st.booleans(), st.sampled_from([*TB_TYPES, "dsh", None]))
def test_expected_340b(is_340b, hospital_type):
    expected = modifiers.expected_340b(Provider(is_340b=is_340b, hospital_type=hospital_type), TB_TYPES)
    if not is_340b:
        assert expected is None
    else:
        assert expected == ("TB" if hospital_type in TB_TYPES else "JG")


def test_billed_340b():
    assert modifiers.billed_340b(line(1, ("JG",))) == "JG"
    assert modifiers.billed_340b(line(1, ("JW", "TB"))) == "TB"
    assert modifiers.billed_340b(line(1, ("JG", "TB"))) == "both"
    assert modifiers.billed_340b(line(1, ())) is None
