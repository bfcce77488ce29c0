"""The claim and finding models.

Frozen attrs classes: a checked claim never changes under the rules, and a
finding is a value a claim editor can hash, compare and store. Money and
quantities are ``Decimal`` so that a unit or a cent is never lost to binary
floating point.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs
from attrs import define, field

SEVERITIES = ("reject", "deny", "review", "warn", "info")
BLOCKING_SEVERITIES = frozenset({"reject", "deny"})


def _tuple(value: Any) -> tuple:
    return tuple(value)


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


@define(frozen=True)
class ClaimLine:
    line: int
    hcpcs: str
    service_date: dt.date
    modifiers: tuple[str, ...] = field(default=(), converter=_tuple)
    units: Decimal | None = None
    charge: Decimal | None = None
    ndc: str | None = None
    ndc_unit: str | None = None
    ndc_quantity: Decimal | None = None
    revenue_code: str | None = None
    dx_pointers: tuple[int, ...] = field(default=(), converter=_tuple)
    dose_mg: Decimal | None = None
    documentation: Documentation | None = None
    extra: dict[str, Any] = field(factory=dict, eq=False, repr=False)

    @property
    def is_drug_line(self) -> bool:
        return self.hcpcs == "J9330"


@define(frozen=True)
class Claim:
    claim_id: str
    payer: str
    lines: tuple[ClaimLine, ...] = field(converter=_tuple)
    form: str = "professional"
    type_of_bill: str | None = None
    place_of_service: str | None = None
    diagnoses: tuple[str, ...] = field(default=(), converter=_tuple)
    patient: Patient = field(factory=Patient)
    provider: Provider = field(factory=Provider)
    prior_authorization: str | None = None
    extra: dict[str, Any] = field(factory=dict, eq=False, repr=False)
    #: The J9330 lines: every step of a check reads them, so they are picked out once.
    drug_lines: tuple[ClaimLine, ...] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "drug_lines", tuple(line for line in self.lines if line.is_drug_line))


@define(frozen=True)
class Finding:
    """One edit raised on a claim: what a claim editor maps onto its own edits."""

    code: str
    severity: str = field(validator=attrs.validators.in_(SEVERITIES))
    line: int | None
    message: str
    carc: str | None = None
    rarc: str | None = None
    rule_id: str | None = None
    source: str | None = None
    payer: str | None = None
    #: Set when an override changed the severity: the rule's severity, and the entry's id.
    overridden_from: str | None = None
    override: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity in BLOCKING_SEVERITIES


@define(frozen=True)
class Suppression:
    """A finding an override suppressed, kept so nothing is silently dropped."""

    finding: Finding
    entry: str
    reason: str


@define(frozen=True)
class Evidence:
    """What a rule matched: its id and the fact (derived values only, never PHI)."""

    rule_id: str
    line: int | None
    facts: dict = field(eq=False)


@define(frozen=True)
class Audit:
    """How a result was reached: enough to reproduce it later."""

    package_version: str
    #: None: rules chosen by each line's date of service; a date: by that processing date.
    as_of: dt.date | None
    #: (ruleset name, version, sha256 of the spec file) for each spec applied.
    rulesets: tuple[tuple[str, str, str], ...] = field(converter=_tuple)
    evidence: tuple[Evidence, ...] = field(default=(), converter=_tuple)


@define(frozen=True)
class PaymentLine:
    line: int
    units: int
    rate: Decimal
    allowed: Decimal


@define(frozen=True)
class Payment:
    """A reimbursement benchmark: what the payer would be expected to allow."""

    allowed: Decimal
    basis: str
    source: str
    lines: tuple[PaymentLine, ...] = field(default=(), converter=_tuple)


@define(frozen=True)
class Result:
    """The outcome for one claim: its findings, or the error that stopped it."""

    claim_id: str | None
    payer: str | None
    findings: tuple[Finding, ...] = field(default=(), converter=_tuple)
    error: str | None = None
    payment: Payment | None = None
    suppressed: tuple[Suppression, ...] = field(default=(), converter=_tuple)
    audit: Audit | None = field(default=None, eq=False)
    lines: tuple[int, ...] = field(default=(), converter=_tuple)

    @property
    def disposition(self) -> str:
        """accept, review, deny_lines, return_to_provider or not_checked (see disposition.py)."""
        from j9330_rules.disposition import claim_disposition

        return claim_disposition(self.findings, self.error)

    @property
    def line_dispositions(self) -> dict[int, str]:
        from j9330_rules.disposition import line_dispositions

        return line_dispositions(self.findings, self.lines)

    @property
    def blocking(self) -> bool:
        """True when a finding stops the claim (a reject or a deny).

        An error result is not "blocking": nothing was checked. Callers that
        gate on results look at ``error`` too (the CLI does).
        """
        return any(f.blocking for f in self.findings)

    def _repr_html_(self) -> str:
        from j9330_rules.render import result_html

        return result_html([self])
