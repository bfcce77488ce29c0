"""The condition language, typed: what a rule's ``when`` may compare, checked at merge.

A condition compares one fact field with a constant of the field's own type (facts/fields.py).
Within that language the compiled engine's plain Python comparisons and durable-rules' C core
give the same answer, so neither engine needs to imitate the other; anything outside it (a
number against a string, string order, a quote in a constant) is refused here, naming the
file and the rule. docs/spec-format.md lists the rules for spec authors.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from attrs import evolve

from j9330_rules.errors import SpecError
from j9330_rules.facts.fields import FieldType, day_number
from j9330_rules.rules.specs import Rule

#: Comparison operators; ``eq`` is the bare ``{field: constant}`` form.
EQUALITY = frozenset({"eq", "$neq"})
ORDER = frozenset({"$lt", "$lte", "$gt", "$gte"})
PRESENCE = frozenset({"$ex", "$nex"})
GROUPS = frozenset({"$and", "$or"})

#: Beyond 2**53 an int meeting a float is rounded by the C core (it compares doubles).
_EXACT = 2**53
_PLAIN_TEXT = re.compile(r'^[^"\\\x00-\x1f\x7f]*$')
_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")


def checked(rule: Rule, types: Mapping[str, FieldType], origin: str) -> Rule:
    """``rule`` with its condition checked against ``types``, date constants as day numbers.

    Raises SpecError naming ``origin`` and the rule for anything whose meaning would depend on
    the engine.
    """
    depth = _depth(rule.when)
    if depth > MAX_DEPTH:
        raise _fail(origin, rule, f"conditions nest {depth} deep; at most {MAX_DEPTH} ($and and $or inside each other)")
    when = _node(rule.when, rule, types, origin)
    cases = _cases(when)
    if cases > MAX_CASES:
        raise _fail(
            origin,
            rule,
            f"the condition expands to {cases:,} alternatives ($or inside $and multiplies); at most {MAX_CASES}: "
            "split the rule",
        )
    return rule if when == rule.when else evolve(rule, when=when)


#: Bounds on one rule's condition, within what both engines take in time and memory: durable-rules
#: expands every $or into alternatives, so $or inside $and multiplies (a 1.7 KB spec cost 16.8 s
#: and 1.5 GB a claim), and it refuses deep nesting with an error of its C core.
MAX_DEPTH = 8
MAX_CASES = 256


def _depth(node: Any) -> int:
    """How deep groups nest (a leaf is 0), without recursing past the bound."""
    depth, level = 0, [node]
    while level and depth <= MAX_DEPTH:
        groups = [v for n in level if isinstance(n, Mapping) and len(n) == 1 for k, v in n.items() if k in GROUPS]
        if not groups:
            break
        depth += 1
        level = [item for items in groups if isinstance(items, (list, tuple)) for item in items]
    return depth


def _cases(node: Any) -> int:
    """The alternatives a condition expands to: $or adds its branches', $and multiplies them."""
    ((key, value),) = node.items()
    if key == "$or":
        return sum(_cases(item) for item in value)
    if key == "$and":
        total = 1
        for item in value:
            total = min(total * _cases(item), MAX_CASES + 1)
        return total
    return 1


def _fail(origin: str, rule: Rule, why: str) -> SpecError:
    return SpecError(f"{origin}: rule {rule.id}: {why}")


def _node(node: Any, rule: Rule, types: Mapping[str, FieldType], origin: str) -> Any:
    if not isinstance(node, Mapping) or len(node) != 1:
        raise _fail(origin, rule, "a condition must be an object with exactly one key (use $and to combine)")
    ((key, value),) = node.items()
    if key in GROUPS:
        if not isinstance(value, (list, tuple)) or not value:
            raise _fail(origin, rule, f"{key} needs a non-empty list of conditions")
        return {key: [_node(item, rule, types, origin) for item in value]}
    if key in PRESENCE:
        field, _flag = _operand(value, key, rule, origin)
        _type(field, rule, types, origin)
        return dict(node)
    if key in EQUALITY or key in ORDER:
        field, constant = _operand(value, key, rule, origin)
        return {key: {field: _constant(key, field, constant, rule, types, origin)}}
    if key.startswith("$"):
        raise _fail(origin, rule, f"there is no operator {key}")
    return {key: _constant("eq", key, value, rule, types, origin)}


def _operand(value: Any, key: str, rule: Rule, origin: str) -> tuple[str, Any]:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise _fail(origin, rule, f"{key}'s operand must be an object with exactly one field")
    ((field, constant),) = value.items()
    return field, constant


def _type(field: Any, rule: Rule, types: Mapping[str, FieldType], origin: str) -> FieldType:
    if not isinstance(field, str) or not _FIELD.match(field):
        raise _fail(origin, rule, f"{field!r} is not a fact field name")
    kind = types.get(field)
    if kind is None:
        raise _fail(origin, rule, f"no {rule.fact} fact has the field {field}")
    if kind is FieldType.IDENTITY:
        raise _fail(origin, rule, f"{field} is the engine's, not a condition's: use effective dates or fact")
    return kind


def _constant(operator: str, field: str, constant: Any, rule: Rule, types: Mapping[str, FieldType], origin: str) -> Any:
    """The constant as the engines are given it, once it is shown to be of the field's type."""
    kind = _type(field, rule, types, origin)
    shown = "=" if operator == "eq" else operator

    def wrong(expected: str) -> SpecError:
        return _fail(
            origin,
            rule,
            f"{field} is a {kind.value} field, compared ({shown}) with {constant!r}: the constant must be {expected}",
        )

    if kind in (FieldType.BOOLEAN, FieldType.CODE_LIST):
        if operator in ORDER:
            raise _fail(origin, rule, f"{field} is a {kind.value} field: it has no order ({shown})")
        if not isinstance(constant, bool):
            raise wrong("true or false")
        return constant
    if kind is FieldType.NUMBER:
        if isinstance(constant, bool) or not isinstance(constant, (int, float)):
            raise wrong("a number")
        if not math.isfinite(constant) or abs(constant) >= _EXACT:
            raise wrong(f"a finite number below 2**53 in size ({constant!r} is not)")
        return constant
    if kind is FieldType.DATE:
        day = _day(constant)
        if day is None:
            raise wrong("a date (YYYY-MM-DD)")
        return day_number(day)
    # STRING: codes and labels. Their order differs between the engines (the C core compares
    # JSON text byte-wise, with the closing quote), and a code's order is rarely its meaning.
    if operator in ORDER:
        raise _fail(
            origin,
            rule,
            f"{field} is a string field: compare it for equality or list its codes in a code set ({shown})",
        )
    if not isinstance(constant, str):
        raise wrong("a string (quote it in YAML)")
    if not _PLAIN_TEXT.match(constant):
        raise wrong("text without quotes, backslashes or control characters")
    return constant


def _day(constant: Any) -> dt.date | None:
    if isinstance(constant, dt.datetime):
        return None
    if isinstance(constant, dt.date):
        return constant
    if isinstance(constant, str):
        try:
            return dt.date.fromisoformat(constant)
        except ValueError:
            return None
    return None
