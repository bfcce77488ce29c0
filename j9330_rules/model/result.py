"""What a claim editor gets back: findings, the payment benchmark, the audit, the result.

A finding is a value a claim editor can hash, compare and store; money is ``Decimal``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from attrs import define, field

from j9330_rules.model.disposition import BLOCKING_SEVERITIES, SEVERITIES, claim_disposition, line_dispositions


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
    """What a rule matched: its id, and of the fact (derived values only, never PHI) its kind, line
    and dates and the fields the rule's condition and message read."""

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
    rulesets: tuple[tuple[str, str, str], ...] = field(converter=tuple)
    evidence: tuple[Evidence, ...] = field(default=(), converter=tuple)
    #: Specs of other plugins that changed this payer's rules, allowed by the user (``--allow-overlay``).
    overlays: tuple[str, ...] = field(default=(), converter=tuple)


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
    lines: tuple[PaymentLine, ...] = field(default=(), converter=tuple)


@define(frozen=True)
class Result:
    """The outcome for one claim: its findings, or the error that stopped it."""

    claim_id: str | None
    payer: str | None
    findings: tuple[Finding, ...] = field(default=(), converter=tuple)
    error: str | None = None
    payment: Payment | None = None
    suppressed: tuple[Suppression, ...] = field(default=(), converter=tuple)
    audit: Audit | None = field(default=None, eq=False)
    lines: tuple[int, ...] = field(default=(), converter=tuple)

    @property
    def disposition(self) -> str:
        """accept, review, deny_lines, return_to_provider or not_checked (see disposition.py)."""
        return claim_disposition(self.findings, self.error)

    @property
    def line_dispositions(self) -> dict[int, str]:
        return line_dispositions(self.findings, self.lines)

    @property
    def blocking(self) -> bool:
        """True when a finding stops the claim (a reject or a deny).

        An error result is not "blocking": nothing was checked. Callers that
        gate on results look at ``error`` too (the CLI does).
        """
        return any(f.blocking for f in self.findings)

    def _repr_html_(self) -> str:
        from j9330_rules.writers.html import results_html

        return results_html([self])
