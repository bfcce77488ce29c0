"""One payer's policy: the national specs merged with the payer's own.

The host evaluates a claim against exactly one ``PayerPolicy``. Merging is
where "the payer's parameters override the national defaults" is decided, in
one place: a payer-specific spec wins over a national one, and two specific
specs may not disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from string import Template
from types import MappingProxyType
from typing import Any

from attrs import define, field

from j9330_rules.errors import SpecError
from j9330_rules.facts.fields import DATE_FIELDS, FIELDS, LINE_FIELDS, FieldType, type_of_value, vocabulary
from j9330_rules.rules.conditions import checked
from j9330_rules.rules.specs import CodeSet, Period, Rule, SeverityOverride, Spec


@define(frozen=True)
class PayerPolicy:
    payer: str
    specs: tuple[Spec, ...]
    rules: tuple[Rule, ...]
    parameters: Mapping[str, tuple[Period, ...]]
    code_sets: Mapping[str, CodeSet]
    overrides: tuple[SeverityOverride, ...]
    _by_day: dict = field(factory=dict, eq=False, repr=False)

    def parameters_on(self, day: dt.date) -> Mapping[str, Any]:
        """Every parameter's value in force on ``day``, read-only (memoised: claims share dates,
        so a hook that could edit it would change the policy for every later claim)."""
        values = self._by_day.get(day)
        if values is None:
            found = {}
            for name in self.parameters:
                period = self.period_on(name, day)
                if period is not None:
                    found[name] = period.value
            values = MappingProxyType(found)
            if len(self._by_day) < 4096:
                self._by_day[day] = values
        return values

    def period_on(self, name: str, day: dt.date) -> Period | None:
        """The period of parameter ``name`` in force on ``day`` (the payer's own first), or None."""
        return next((p for p in self.parameters.get(name, ()) if p.effective.contains(day)), None)

    def severity(self, rule: Rule, day: dt.date) -> str:
        """The rule's severity, unless the payer sets another for the code on ``day``."""
        for override in self.overrides:
            if override.code == rule.code and override.effective.contains(day):
                return override.severity
        return rule.severity


def merge(payer: str, specs: Iterable[Spec]) -> PayerPolicy:
    specs = list(specs)
    applying = [spec for spec in specs if spec.applies_to_payer(payer)]
    # Specific specs first: their parameters, code sets and overrides win.
    ordered = sorted(applying, key=lambda spec: spec.general)
    parameters: dict[str, list[Period]] = {}
    code_sets: dict[str, CodeSet] = {}
    owner: dict[tuple[str, str], Spec] = {}
    for spec in ordered:
        general = spec.general
        for name, periods in spec.parameters.items():
            _claim(owner, ("parameter", name), spec, general)
            parameters.setdefault(name, []).extend(periods)
        for name, code_set in spec.code_sets.items():
            if _claim(owner, ("code set", name), spec, general):
                code_sets[name] = code_set
    rules: dict[str, Rule] = {}
    for spec in reversed(ordered):  # national rules first: a stable, readable order
        for rule in spec.rules:
            if rule.id in rules:
                raise SpecError(
                    f"{spec.origin}: rule {rule.id}: the id is also used by ruleset {rules[rule.id].ruleset}"
                )
            rules[rule.id] = rule
    # A rule may name a parameter only some payers set (a unit limit, say): absent, the rule cannot fire.
    # Likewise a code set only some payers define (covered_diagnoses).
    known_sets = {name: code_set for spec in specs for name, code_set in spec.code_sets.items()}
    rules = _checked_rules(
        rules.values(), _parameter_types(specs), known_sets, {rule.id: spec for spec in ordered for rule in spec.rules}
    )
    return PayerPolicy(
        payer=payer,
        specs=tuple(reversed(ordered)),
        rules=tuple(rules.values()),
        parameters={name: tuple(periods) for name, periods in parameters.items()},
        code_sets=code_sets,
        overrides=tuple(o for spec in ordered for o in spec.severity_overrides),
    )


def _claim(owner: dict, key: tuple[str, str], spec: Spec, general: bool) -> bool:
    """Record who defines ``key``; True if ``spec`` is the first (winning) definer."""
    previous = owner.get(key)
    if previous is None:
        owner[key] = spec
        return True
    previous_general = previous.general
    if previous_general == general and previous.name != spec.name:
        raise SpecError(f"{spec.origin}: {key[0]} {key[1]} is also defined by ruleset {previous.name}")
    return False


def _parameter_types(specs: Iterable[Spec]) -> dict[str, FieldType]:
    """Each parameter's field type, from its values; one name keeps one type in every spec."""
    types: dict[str, FieldType] = {}
    for spec in specs:
        for name, periods in spec.parameters.items():
            for period in periods:
                kind = type_of_value(period.value)
                if kind is None:
                    continue  # a list or null: read in Python only, never sent as a fact field
                if types.setdefault(name, kind) is not kind:
                    raise SpecError(
                        f"{spec.origin}: parameter {name}: a {kind.value} here, a {types[name].value} elsewhere"
                    )
    return types


def _checked_rules(
    rules: Iterable[Rule],
    parameters: Mapping[str, FieldType],
    code_sets: Mapping[str, CodeSet],
    owners: Mapping[str, Spec],
) -> dict[str, Rule]:
    """Every rule with its condition typed (rules/conditions.py) and its message's fields known."""
    clash = sorted(set(parameters) & (LINE_FIELDS.keys() | DATE_FIELDS.keys()))
    if clash:
        raise SpecError(f"parameter {clash[0]}: the name is a built-in fact field; choose another")
    names = {name for spec in owners.values() for name in spec.parameters}  # null-valued ones too
    sets = [(name, code_set.field) for name, code_set in code_sets.items()]
    types = {kind: vocabulary(kind, parameters, sets) for kind in FIELDS}
    checked_rules = {}
    for rule in rules:
        origin = owners[rule.id].origin
        known = types[rule.fact]
        used = {
            match.group("named") or match.group("braced")
            for match in Template.pattern.finditer(rule.message)
            if match.group("named") or match.group("braced")
        }
        unknown = sorted(used - known.keys() - names)
        if unknown:
            raise SpecError(
                f"{origin}: rule {rule.id}: the message names {', '.join(unknown)}, which no {rule.fact} fact has"
            )
        checked_rules[rule.id] = checked(rule, known, origin)
    return checked_rules
