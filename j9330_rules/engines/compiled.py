"""The compiled engine: each rule's condition as a plain-Python predicate, no C core.

The condition language is typed (rules/conditions.py): a field meets only a constant of its own
type, so Python's ordinary comparisons are the semantics, and durable-rules gives the same
answers without being imitated. A field the fact does not carry fails every comparison,
``$neq`` included; ``$ex`` and ``$nex`` test presence. One firing per rule and fact.

Rules are indexed on their fact kind and grouped by effective dates; what fires is remembered
per (date ranges that hold, values of the fields the kind's rules read), since claims repeat
a few combinations of flags and codes (MEMO_LIMIT bounds it). docs/engine.md has the figures.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any

from j9330_rules.engines.durable import Firing, condition, fields_of
from j9330_rules.facts.builder import Fact
from j9330_rules.rules.specs import Rule

__all__ = ["MEMO_LIMIT", "CompiledPredicates"]

Predicate = Callable[[Fact], bool]

_ABSENT = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "$neq": operator.ne,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
}


def _leaf(op: str, field: str, constant: Any) -> Predicate:
    compare = _COMPARE[op]
    absent = _ABSENT

    if op == "eq":
        if constant is True or constant is False:
            target = constant

            def is_flag(fact: Fact) -> bool:
                return fact.get(field, absent) is target

            is_flag.flag = (field, target)  # type: ignore[attr-defined]  # for _all_flags
            return is_flag

        def equals(fact: Fact) -> bool:
            return fact.get(field, absent) == constant

        return equals  # absent never equals a constant

    def compared(fact: Fact) -> bool:
        value = fact.get(field, absent)
        return value is not absent and compare(value, constant)

    return compared


def _compile(node: Mapping[str, Any]) -> Predicate:
    """A checked condition (rules/conditions.py) as one predicate."""
    ((key, value),) = node.items()
    if key in ("$and", "$or"):
        predicates = tuple(_compile(item) for item in value)
        return _all(predicates) if key == "$and" else _any(predicates)
    if key in ("$ex", "$nex"):
        ((field, _flag),) = value.items()
        present = key == "$ex"
        return lambda fact: (field in fact) is present
    if key in _COMPARE:
        ((field, constant),) = value.items()
        return _leaf(key, field, constant)
    return _leaf("eq", key, value)


def _all(predicates: tuple[Predicate, ...]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if all(hasattr(predicate, "flag") for predicate in predicates):
        flags = tuple(predicate.flag for predicate in predicates)  # type: ignore[attr-defined]

        def all_flags(fact: Fact) -> bool:  # the commonest rule shape: {a: true}, {b: false}, ...
            get = fact.get
            return all(get(field, _ABSENT) is target for field, target in flags)

        return all_flags
    return lambda fact: all(predicate(fact) for predicate in predicates)


def _any(predicates: tuple[Predicate, ...]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda fact: any(predicate(fact) for predicate in predicates)


def _always(fact: Fact) -> bool:
    return True


#: Distinct field values remembered per fact kind before the memo starts over.
MEMO_LIMIT = 4096
_Entry = tuple[int, Rule, Predicate]  # (index of the rule's date range, rule, condition)


class _Kind:
    """The rules of one fact kind, and a memo of which fire on a fact.

    A condition is a pure function of the fields it names, and the date ranges of ``eff``: the
    rules that fire are remembered per (ranges that hold, values of the fields read).
    """

    __slots__ = ("bounds", "entries", "fields", "masks", "memo")

    def __init__(self, bounds: tuple[Predicate, ...], entries: tuple[_Entry, ...], fields: tuple[str, ...]):
        self.bounds = bounds
        self.entries = entries
        self.fields = fields
        self.memo: dict[Any, tuple[Rule, ...]] = {}
        self.masks: dict[Any, tuple[bool, ...]] = {}

    def fired(self, fact: Fact) -> tuple[Rule, ...]:
        eff = fact.get("eff")
        mask = self.masks.get(eff)
        if mask is None:
            mask = tuple(bound(fact) for bound in self.bounds)
            if len(self.masks) >= MEMO_LIMIT:
                self.masks.clear()
            self.masks[eff] = mask
        key = (mask, *map(fact.get, self.fields, repeat(_ABSENT)))
        found = self.memo.get(key)
        if found is None:
            found = tuple(rule for group, rule, predicate in self.entries if mask[group] and predicate(fact))
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            self.memo[key] = found
        return found


class CompiledPredicates:
    """One payer's rules as compiled Python predicates; the interface of ``DurableRuleset``."""

    def __init__(self, rules: Sequence[Rule], label: str):
        self.rules = tuple(rules)
        self.label = label
        # condition() is {"$and": [{"kind": K}, <bounds on eff>..., when]}: rules are indexed on K
        # and grouped by their bounds, so a fact tests each distinct date range once.
        kinds: dict[str, tuple[dict[str, int], list[Predicate], list[_Entry], set[str]]] = {}
        for rule in self.rules:
            kind, *bounds, when = condition(rule)["$and"]
            groups, predicates, entries, fields = kinds.setdefault(kind["kind"], ({}, [], [], set()))
            key = repr(bounds)
            if key not in groups:
                groups[key] = len(predicates)
                predicates.append(_compile({"$and": bounds}) if bounds else _always)
            entries.append((groups[key], rule, _compile(when)))
            fields.update(fields_of(when))
        self._by_kind = {
            kind: _Kind(tuple(predicates), tuple(entries), tuple(sorted(fields)))
            for kind, (_groups, predicates, entries, fields) in kinds.items()
        }

    def evaluate(self, facts: Sequence[Fact]) -> list[Firing]:
        """Every firing for one claim's facts, in fact order then rule order."""
        firings: list[Firing] = []
        by_kind = self._by_kind
        for fact in facts:
            rules = by_kind.get(fact["kind"])
            if rules is not None:
                firings.extend(Firing(rule, fact) for rule in rules.fired(fact))
        return firings
