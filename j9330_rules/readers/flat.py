"""The flat claim-line layout: one row per claim line, grouped into claims by claim id.

CSV files, pandas DataFrames and Spark DataFrames all use this one layout, so
a claim checked from any of them is the same claim as its JSON form. Lists
(diagnoses, modifiers, dx pointers) are joined with ``|``. Claim-level
columns repeat on every line of a claim; the first line's values are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

#: Claim-level columns, in order, and the JSON path each fills.
CLAIM_COLUMNS: dict[str, tuple[str, ...]] = {
    "claim_id": ("claim_id",),
    "payer": ("payer",),
    "form": ("form",),
    "type_of_bill": ("type_of_bill",),
    "place_of_service": ("place_of_service",),
    "diagnoses": ("diagnoses",),
    "patient_birth_date": ("patient", "birth_date"),
    "patient_sex": ("patient", "sex"),
    "patient_member_id": ("patient", "member_id"),
    "provider_npi": ("provider", "npi"),
    "provider_is_340b": ("provider", "is_340b"),
    "provider_hospital_type": ("provider", "hospital_type"),
    "prior_authorization": ("prior_authorization",),
}
#: Line-level columns, in order, and the path each fills within the line.
LINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "line": ("line",),
    "hcpcs": ("hcpcs",),
    "modifiers": ("modifiers",),
    "units": ("units",),
    "service_date": ("service_date",),
    "charge": ("charge",),
    "ndc": ("ndc",),
    "ndc_unit": ("ndc_unit",),
    "ndc_quantity": ("ndc_quantity",),
    "revenue_code": ("revenue_code",),
    "dx_pointers": ("dx_pointers",),
    "dose_mg": ("dose_mg",),
    "doc_lot": ("documentation", "lot"),
    "doc_expiration": ("documentation", "expiration"),
    "doc_route": ("documentation", "route"),
}
COLUMNS = (*CLAIM_COLUMNS, *LINE_COLUMNS)
LIST_COLUMNS = frozenset({"diagnoses", "modifiers", "dx_pointers"})
SEPARATOR = "|"


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN: pandas' empty cell
        return True
    return isinstance(value, str) and not value.strip()


def _cell(column: str, value: Any) -> Any:
    if column in LIST_COLUMNS:
        if isinstance(value, (list, tuple)):
            items = list(value)
        else:
            items = [item.strip() for item in str(value).split(SEPARATOR) if item.strip()]
        if column == "dx_pointers":
            return [int(item) if isinstance(item, str) and item.isdigit() else item for item in items]
        return items
    if column == "provider_is_340b" and isinstance(value, str):
        lowered = value.strip().lower()
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(lowered, value)
    if column == "line" and isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer() and column in ("line",):
        return int(value)
    return value


def _put(target: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def row_to_line(row: Mapping[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {}
    for column, path in LINE_COLUMNS.items():
        if column in row and not _blank(row[column]):
            _put(line, path, _cell(column, row[column]))
    return line


def row_to_claim(row: Mapping[str, Any]) -> dict[str, Any]:
    """The claim-level part of a row, with unknown columns kept (as the JSON contract keeps keys)."""
    claim: dict[str, Any] = {"lines": []}
    for column, path in CLAIM_COLUMNS.items():
        if column in row and not _blank(row[column]):
            _put(claim, path, _cell(column, row[column]))
    for column, value in row.items():
        if column not in CLAIM_COLUMNS and column not in LINE_COLUMNS and not _blank(value):
            claim.setdefault(str(column), value)
    return claim


def claims_from_rows(rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """Group consecutive rows by ``claim_id`` into claims in the JSON contract.

    Rows of one claim must be adjacent (as a CSV export or a grouped
    DataFrame gives them); a claim id seen again later starts a new claim,
    which then fails as a duplicate only if the caller checks for that.
    """
    current: dict[str, Any] | None = None
    current_id: Any = object()
    for row in rows:
        claim_id = row.get("claim_id")
        if current is None or claim_id != current_id:
            if current is not None:
                yield current
            current, current_id = row_to_claim(row), claim_id
        current["lines"].append(row_to_line(row))
    if current is not None:
        yield current


def claim_to_rows(claim: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The inverse: one flat row per line of a JSON-contract claim (lists joined with ``|``)."""

    def get(source: Mapping[str, Any], path: tuple[str, ...]) -> Any:
        for key in path:
            if not isinstance(source, Mapping):
                return None
            source = source.get(key)
        return source

    def flat(column: str, value: Any) -> Any:
        if column in LIST_COLUMNS and isinstance(value, (list, tuple)):
            return SEPARATOR.join(str(item) for item in value)
        return value

    head = {column: flat(column, get(claim, path)) for column, path in CLAIM_COLUMNS.items()}
    for line in claim.get("lines", ()):
        yield {**head, **{column: flat(column, get(line, path)) for column, path in LINE_COLUMNS.items()}}
