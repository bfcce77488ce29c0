"""The compiled engine: each rule's durable-rules pattern as a plain-Python predicate.

:class:`CompiledPredicates` has the interface of :class:`~j9330_rules.engines.durable.DurableRuleset`
(``evaluate(facts) -> list[Firing]``) and returns the same firings, without the C core. A
rule's full pattern, :func:`j9330_rules.engines.durable.condition` (fact kind, effective dates and
``when``), is turned once into nested closures; nothing in a spec is ever ``eval``'d.

The semantics are durable-rules 2.0.28's, measured on the engine and read in its C source
(``events.c``: ``handleAlpha``, ``isAlphaMatch``, ``reduceProperties``, ``reduceString``), and
held equal by tests/test_compiled_engine.py:

* A field the fact does not have matches nothing (``$neq`` included), except ``$nex``.
  ``$ex`` matches any present field, ``null`` included.
* A ``null`` field matches only ``$ex``: the core compares nothing with a null on the left.
* Booleans are the numbers 0 and 1 to the core: ``{flag: 1}`` matches ``flag: true``, and
  ``true > false``. Numbers compare as numbers; an int meeting a float becomes a C double.
* Strings compare byte-wise on their JSON text (UTF-8, escapes kept) with ``strncmp`` over the
  longer length, where the fact's text is followed by its closing quote (``"``, 0x22) and the
  constant's by a NUL. So ``"ab" > "ab "`` in the core (0x22 > 0x20), unlike Python.
* A number or boolean meeting a string is printed first (``%lld``, ``%f``, ``"true "``,
  ``"false "``) and compared as a string over the longer of the two lengths, where a number's
  length is that of its JSON text: the fact ``25.5`` equals the constant ``"25.5"`` (only four
  bytes of ``25.500000`` are compared) and the fact ``1`` equals ``"1"``.
* A string fact meeting a numeric constant is undefined in the core: it compares over a length
  read from uninitialised memory. This build compares the whole text (fact text and its quote
  against the printed number), and so does this module; specs should never do it.
* An ``$or`` fires once per alternative that holds (the core pushes the rule's node once per
  path through the alpha network): ``{$or: [{a: true}, {b: true}]}`` fires twice on a fact with
  both. Nested, the counts add under ``$or`` and multiply under ``$and``. This module returns the
  same number of firings.
* Facts are read as engines/durable.py sends them, projected on the fields the rules of their kind read
  (:class:`engine.Projection`): a float with an exponent goes in plain form, still a
  float (:func:`engine.float_text`), so the core reads the same numbers whichever encoder sent
  the claim. ``NaN`` is ``null`` to the core. An infinite float (``Infinity``) cannot be parsed:
  the core silently drops its fact and every fact after it. Firings carry the claim's own fact
  objects, as DurableRuleset's do.
* As DurableRuleset sees it: a fact whose ``id`` repeats an earlier one's is ignored (already
  observed), and the claim fails (:class:`EngineFailure`) when no remaining fact is the
  ``claim`` fact its sentinel rule fires on, or when a fact names another session (``sid``).

How it runs: rules are indexed on the fact kind and grouped by effective dates, so a fact tests
each date range once (remembered per ``eff``); which rules fire (and how often) is remembered
per (date ranges that hold, tuple of the (value, type) of the fields the kind's conditions
read), since a condition depends on nothing else and claims repeat the same few combinations of
flags and codes: one dictionary lookup per fact (MEMO_LIMIT bounds the memory). bench/run.py measures it against durable-rules and a hand-written baseline.

Where the compiled engine differs from the C core, on purpose: a string constant holding ``"`` is
refused when the rules are compiled (the core would compare it against whatever JSON follows the
fact's field); and the core's limit of 64 alpha nodes pending at once (error 303, which
``DurableRuleset`` turns into ``EngineFailure``) does not exist here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from itertools import repeat
from typing import Any

from j9330_rules.engines.durable import (
    DurableRuleset,
    Firing,
    Projection,
    condition,
    fields_of,
    float_text,
    require_engine,
)
from j9330_rules.errors import EngineFailure, SpecError
from j9330_rules.facts.builder import SESSION, Fact, plain_number
from j9330_rules.rules.specs import Rule

__all__ = ["ENGINES", "CompiledPredicates", "resolve_engine"]


Predicate = Callable[[Fact], Any]  # truthy/falsy, or a firing count where an $or can count twice

_ABSENT = object()
_FIELD = re.compile(r"^[a-z][a-z0-9_]*$")
_COMPARISONS = {"$lt", "$lte", "$gt", "$gte", "$neq"}
_PRESENCE = {"$ex", "$nex"}

# The value types the core tells apart, by Python type of a fact's value.
_BOOL, _INT, _DOUBLE, _STRING, _NIL, _OTHER = range(6)


def _type_of(value: Any) -> int:
    kind = type(value)
    if kind is bool:
        return _BOOL
    if kind is int:
        return _INT
    if kind is float:
        return _NIL if value != value else _DOUBLE  # NaN is sent as NaN, which the core reads as null
    if kind is str:
        return _STRING
    if value is None:
        return _NIL
    return _OTHER  # arrays and objects: the core compares neither


def _raw(text: str) -> bytes:
    """A string as the core sees it: its JSON text between the quotes, in UTF-8."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8")


def _strncmp(left: bytes, right: bytes, length: int) -> int:
    """C ``strncmp`` over ``length`` bytes of two NUL-padded byte strings: -1, 0 or 1."""
    a = left[:length].ljust(length, b"\0")
    b = right[:length].ljust(length, b"\0")
    return (a > b) - (a < b)


def _number_text(value: int | float) -> str:
    """The JSON text of a fact's number as engines/durable.py sends it (its length matters to the core)."""
    return str(value) if type(value) is int else float_text(value)


class _Constant:
    """A condition's constant, with the forms the core compares it in."""

    def __init__(self, value: Any, rule: Rule):
        if isinstance(value, (list, tuple, Mapping)):
            raise SpecError(f"rule {rule.id}: a condition constant must be a string, number or boolean")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"rule {rule.id}: a condition constant must be finite")
        if isinstance(value, str) and '"' in value:
            raise SpecError(
                f"rule {rule.id}: the compiled engine refuses a string constant holding '\"': "
                "durable-rules would compare it with the JSON text that follows the fact's field"
            )
        # The definition goes to the core through engine.encode, so constants are what it prints.
        if isinstance(value, Decimal):
            value = json.loads(plain_number(value))
        self.value = value
        self.type = _type_of(value)
        self.number = int(value) if self.type in (_BOOL, _INT) else value if self.type == _DOUBLE else None
        if self.type == _STRING:
            self.text = _raw(value)
        elif self.type == _BOOL:
            self.text = b"true " if value else b"false "
        elif self.type == _INT:
            self.text = str(value).encode()
        elif self.type == _DOUBLE:
            self.text = (f"{value:f}").encode()
        else:
            self.text = b""


def _sign(value: Any, kind: int, constant: _Constant) -> int | None:
    """The core's comparison of a fact value with a constant: -1, 0, 1, or None (no match at all)."""
    ctype = constant.type
    if kind in (_BOOL, _INT, _DOUBLE):
        if ctype in (_BOOL, _INT, _DOUBLE):
            left = int(value) if kind != _DOUBLE else value
            right = constant.number
            if kind == _DOUBLE or ctype == _DOUBLE:  # reduceDouble: an int becomes a C double
                left, right = float(left), float(right)
            return (left > right) - (left < right)
        if ctype == _STRING:
            if kind == _BOOL:  # reduceString("true ", 4, ...) / ("false ", 5, ...)
                text, length = (b"true ", 4) if value else (b"false ", 5)
            else:
                number = _number_text(value)
                text = (str(value) if kind == _INT else f"{value:f}").encode()
                length = len(number)
            return _strncmp(text, constant.text, max(length, len(constant.text)))
        return None  # a constant null (not in the schema): handled by the caller
    if kind == _STRING:
        raw = _raw(value)
        if ctype in (_STRING, _BOOL):
            # A boolean constant is "true " (length 4) or "false " (length 5) to reduceString.
            right = constant.text
            length = max(len(raw), len(right) - 1 if ctype == _BOOL else len(right))
            return _strncmp(raw + b'"', right, length)
        if ctype in (_INT, _DOUBLE):
            # Undefined in the core (an uninitialised length); this build compares the whole text.
            text = constant.text
            return _strncmp(raw + b'"', text, max(len(raw) + 1, len(text) + 1))
        return None
    return None  # null, arrays and objects on the left compare with nothing


_OPS: dict[str, Callable[[int], bool]] = {
    "eq": lambda s: s == 0,
    "$neq": lambda s: s != 0,
    "$lt": lambda s: s < 0,
    "$lte": lambda s: s <= 0,
    "$gt": lambda s: s > 0,
    "$gte": lambda s: s >= 0,
}


def _leaf(operator: str, field: str, constant: _Constant) -> Predicate:
    """One field compared with one constant, with fast paths for what specs hold."""
    test = _OPS[operator]
    ctype = constant.type
    absent = _ABSENT

    if ctype == _NIL:  # OP_X_NIL / OP_NIL_NIL: durable-rules' own rules for a null constant

        def null_constant(fact: Fact) -> bool:
            value = fact.get(field, absent)
            if value is absent:
                return False
            kind = _type_of(value)
            if kind == _NIL:
                return operator == "eq"
            return operator == "$neq" and kind != _OTHER

        return null_constant

    def slow(value: Any) -> bool:
        if value is absent:
            return False
        sign = _sign(value, _type_of(value), constant)
        return sign is not None and test(sign)

    if operator == "eq" and ctype == _BOOL:
        target = constant.value

        def eq_bool(fact: Fact) -> bool:
            value = fact.get(field, absent)
            if value is target:
                return True
            if value is True or value is False:
                return False
            return slow(value)

        eq_bool.flag = (field, target)  # type: ignore[attr-defined]  # for _all's flag fast path
        return eq_bool

    if operator in ("eq", "$neq") and ctype == _STRING:
        target = constant.value
        want = operator == "eq"

        def eq_string(fact: Fact) -> bool:
            value = fact.get(field, absent)
            if type(value) is str:  # no '"' in the constant: byte equality is string equality
                return (value == target) is want
            return slow(value)

        return eq_string

    if ctype in (_INT, _DOUBLE) or (ctype == _BOOL and operator != "eq"):
        number = constant.number
        as_float = float(number)
        is_double = ctype == _DOUBLE
        compare: Callable[[Any, Any], bool] = {
            "eq": lambda a, b: a == b,
            "$neq": lambda a, b: a != b,
            "$lt": lambda a, b: a < b,
            "$lte": lambda a, b: a <= b,
            "$gt": lambda a, b: a > b,
            "$gte": lambda a, b: a >= b,
        }[operator]

        def numeric(fact: Fact) -> bool:
            value = fact.get(field, absent)
            kind = type(value)
            if kind is int:
                return compare(float(value), as_float) if is_double else compare(value, number)
            if kind is float and value == value:
                return compare(value, as_float)
            return slow(value)

        # The common threshold, {$gt: {field: int}} and friends, without the indirection.
        if operator == "$gt" and not is_double:

            def gt_int(fact: Fact) -> bool:
                value = fact.get(field, absent)
                if type(value) is int:
                    return value > number
                return numeric(fact)

            return gt_int
        if operator == "$gte" and not is_double:

            def gte_int(fact: Fact) -> bool:
                value = fact.get(field, absent)
                if type(value) is int:
                    return value >= number
                return numeric(fact)

            return gte_int
        if operator == "$lte" and not is_double:

            def lte_int(fact: Fact) -> bool:
                value = fact.get(field, absent)
                if type(value) is int:
                    return value <= number
                return numeric(fact)

            return lte_int
        return numeric

    def general(fact: Fact) -> bool:
        return slow(fact.get(field, absent))

    return general


def _one_key(node: Any, rule: Rule, what: str) -> tuple[str, Any]:
    if not isinstance(node, Mapping) or len(node) != 1:
        raise SpecError(f"rule {rule.id}: {what} must be an object with exactly one key")
    ((key, value),) = node.items()
    return key, value


def _field(name: Any, rule: Rule) -> str:
    if not isinstance(name, str) or not _FIELD.match(name):
        raise SpecError(f"rule {rule.id}: {name!r} is not a fact field name")
    return name


def _compile(node: Any, rule: Rule) -> tuple[Predicate, bool]:
    """A condition as (predicate, counts): ``counts`` when an $or inside can fire more than once."""
    key, value = _one_key(node, rule, "a condition")
    if key in ("$and", "$or"):
        if not isinstance(value, (list, tuple)) or not value:
            raise SpecError(f"rule {rule.id}: {key} needs a non-empty list of conditions")
        parts = [_compile(item, rule) for item in value]
        predicates = tuple(predicate for predicate, _ in parts)
        if key == "$or":
            return _any_count(predicates), True
        if any(counts for _, counts in parts):
            return _all_count(predicates), True
        return _all(predicates), False
    if key in _PRESENCE:
        field, _flag = _one_key(value, rule, f"{key}'s operand")
        field = _field(field, rule)
        if key == "$ex":
            return (lambda fact: field in fact), False
        return (lambda fact: field not in fact), False
    if key in _COMPARISONS:
        field, constant = _one_key(value, rule, f"{key}'s operand")
        return _leaf(key, _field(field, rule), _Constant(constant, rule)), False
    if key.startswith("$"):
        raise SpecError(f"rule {rule.id}: the compiled engine has no operator {key}")
    return _leaf("eq", _field(key, rule), _Constant(value, rule)), False


def _all(predicates: tuple[Predicate, ...]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if all(hasattr(predicate, "flag") for predicate in predicates):
        return _all_flags(predicates)
    if len(predicates) == 2:
        first, second = predicates
        return lambda fact: first(fact) and second(fact)
    if len(predicates) == 3:
        first, second, third = predicates
        return lambda fact: first(fact) and second(fact) and third(fact)

    def every(fact: Fact) -> bool:
        return all(predicate(fact) for predicate in predicates)

    return every


def _all_flags(predicates: tuple[Predicate, ...]) -> Predicate:
    """An $and of boolean equalities ({units_valid: true}, ...), the commonest rule shape,
    in one call: a boolean fact value is decided here, anything else by the leaf itself."""
    checks = tuple((*predicate.flag, predicate) for predicate in predicates)  # type: ignore[attr-defined]
    absent = _ABSENT

    def flags(fact: Fact) -> bool:
        get = fact.get
        for field, target, leaf in checks:
            value = get(field, absent)
            if value is not target and (value is True or value is False or value is absent or not leaf(fact)):
                return False
        return True

    return flags


def _all_count(predicates: tuple[Predicate, ...]) -> Predicate:
    """Paths through an $and: the product of its parts' counts (0 as soon as one fails)."""

    def product(fact: Fact) -> int:
        count = 1
        for predicate in predicates:
            count *= int(predicate(fact))
            if not count:
                return 0
        return count

    return product


def _any_count(predicates: tuple[Predicate, ...]) -> Predicate:
    """Paths through an $or: the sum of its alternatives' counts."""

    def total(fact: Fact) -> int:
        count = 0
        for predicate in predicates:
            count += int(predicate(fact))
        return count

    return total


def _always(fact: Fact) -> bool:
    return True


_FAILED = "the rules engine failed on this claim ({})"  # DurableRuleset's words


_INFINITY, _MINUS_INFINITY = math.inf, -math.inf


def _infinite(values: Any) -> bool:
    """Does a sent value hold an infinite float (``Infinity``), which the core cannot parse?
    It then silently drops that fact and every later one."""
    return any(type(value) is float and (value in (_INFINITY, _MINUS_INFINITY)) for value in values)


def _text_of(value: Any) -> str:
    """A scalar as the core hashes it for a fact's ``id`` or ``sid``."""
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) in (int, float):
        return _number_text(value)
    return json.dumps(value)


#: Distinct field values remembered per fact kind before the memo starts over.
MEMO_LIMIT = 4096
_Entry = tuple[int, Rule, Predicate, bool]  # (index of the rule's date range, rule, when, counts)


class _Kind:
    """The rules of one fact kind, and a memo of what fires on a fact.

    Rules are grouped by their effective dates, a condition on ``eff`` alone: which groups
    apply is remembered per ``eff``. A ``when`` predicate is a pure function of the presence,
    type and value of the fields it names (see _leaf), so the rules that fire, and how often,
    are remembered per (groups that apply, the (value, type) of every field the kind's rules
    read): claims repeat the same few combinations of flags and codes. ``fields`` None: no
    memo, every rule's full pattern is tried (a fact whose kind is not a string).
    """

    __slots__ = ("bounds", "entries", "fields", "masks", "memo", "sent_values")

    def __init__(
        self,
        bounds: tuple[Predicate, ...],
        entries: tuple[_Entry, ...],
        fields: tuple[str, ...] | None,
        sent_values: Callable[[Fact], list[Any]],
    ):
        self.bounds = bounds
        self.entries = entries
        self.fields = fields
        self.sent_values = sent_values
        self.memo: dict[Any, tuple[tuple[Rule, ...], bool]] = {}
        self.masks: dict[Any, tuple[bool, ...]] = {}

    def fired(self, fact: Fact) -> tuple[tuple[Rule, ...], bool]:
        """The rules that fire on the fact, each as many times as the core would fire it, and
        whether a field the kind's rules read holds an infinite float (the core drops the fact)."""
        if self.fields is None:
            return self._evaluate(fact, (True,), self.sent_values(fact))
        eff = fact.get("eff", _ABSENT)
        try:
            mask = self.masks[eff, type(eff)]
        except (KeyError, TypeError):
            mask = tuple(bool(bound(fact)) for bound in self.bounds)
            if len(self.masks) >= MEMO_LIMIT:
                self.masks.clear()
            try:
                self.masks[eff, type(eff)] = mask
            except TypeError:  # an unhashable eff (a list)
                pass
        values = tuple(map(fact.get, self.fields, repeat(_ABSENT)))
        key = (mask, values, tuple(map(type, values)))
        try:
            found = self.memo.get(key)
        except TypeError:  # an unhashable value (a list): no memo for this fact
            return self._evaluate(fact, mask, values)
        if found is None:
            found = self._evaluate(fact, mask, values)
            if len(self.memo) >= MEMO_LIMIT:
                self.memo.clear()
            self.memo[key] = found
        return found

    def _evaluate(self, fact: Fact, mask: tuple[bool, ...], values: Any) -> tuple[tuple[Rule, ...], bool]:
        if _infinite(values):
            return (), True
        fired: list[Rule] = []
        for group, rule, predicate, counts in self.entries:
            if mask[group] and (hit := predicate(fact)):
                fired.extend(repeat(rule, int(hit) if counts else 1))
        return tuple(fired), False


class CompiledPredicates:
    """One payer's rules as compiled Python predicates; the interface of ``DurableRuleset``."""

    def __init__(self, rules: Sequence[Rule], label: str):
        self.rules = tuple(rules)
        self.label = label
        # condition() is {"$and": [{"kind": K}, <effective bounds on eff>..., when]}. Rules are
        # indexed on K (a string kind on a fact equals K exactly when it is equal) and grouped
        # by their bounds, so a fact tests each distinct date range once. Counts multiply under
        # $and, and a kind or a bound counts 0 or 1, so the firings are the same.
        every: list[_Entry] = []
        kinds: dict[Any, tuple[dict[str, int], list[Predicate], list[_Entry], set[str]]] = {}
        for rule in self.rules:
            pattern = condition(rule)
            every.append((0, rule, *_compile(pattern, rule)))
            kind, *bounds, when = pattern["$and"]
            groups, predicates, entries, fields = kinds.setdefault(kind["kind"], ({}, [], [], set()))
            key = json.dumps(bounds, sort_keys=True)
            if key not in groups:
                groups[key] = len(predicates)
                predicates.append(_compile({"$and": bounds}, rule)[0] if bounds else _always)
            entries.append((groups[key], rule, *_compile(when, rule)))
            fields.update(fields_of(when))
        self.projection = Projection(self.rules)
        sent_values = self.projection.sent_values
        self._by_kind: dict[str, _Kind] | None = {
            kind: _Kind(tuple(predicates), tuple(entries), tuple(sorted(fields)), sent_values)
            for kind, (_groups, predicates, entries, fields) in kinds.items()
        }
        # A kind that is not a string would meet a fact's kind by the core's cross-type rules:
        # then every rule is tried on every fact, with its full pattern.
        self._every = _Kind((_always,), tuple(every), None, sent_values)
        if not all(type(kind) is str for kind in kinds):
            self._by_kind = None

    def evaluate(self, facts: Sequence[Fact]) -> list[Firing]:
        """Every firing for one claim's facts, in fact order then rule order.

        As DurableRuleset: a fact whose ``id`` repeats an earlier fact's is ignored (the core
        has already observed it), and the claim fails (EngineFailure) when no fact is the
        ``claim`` fact its sentinel rule needs, or a fact names another engine session.
        """
        firings: list[Firing] = []
        by_kind = self._by_kind
        seen: set[str] = set()
        sentinel = False
        for fact in facts:
            # An infinite float among the fields sent (engine.Projection) drops this fact and
            # every later one: those always sent are checked here, the rules' fields in fired().
            ident = fact.get("id", _ABSENT)
            if type(ident) is str:
                if _infinite((fact.get("sid"), fact.get("kind"), fact.get("eff"))):
                    break
            elif _infinite(fact.values()):  # sent whole
                break
            kind = fact.get("kind")
            rules = by_kind.get(kind) if type(kind) is str and by_kind is not None else self._every
            fired, infinite = rules.fired(fact) if rules is not None else ((), False)
            if infinite:
                break
            if ident is not _ABSENT:
                key = ident if type(ident) is str else _text_of(ident)
                if key in seen:
                    continue
                seen.add(key)
            session = fact.get("sid", SESSION)
            if session != SESSION and _text_of(session) != SESSION:
                raise EngineFailure(_FAILED.format("RuntimeError"))
            if kind == "claim" or (not sentinel and _IS_CLAIM(fact)):
                sentinel = True
            for rule in fired:
                firings.append(Firing(rule, fact))
        if not sentinel:
            raise EngineFailure(_FAILED.format("RuntimeError"))
        return firings


def resolve_engine(name: str) -> str:
    """The engine an Editor runs for ``name``; "durable" without durable-rules raises EngineUnavailable."""
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(sorted(ENGINES))}, not {name!r}")
    if name == "durable":
        require_engine()  # asked for by name: say how to install it rather than run another engine
    return name


#: The sentinel rule's pattern, which DurableRuleset needs to fire on every claim.
_IS_CLAIM = _leaf("eq", "kind", _Constant("claim", None))

#: The engines an Editor can run, by name; each takes (rules, label) and has ``evaluate``.
ENGINES: dict[str, type] = {"durable": DurableRuleset, "compiled": CompiledPredicates}
