"""Counts of a batch that add up: claims by outcome, findings by code and by payer.

The CLI's summary and ``Results.summary`` both come from here, so a billing manager
sees the same numbers in a terminal and in a notebook. Every claim falls in exactly
one outcome, so the outcomes always sum to the number of claims.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from attrs import define, field

from j9330_rules.model.disposition import SEVERITIES, worst

if TYPE_CHECKING:
    from j9330_rules.model.result import Result

#: Each claim's outcome, by its worst finding, in the order people read them.
OUTCOMES = ("blocking", "not checked", "review", "warn", "notes only", "accept")

_BY_SEVERITY = {"reject": "blocking", "deny": "blocking", "review": "review", "warn": "warn", "info": "notes only"}


def outcome(result: Result) -> str:
    """The claim's outcome: not checked (an error), blocking (a reject or deny), review,
    warn, notes only (info findings only) or accept (no findings)."""
    if result.error is not None:
        return "not checked"
    if not result.findings:
        return "accept"
    return _BY_SEVERITY[worst(result.findings)]


@define
class Tally:
    """Running counts; :meth:`add` takes one result at a time, so a stream is never held."""

    claims: int = 0
    by_outcome: Counter = field(factory=Counter)
    #: Findings by (code, severity), and by payer; an unchecked claim counts under ERROR.
    by_code: Counter = field(factory=Counter)
    by_payer: Counter = field(factory=Counter)
    #: Claims by payer (None: the claim named none we could read).
    claims_by_payer: Counter = field(factory=Counter)

    def add(self, result: Result) -> Result:
        """Count one result and hand it back, so a generator can count as it passes results on."""
        self.claims += 1
        self.by_outcome[outcome(result)] += 1
        self.claims_by_payer[result.payer] += 1
        if result.error is not None:
            self.by_code["ERROR", "error"] += 1
            self.by_payer[result.payer] += 1
        for finding in result.findings:
            self.by_code[finding.code, finding.severity] += 1
            self.by_payer[result.payer] += 1
        return result

    def line(self) -> str:
        """One line that adds up: "12 claims: 6 blocking, 1 not checked, 1 warn, 3 notes only, 1 accept"."""
        noun = "claim" if self.claims == 1 else "claims"
        parts = [f"{self.by_outcome[name]:,} {name}" for name in OUTCOMES if self.by_outcome[name]]
        return f"{self.claims:,} {noun}" + (": " + ", ".join(parts) if parts else "")

    def codes(self) -> list[tuple[str, str, int]]:
        """(code, severity, findings), most severe first, then most frequent."""
        order = {name: rank for rank, name in enumerate(("error", *SEVERITIES))}
        return sorted(
            ((code, severity, n) for (code, severity), n in self.by_code.items()),
            key=lambda row: (order[row[1]], -row[2], row[0]),
        )

    def payers(self) -> list[tuple[str, int, int]]:
        """(payer, claims, findings), by payer name; "(none)" for claims without one."""
        names = sorted(self.claims_by_payer, key=lambda name: (name is None, name or ""))
        return [(name or "(none)", self.claims_by_payer[name], self.by_payer[name]) for name in names]


def tally(results: Iterable[Result]) -> Tally:
    counts = Tally()
    for result in results:
        counts.add(result)
    return counts
