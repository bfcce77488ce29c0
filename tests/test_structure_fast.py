"""The fast path of structure_claim against the cattrs converters it stands in for.

The fast path (model/structure.py: ``_quick_claim``) reads a well-formed plain dict in one pass
and hands anything else to the converters. It must never accept what the converters refuse,
and what it accepts it must build exactly as they do: the same values of the same types
(``Decimal("1")`` and ``Decimal("1.0")`` are equal but print differently), the same extras.
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from collections import OrderedDict
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from j9330_rules.errors import ClaimError
from j9330_rules.model import Claim
from j9330_rules.model.structure import _QUICK, _check_consistency, _quick_claim, structure_claim
from tests.conftest import ROOT, make_claim, run_python

sys.path.insert(0, str(ROOT / "bench"))
from claims import generate


def converted(data: Any) -> Claim | None:
    """The converters' claim (the path before the fast one), or None where they refuse it."""
    try:
        claim = _QUICK.structure(data, Claim)
        _check_consistency(claim)
    except Exception:
        return None
    return claim


def shape(value: Any) -> Any:
    """Every value with its type, dicts compared as dicts (extra's key order is not promised)."""
    if attrs.has(type(value)):
        return (type(value), {a.name: shape(getattr(value, a.name)) for a in attrs.fields(type(value))})
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return (type(value), [shape(item) for item in value])
    return (type(value), repr(value))


def agree(data: Any) -> None:
    fast = _quick_claim(copy.deepcopy(data))
    if fast is None:
        return
    slow = converted(copy.deepcopy(data))
    assert slow is not None, "the fast path accepted a claim the converters refuse"
    assert shape(fast) == shape(slow)


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=40),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            *["", " ", "J9330", "j9330 ", "96413", "JW", "jz", "00", "2026-03-02", "20260302", "2026-02-30", "25"],
            *["2.5", "-1", "0", "0.001", "1e9", "1E2", " 12 ", "C64.1", "c641", "636", "0636", "131", "UN", "IV"],
            *["11", "3", "00008117901", "0008-1179-01", "12-34", "professional", "Institutional", "medicare"],
            "x" * 70,
        ]
    ),
    st.text(max_size=6),
    st.lists(
        st.one_of(st.integers(-1, 3), st.booleans(), st.sampled_from(["JW", "JZ", "00", "JG", "x", 1])), max_size=5
    ),
    st.lists(st.sampled_from(["C64.1", "I10", "bad", "Z51.11", 3]), max_size=3),
    st.dictionaries(
        st.sampled_from(["lot", "expiration", "route", "other", "birth_date", "sex", "npi"]),
        st.none() | st.sampled_from(["IV", "2026-01-01", "F", "1", True]),
        max_size=3,
    ),
    st.builds(Decimal, st.sampled_from(["1", "1.00", "2.5", "-3", "NaN", "1E+2"])),
    st.just(dt.date(2026, 3, 2)),
    st.just(dt.datetime(2026, 3, 2, 1, 2)),
)
#: Values each field takes, valid in other spellings and invalid, beside the arbitrary ones.
FIELD_VALUES = {
    "claim_id": ["C-1", " C-2 ", 17, "", True],
    "payer": ["MEDICARE", " Aetna ", "acme", 3],
    "form": ["INSTITUTIONAL", "professional ", "other"],
    "type_of_bill": ["131", "0131", 131, "13", "abcd"],
    "place_of_service": ["3", "11", 11, "111", "x1"],
    "diagnoses": [["c64.1"], ["C64.1", "I10"], [], ["C64"], ("C64.1",), "C64.1", [1]],
    "prior_authorization": ["PA-1", " ", 5],
    "line": [1, 2, 3, 0, -1, 10**9, "1", True, None],
    "hcpcs": ["j9330", " J9330", "96413", "J933", 96413],
    "service_date": ["20260302", " 2026-03-02 ", "2026-3-2", 20260302, "2026-02-29"],
    "modifiers": [["jz"], ["JW", "JZ"], [0], ["00"], ["JW"] * 5, [1, "JG"], "JW"],
    "units": ["25", 25, 25.0, "25.5", "0", -1, "1e3", Decimal("2.50"), True, "x"],
    "charge": ["10", 10, "10.5", "10.555", -1, 1.1, "1e11"],
    "ndc": ["0008-1179-01", "00008117901", 8117901, "bad", ""],
    "ndc_unit": ["un", "ML", 1],
    "ndc_quantity": ["1", 1, "0", 0.5, "-2"],
    "revenue_code": ["636", "0636", 636, "06360", "63"],
    "dx_pointers": [[1], [2], [1, 1], [0], [True], ["1"], 1, [10**10]],
    "dose_mg": ["20", 20, "0", 20.5, "2.50"],
    "documentation": [{"lot": "A", "expiration": "20270131", "route": "iv"}, {"lot": None}, {"x": 1}, [], {}],
    "birth_date": ["1956-04-02", "19560402", 1956, dt.date(1956, 4, 2)],
    "sex": ["F", 1, None],
    "member_id": ["M-1", 12345],
    "npi": ["1234567893", 1234567893],
    "is_340b": [True, False, 1, "true"],
    "hospital_type": ["DSH", "cancer", 7],
}


def value_for(key: Any) -> st.SearchStrategy:
    own = FIELD_VALUES.get(key)
    return st.one_of(st.sampled_from(own), VALUES) if own else VALUES


CLAIM_KEYS = ["claim_id", "payer", "form", "type_of_bill", "place_of_service", "diagnoses", "patient", "provider"]
CLAIM_KEYS += ["prior_authorization", "lines", "drug_lines", "extra", "batch", 7]
LINE_KEYS = ["line", "hcpcs", "service_date", "modifiers", "units", "charge", "ndc", "ndc_unit", "ndc_quantity"]
LINE_KEYS += ["revenue_code", "dx_pointers", "dose_mg", "documentation", "extra", "note", 1]


@st.composite
def mutated(draw) -> Any:
    claim = make_claim()
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from(["claim", "line", "patient", "provider", "delete", "lines", "wrap"]))
        lines = claim["lines"] if isinstance(claim.get("lines"), list) else []
        line = lines[draw(st.integers(0, len(lines) - 1))] if lines else None
        if where == "claim":
            key = draw(st.sampled_from(CLAIM_KEYS))
            claim[key] = draw(value_for(key))
        elif where == "line" and isinstance(line, dict):
            key = draw(st.sampled_from(LINE_KEYS))
            line[key] = draw(value_for(key))
        elif where in ("patient", "provider") and isinstance(claim.get(where), dict):
            key = draw(st.sampled_from(["birth_date", "sex", "member_id", "npi", "is_340b", "hospital_type", "x"]))
            claim[where][key] = draw(value_for(key))
        elif where == "delete" and isinstance(line, dict) and line:
            line.pop(draw(st.sampled_from(list(line))))
        elif where == "lines":
            claim["lines"] = draw(st.sampled_from([lines[:1], lines * 2, [], tuple(lines)]))
        elif where == "wrap" and isinstance(line, dict):
            lines[0] = OrderedDict(line)  # a Mapping, not a dict: the converters' to read
    return claim


LINE_FIELDS = {"line", "hcpcs", "service_date", "modifiers", "units", "charge", "ndc", "ndc_unit", "ndc_quantity"}
LINE_FIELDS |= {"revenue_code", "dx_pointers", "dose_mg", "documentation"}
HOLDER = {"birth_date": "patient", "sex": "patient", "member_id": "patient"}
HOLDER |= {"npi": "provider", "is_340b": "provider", "hospital_type": "provider"}


@pytest.mark.parametrize(
    "key, value", [(key, value) for key, values in FIELD_VALUES.items() for value in values], ids=repr
)
def test_each_field_in_each_spelling(key, value):
    """Every field's values, valid and invalid, one at a time on a clean claim (on every line)."""
    for every_line in (False, True):
        claim = make_claim()
        if key in LINE_FIELDS:
            for line in claim["lines"] if every_line else claim["lines"][:1]:
                line[key] = copy.deepcopy(value)
        elif key in HOLDER:
            claim[HOLDER[key]][key] = value
        else:
            claim[key] = value
        agree(claim)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_the_fast_path_builds_what_the_converters_build(claim):
    agree(claim)


@settings(max_examples=200, deadline=None)
@given(st.one_of(VALUES, st.dictionaries(st.sampled_from(CLAIM_KEYS), VALUES, max_size=6)))
def test_the_fast_path_on_arbitrary_values(value):
    agree(value)


def test_the_fast_path_takes_the_benchmark_mix_and_agrees_on_all_of_it():
    """Every valid claim of the bench mix takes the fast path (else it would not be fast)."""
    taken = 0
    for claim in generate(600, 9330):
        agree(claim)
        slow = converted(copy.deepcopy(claim))
        if slow is not None:
            assert _quick_claim(claim) is not None
            taken += 1
    assert taken > 500


def test_a_refused_claim_still_names_every_problem():
    claim = make_claim()
    claim["lines"][0]["units"] = "lots"
    claim["lines"][1]["service_date"] = "yesterday"
    try:
        structure_claim(claim)
    except ClaimError as error:
        assert "$.lines[0].units" in str(error) and "$.lines[1].service_date" in str(error)
    else:
        raise AssertionError("an invalid claim was accepted")


def test_a_deeply_nested_tuple_in_any_field_is_an_error_not_a_crash():
    """The fast path reads its memos for exact strings and ints only: hashing a 200,000-deep
    tuple recurses in C and kills the interpreter (in a subprocess, so a regression fails here)."""
    program = (
        "from j9330_rules import Editor\n"
        "from tests.conftest import make_claim\n"
        "deep = ()\n"
        "for _ in range(200_000):\n"
        "    deep = (deep,)\n"
        "claims = []\n"
        "for key in ('hcpcs', 'service_date', 'units', 'charge', 'ndc', 'ndc_quantity', 'dose_mg', 'modifiers'):\n"
        "    claim = make_claim()\n"
        "    claim['lines'][0][key] = deep\n"
        "    claims.append(claim)\n"
        "for key in ('modifiers', 'dx_pointers'):\n"
        "    claim = make_claim()\n"
        "    claim['lines'][0][key] = ['JW', deep]\n"
        "    claims.append(claim)\n"
        "claim = make_claim()\n"
        "claim['diagnoses'] = ['C64.1', deep]\n"
        "claims.append(claim)\n"
        "claim = make_claim()\n"
        "claim['patient']['birth_date'] = deep\n"
        "claims.append(claim)\n"
        "print(sum(r.error is not None for r in Editor().check_many(claims)))\n"
    )
    done = run_python(program)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.split() == ["12"]
