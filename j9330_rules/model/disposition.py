"""Dispositions: what a claim editor does with a claim and each line, from the severities.

This is the one place severities become actions:

| worst finding | claim | line |
|---|---|---|
| reject | return_to_provider (unprocessable) | return_to_provider |
| deny | deny_lines | deny |
| review | review (suspend for manual review) | review |
| warn, info, none | accept | accept |

A result with an error was not checked: its claim disposition is ``not_checked``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from j9330_rules.model.result import Finding

#: Most severe first; a finding's severity is one of these.
SEVERITIES = ("reject", "deny", "review", "warn", "info")
BLOCKING_SEVERITIES = frozenset({"reject", "deny"})

CLAIM = {"reject": "return_to_provider", "deny": "deny_lines", "review": "review", "warn": "accept", "info": "accept"}
LINE = {"reject": "return_to_provider", "deny": "deny", "review": "review", "warn": "accept", "info": "accept"}
ACCEPT = "accept"
NOT_CHECKED = "not_checked"


def worst(findings: Iterable[Finding]) -> str | None:
    ranks = [SEVERITIES.index(f.severity) for f in findings]
    return SEVERITIES[min(ranks)] if ranks else None


def claim_disposition(findings: Iterable[Finding], error: str | None = None) -> str:
    if error is not None:
        return NOT_CHECKED
    severity = worst(findings)
    return CLAIM[severity] if severity else ACCEPT


def line_dispositions(findings: Iterable[Finding], lines: Iterable[int]) -> dict[int, str]:
    """Every line's disposition; a claim-level reject returns every line with the claim."""
    findings = list(findings)
    claim_level = worst(f for f in findings if f.line is None)
    result = {}
    for line in lines:
        severity = worst([f for f in findings if f.line == line] + [f for f in findings if f.line is None])
        result[line] = LINE[severity] if severity else ACCEPT
    if claim_level == "reject":
        result = dict.fromkeys(result, LINE["reject"])
    return result
