"""The claim as the rules read it.

Frozen attrs classes: a checked claim never changes under the rules. Quantities are ``Decimal``
so that a unit is never lost to binary floating point.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from attrs import define, field


@define(frozen=True)
class Patient:
    """``member_id`` keys the claim history; it is never logged or shown."""

    birth_date: dt.date | None = None
    sex: str | None = None
    member_id: str | None = field(default=None, repr=False)


@define(frozen=True)
class Provider:
    npi: str | None = None
    is_340b: bool = False
    hospital_type: str | None = None


@define(frozen=True)
class Documentation:
    """What the medical record says about the administered drug."""

    lot: str | None = None
    expiration: dt.date | None = None
    route: str | None = None


#: The one code this product checks.
HCPCS = "J9330"
#: FHIR ``Claim.use`` values that are requests, not claims (R4: claim | preauthorization | predetermination).
REQUEST_USES = frozenset({"preauthorization", "predetermination"})


def bills_no_drug(data: Any) -> bool:
    """A raw claim each of whose lines names a procedure code, none of them J9330: nothing to check."""
    lines = data.get("lines") if isinstance(data, dict) else None
    if not isinstance(lines, list) or not lines:
        return False
    for line in lines:  # the first J9330 line (or line without a code) decides: most claims bill it first
        code = line.get("hcpcs") if isinstance(line, dict) else None
        if not (isinstance(code, str) and code.strip() and code.strip().upper() != HCPCS):
            return False
    return True


@define(frozen=True)
class ClaimLine:
    line: int
    hcpcs: str
    service_date: dt.date
    modifiers: tuple[str, ...] = field(default=(), converter=tuple)
    units: Decimal | None = None
    charge: Decimal | None = None
    ndc: str | None = None
    ndc_unit: str | None = None
    ndc_quantity: Decimal | None = None
    revenue_code: str | None = None
    dx_pointers: tuple[int, ...] = field(default=(), converter=tuple)
    dose_mg: Decimal | None = None
    documentation: Documentation | None = None
    extra: dict[str, Any] = field(factory=dict, eq=False, repr=False)

    @property
    def is_drug_line(self) -> bool:
        return self.hcpcs == HCPCS


@define(frozen=True)
class Claim:
    claim_id: str
    payer: str
    lines: tuple[ClaimLine, ...] = field(converter=tuple)
    form: str = "professional"
    type_of_bill: str | None = None
    place_of_service: str | None = None
    diagnoses: tuple[str, ...] = field(default=(), converter=tuple)
    patient: Patient = field(factory=Patient)
    provider: Provider = field(factory=Provider)
    prior_authorization: str | None = None
    extra: dict[str, Any] = field(factory=dict, eq=False, repr=False)
    #: The J9330 lines: every step of a check reads them, so they are picked out once.
    drug_lines: tuple[ClaimLine, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "drug_lines", tuple(line for line in self.lines if line.is_drug_line))
