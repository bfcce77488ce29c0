"""Firings → findings: the one place a Finding is made, for a rule or for the host itself.

The host findings (no spec rule raises them) are one table, which ``j9330-rules explain``
reads too, so what explain says and what the Editor adds cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from string import Template
from typing import TYPE_CHECKING, Any

from attrs import define

from j9330_rules.engines.durable import fields_of
from j9330_rules.model import Evidence, Finding

if TYPE_CHECKING:
    from j9330_rules.engines.durable import Firing
    from j9330_rules.plugins.manager import PluginFailure
    from j9330_rules.plugins.payer import Payer
    from j9330_rules.rules.catalogue import EditCode
    from j9330_rules.rules.policy import PayerPolicy


@define(frozen=True)
class HostFinding:
    """A finding the Editor adds itself: its rule id, and which payers' claims can get it."""

    code: str
    rule_id: str
    applies_to: Callable[[Payer], bool]


HOST_FINDINGS: Mapping[str, HostFinding] = {
    "PAYER_POLICY_NOT_PROVIDED": HostFinding(
        "PAYER_POLICY_NOT_PROVIDED", "HOST-PAYER-POLICY", lambda payer: not payer.policy_sourced
    ),
    "PLUGIN_FAILED": HostFinding("PLUGIN_FAILED", "HOST-PLUGIN", lambda payer: True),
    "NO_J9330_LINE": HostFinding("NO_J9330_LINE", "HOST-NO-J9330", lambda payer: True),
    "NOT_A_CLAIM": HostFinding("NOT_A_CLAIM", "HOST-NOT-A-CLAIM", lambda payer: True),
}
NOTHING_TO_CHECK = {
    "NO_J9330_LINE": "Nothing to check: no line of the claim bills J9330, so no J9330 edit applies.",
    "NOT_A_CLAIM": "Not checked: this is a {use} request, not a claim; J9330 edits apply to the claim that follows it.",
}


def rule_finding(firing: Firing, policy: PayerPolicy, catalogue: Mapping[str, EditCode]) -> Finding:
    """A firing as the claim editor sees it: severity as the policy sets it on the fact's date."""
    rule, fact = firing.rule, firing.fact
    severity = policy.severity(rule, _from_day_number(fact["eff"]))
    return _finding(rule, policy, catalogue, severity, fact.get("line"), Template(rule.message).safe_substitute(fact))


def _finding(
    rule: Any, policy: PayerPolicy, catalogue: Mapping[str, EditCode], severity: str, line: Any, message: str
) -> Finding:
    entry = catalogue[rule.code]
    return Finding(
        code=rule.code,
        severity=severity,
        line=line,
        message=message,
        carc=entry.carc,
        rarc=entry.rarc,
        rule_id=rule.id,
        source=rule.source,
        payer=policy.payer,
    )


#: Findings each RuleFindings remembers before it starts over.
MEMO_LIMIT = 4096


class RuleFindings:
    """:func:`rule_finding` for one payer's policy, as the Editor calls it for every firing.

    A Finding is a frozen value, and what it holds follows from the rule (ids are unique in a
    policy), its severity on the fact's date, the line and the message: claims repeat those, so
    the Finding of each is made once (bounded) and shared, as is each rule's severity on a date;
    each message template is parsed once, and only the message is filled in per firing.
    """

    def __init__(self, policy: PayerPolicy, catalogue: Mapping[str, EditCode]):
        self.policy = policy
        self.catalogue = catalogue
        self._templates: dict[str, Template | None] = {}
        self._severities: dict[tuple[str, int], str] = {}
        self._made: dict[tuple[str, str, Any, str], Finding] = {}

    def __call__(self, firing: Firing) -> Finding:
        rule, fact = firing.rule, firing.fact
        text = rule.message
        template = self._templates.get(text, False)
        if template is False:
            # Without a $ substitution leaves the text as it is; with one (even $$) it is filled in.
            template = self._templates[text] = Template(text) if "$" in text else None
        message = text if template is None else template.safe_substitute(fact)
        eff = fact["eff"]
        severity = self._severities.get((rule.id, eff))
        if severity is None:
            severity = self.policy.severity(rule, _from_day_number(eff))
            _bounded(self._severities)[rule.id, eff] = severity
        line = fact.get("line")
        key = (rule.id, severity, line, message)
        found = self._made.get(key)
        if found is None:
            found = _bounded(self._made)[key] = _finding(rule, self.policy, self.catalogue, severity, line, message)
        return found


def _bounded(memo: dict) -> dict:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    return memo


def policy_not_provided(payer: Payer, catalogue: Mapping[str, EditCode]) -> Finding:
    host, entry = HOST_FINDINGS["PAYER_POLICY_NOT_PROVIDED"], catalogue["PAYER_POLICY_NOT_PROVIDED"]
    return Finding(
        code=entry.code,
        severity=entry.severity,
        line=None,
        message=f"No sourced {payer.display_name} policy for J9330 is loaded; only the national rules were applied.",
        rule_id=host.rule_id,
        source=payer.note or None,
        payer=payer.name,
    )


def nothing_to_check(code: str, payer: str | None, catalogue: Mapping[str, EditCode], use: str = "") -> Finding:
    """The one note of an input that is no J9330 claim (no J9330 line, or a FHIR preauthorization)."""
    host, entry = HOST_FINDINGS[code], catalogue[code]
    return Finding(
        code=entry.code,
        severity=entry.severity,
        line=None,
        message=NOTHING_TO_CHECK[code].format(use=use),
        rule_id=host.rule_id,
        payer=payer,
    )


def plugin_failed(failure: PluginFailure, payer: str, catalogue: Mapping[str, EditCode]) -> Finding:
    """Names the plugin and the exception type, never the exception text (it may hold claim data)."""
    host, entry = HOST_FINDINGS["PLUGIN_FAILED"], catalogue["PLUGIN_FAILED"]
    return Finding(
        code=entry.code,
        severity=entry.severity,
        line=None,
        message=f"Plugin {failure.plugin} failed while {failure.stage} ({failure.error.split(':')[0]}); its part of the check did not run.",
        rule_id=host.rule_id,
        payer=payer,
    )


def evidence(firings: list[Firing]) -> list[Evidence]:
    """What each rule matched, in line and rule order (the engines fire in different orders)."""
    return sorted(
        (Evidence(f.rule.id, f.fact.get("line"), _matched(f.rule, f.fact)) for f in firings),
        key=lambda e: (e.line or 0, e.rule_id),
    )


#: What evidence keeps of every fact besides the fields a rule reads: what it is and its dates.
EVIDENCE_FIELDS = ("kind", "line", "dos", "eff")
_READS: dict[int, tuple[Any, tuple[str, ...]]] = {}


def _matched(rule: Any, fact: dict[str, Any]) -> dict[str, Any]:
    """The fields of the matched fact that the rule's condition and message read, with the fact's
    kind, line and dates: what reproduces the firing and its message, not the fifty-odd fields of
    the whole fact (facts never hold patient identifiers; the engine's id and session are not kept)."""
    found = _READS.get(id(rule))
    if found is None or found[0] is not rule:  # keyed on the rule object, which it holds
        read = fields_of(rule.when) | set(Template(rule.message).get_identifiers())
        found = _bounded(_READS)[id(rule)] = (
            rule,
            (*EVIDENCE_FIELDS, *sorted(read - set(EVIDENCE_FIELDS) - {"id", "sid"})),
        )
    return {name: fact[name] for name in found[1] if name in fact}


def _from_day_number(number: int) -> dt.date:
    return dt.date(number // 10000, number // 100 % 100, number % 100)
