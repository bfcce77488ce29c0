"""The typed vocabulary of facts: every field a line or date fact can carry, and its type.

Specs are checked against it when a payer's policy is merged (rules/conditions.py), so a
misspelled field fails at load and a condition can only compare a field with a constant of
its own type: that is what makes the two engines agree (docs/engine.md). The builder's facts
are held to it by tests/test_fact_fields.py.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping
from typing import Any


class FieldType(enum.Enum):
    """What a fact field holds. A field a fact does not carry is absent, never null."""

    BOOLEAN = "boolean"
    NUMBER = "number"  # int, or a float on the 0.001 grid (facts.builder.fact_number)
    STRING = "string"  # a code or a label, compared for equality only
    DATE = "date"  # a day as YYYYMMDD (facts.builder.day_number)
    CODE_LIST = "code list"  # in_<set>: does the claim's code fall in a spec's code list (a boolean)
    IDENTITY = "identity"  # the engine's id, session and kind: never named in a condition


B, N, S, D, ID = FieldType.BOOLEAN, FieldType.NUMBER, FieldType.STRING, FieldType.DATE, FieldType.IDENTITY

# fmt: off
SHARED_FIELDS: dict[str, FieldType] = {
    "id": ID, "sid": ID, "kind": ID,
    "line": N, "dos": D, "eff": D,
    "form": S, "pos": S, "tob": S,
    "has_prior_auth": B, "is_340b": B, "expected_340b": S,
}
LINE_FIELDS: dict[str, FieldType] = SHARED_FIELDS | {
    "revenue_code": S, "expected_340b": S, "units": N, "units_valid": B, "jw": B, "jz": B, "billed_340b": S,
    "dose_given": B, "dose_matches": B,
    "ndc_present": B, "ndc_valid": B, "ndc_temsirolimus": B, "ndc_unconfirmed": B,
    "ndc_units_covered": N, "ndc_quantity_covers": B,
    "dx_pointed": B,
    "dx_codes_checked": B, "dx_unknown_at": N, "dx_header_at": N, "dx_unconfirmed_at": N,
    "ndc_listed": B, "ndc_marketed": B,
    "doc_given": B, "doc_has_lot": B, "doc_has_expiration": B, "doc_has_route": B,
    "doc_route_iv": B, "doc_expired": B,
}
DATE_FIELDS: dict[str, FieldType] = SHARED_FIELDS | {
    "kit_mg": N, "administered_units": N, "discarded_units": N, "total_units": N,
    "kits_opened": N, "administered_mg": N, "units_valid": B,
    "fills_whole_kits": B, "discards_under_one_kit": B, "administered_whole_kits": B,
    "has_jw_line": B, "has_jz": B, "jwjz_conflict": B, "jwjz_missing": B, "jw_without_admin": B,
    "mue_loaded": B, "mue_setting": S, "mue_value": N, "mue_mai": N, "units_over_mue": B,
    "asp_loaded": B, "fee_schedule_loaded": B, "icd10_loaded": B, "patient_under_18": B,
    "days_to_other_dose": N, "dose_within_interval": B, "units_in_window": N, "units_over_limit": B,
}
# fmt: on
FIELDS = {"line": LINE_FIELDS, "date": DATE_FIELDS}
#: Which code-set fields reach which fact kind (see CodeMatcher and FactBuilder).
CODE_SET_FIELDS = {
    "line": {"diagnosis", "modifier", "procedure", "place_of_service", "type_of_bill", "claim_diagnosis"},
    "date": {"diagnosis", "procedure", "place_of_service", "type_of_bill", "claim_diagnosis"},
}
#: Fields that exist only when a payer's spec provides them (absent, rules on them cannot fire).
PAYER_FIELDS: dict[str, FieldType] = {"in_covered_diagnoses": FieldType.CODE_LIST}


def day_number(day: dt.date) -> int:
    """A date as YYYYMMDD, the form date fields and effective dates are compared in."""
    return day.year * 10000 + day.month * 100 + day.day


def type_of_value(value: Any) -> FieldType | None:
    """The type a policy parameter's value gives its fact field; None for what facts never carry."""
    if isinstance(value, bool):
        return FieldType.BOOLEAN
    if isinstance(value, (int, float)):
        return FieldType.NUMBER if math.isfinite(value) else None
    if isinstance(value, str):
        return FieldType.STRING
    if isinstance(value, dt.date):
        return FieldType.DATE
    return None  # lists (Python-only parameters), mappings, null


def vocabulary(
    kind: str, parameters: Mapping[str, FieldType], code_sets: Iterable[tuple[str, str]]
) -> dict[str, FieldType]:
    """Every field a fact of ``kind`` can carry: built-in, the payer's parameters, its code lists
    (``code_sets`` as (name, claim field) pairs)."""
    known = FIELDS[kind] | PAYER_FIELDS | dict(parameters)
    for name, field in code_sets:
        if field in CODE_SET_FIELDS[kind]:
            known[f"in_{name}"] = FieldType.CODE_LIST
    return known


_PYTHON_TYPES = {
    FieldType.BOOLEAN: (bool,),
    FieldType.CODE_LIST: (bool,),
    FieldType.NUMBER: (int, float),
    FieldType.DATE: (int,),
    FieldType.STRING: (str,),
    FieldType.IDENTITY: (str,),
}


def misfits(fact: Mapping[str, Any], types: Mapping[str, FieldType]) -> list[str]:
    """The fields of a built fact that break the vocabulary (unknown, or of the wrong type)."""
    wrong = []
    for name, value in fact.items():
        kind = types.get(name)
        if kind is None:
            wrong.append(f"{name}: not in the vocabulary")
            continue
        allowed = _PYTHON_TYPES[kind]
        is_bool = isinstance(value, bool)
        if not isinstance(value, allowed) or (is_bool and bool not in allowed):
            wrong.append(f"{name}: {type(value).__name__} where a {kind.value} belongs")
        elif isinstance(value, float) and not math.isfinite(value):
            wrong.append(f"{name}: {value} is not a finite number")
    return wrong
