"""The durable-rules adapter: assert one claim's facts, collect every firing.

The details (how it works, and why) are in docs/internals.md, "The durable-rules adapter".
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import define

from j9330_rules.errors import EngineFailure, EngineUnavailable
from j9330_rules.facts.builder import SESSION, Fact, day_number, plain_number
from j9330_rules.rules.specs import Rule

try:
    import durable_rules_engine as _engine
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    _engine = None
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

SENTINEL = "zz_sentinel"
_SENTINEL_PRIORITY = 1_000_000  # lower fires first: the sentinel fires last
_LOCK = threading.Lock()  # the C core is not thread-safe; see docs/engine.md
_NAMES = itertools.count()


# glibc mallopt parameters, and the values set (see _keep_engine_memory).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_AT, _MMAP_FROM = 64 << 20, 32 << 20
_MALLOC_TUNED = False


def _keep_engine_memory() -> None:
    """Let glibc keep the C core's per-claim session buffers in the heap, for reuse.

    A session's buffers (a few hundred KiB) are freed after every claim. glibc's defaults
    either map and unmap them each time or, once its dynamic threshold rises, trim the top
    of the heap on every free: measured at 3x the time per claim (bench/run.py). Raising
    both thresholds keeps up to 64 MiB of freed heap for reuse. Process-wide, so it is done
    once, only when a durable-rules ruleset is built, never on other C libraries, and not
    when the user tuned malloc through the environment (MALLOC_*_THRESHOLD_).
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    if any(name in os.environ for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")):
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):  # other C libraries number mallopt's parameters otherwise
            return
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, ValueError, OSError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM)
    mallopt(_M_TRIM_THRESHOLD, _TRIM_AT)


def require_engine() -> Any:
    if _engine is None:
        raise EngineUnavailable(
            f"the durable engine needs durable-rules, which cannot be imported ({_IMPORT_ERROR}). "
            "Install the optional extra with a C compiler present: pip install 'j9330-rules[durable]' "
            "(on Python 3.13 with CPPFLAGS='-DPyEval_CallObject=PyObject_CallObject'; gcc 14 cannot "
            "build it, use CC=gcc-13), or use the default compiled engine, which gives the same findings."
        )
    return _engine


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_scalar(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return encode(value)
    raise TypeError(f"cannot send a {type(value).__name__} to the rules engine")


def float_text(value: float) -> str:
    """A float's JSON text in plain decimal form, still a float to the core (``25.0``, not ``25``).

    ``json.dumps``'s text where that has no exponent, so a claim reads the same to the core
    whichever of the two encoders sent it.
    """
    text = repr(value)
    if "e" not in text:
        return json.dumps(value)  # also Infinity and NaN, as the fast encoder writes them
    text = plain_number(Decimal(text))
    return text if "." in text else text + ".0"


def encode(value: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """JSON with every number in plain decimal form (never ``1e-05``).

    Used for ruleset definitions, whose thresholds come from YAML floats.
    """
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(key)}:{_scalar(item)}" for key, item in value.items()) + "}"
    return "[" + ",".join(encode(item) for item in value) + "]"


def condition(rule: Rule) -> dict[str, Any]:
    """The durable-rules pattern for a rule: its fact kind, its dates, its condition."""
    parts: list[dict[str, Any]] = [{"kind": rule.fact}]
    if rule.effective.effective_from:
        parts.append({"$gte": {"eff": day_number(rule.effective.effective_from)}})
    if rule.effective.effective_to:
        parts.append({"$lte": {"eff": day_number(rule.effective.effective_to)}})
    parts.append(rule.when)
    return {"$and": parts}


def fields_of(node: Any) -> set[str]:
    """The fact fields a condition reads (several keys in one object are an implicit $and)."""
    fields: set[str] = set()
    for key, value in node.items():
        if key in ("$and", "$or"):
            fields.update(*(fields_of(item) for item in value))
        elif key.startswith("$"):
            fields.update(value if isinstance(value, Mapping) else ())
        else:
            fields.add(key)
    return fields


_PLAIN = frozenset({bool, int, str, type(None)})
#: What every sent fact keeps: the core's identity and session, the kind, the date.
_ALWAYS_SENT = ("id", "sid", "kind", "eff")


class Projection:
    """What the engines are sent of each fact: only the fields some rule on its kind reads.

    A line fact carries some 60 fields and its rules read about 20: writing and parsing the
    rest cost more than matching. Firings still carry the whole fact (see _matched_fact). A fact
    without a string ``id`` is sent whole: the core then makes its id from a hash of every field.
    """

    def __init__(self, rules: Sequence[Rule]):
        by_kind: dict[str, set[str]] = {"claim": set()}  # the sentinel's kind
        for rule in rules:
            by_kind.setdefault(rule.fact, set()).update(fields_of(condition(rule)))
        self._by_kind = {kind: _sent(read) for kind, read in by_kind.items()}
        self._no_rule = _sent(set())  # a string kind no rule names
        # A kind that is not a string meets the rules' kinds by the core's cross-type rules.
        self._any_rule = _sent(set().union(*by_kind.values()))

    def fields_for(self, fact: Fact) -> tuple[str, ...]:
        kind = fact.get("kind")
        if type(kind) is str:
            return self._by_kind.get(kind, self._no_rule)
        return self._any_rule

    def sent(self, fact: Fact) -> Fact:
        if type(fact.get("id")) is not str:
            return fact
        return {name: fact[name] for name in self.fields_for(fact) if name in fact}

    def sent_values(self, fact: Fact) -> list[Any]:
        """The values :meth:`sent` keeps (None where a field is absent)."""
        if type(fact.get("id")) is not str:
            return list(fact.values())
        return list(map(fact.get, self.fields_for(fact)))

    def payload(self, facts: Sequence[Fact]) -> str:
        """The claim's facts, projected, as JSON text the C core reads whole.

        Derived quantities never print with an exponent (see facts.fact_number),
        but a spec parameter can be any YAML number (``0.00001`` is the float
        ``1e-05``), and the C core silently drops the fact holding an exponent and
        every fact after it. Such claims go through :func:`encode`, which the core
        reads the same way; the rest take the fast C encoder.
        """
        sent = []
        plain = True
        for fact in facts:
            item = self.sent(fact)
            sent.append(item)
            if plain and not _PLAIN.issuperset(map(type, item.values())):
                plain = not _needs_encode(item.values())
        if plain:
            return json.dumps(sent, separators=(",", ":"), ensure_ascii=False)
        return encode(sent)


def _sent(read: set[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*_ALWAYS_SENT, *sorted(read))))


def _needs_encode(values: Any) -> bool:
    """A float with an exponent, or something the fast encoder cannot write exactly."""
    return any(
        ("e" in repr(value)) if type(value) is float else not isinstance(value, (bool, int, str, type(None)))
        for value in values
    )


#: A matched fact's top-level string id in a firing message {"rule":{"m":{...}}} of flat facts.
_MATCHED_ID = re.compile(r'[{,]"id":("(?:[^"\\]|\\.)*")[,}]')


def _matched_fact(message: str, facts: Sequence[Fact], by_id: dict[str, Fact]) -> Fact:
    """The claim's own fact a firing matched, found by its id without parsing the whole message.

    The core ignores a fact whose id repeats an earlier one's, so the first fact with the id
    is the one. A message the quick reading cannot be sure of (a fact without a string id, or
    holding objects) is parsed whole, and its fact is the core's copy.
    """
    if message.count("{") == 3:
        found = _MATCHED_ID.search(message)
        if found is not None:
            fact = by_id.get(json.loads(found.group(1)))
            if fact is not None:
                return fact
    ((_name, matched),) = json.loads(message).items()
    return matched["m"]


def _first_by_id(facts: Sequence[Fact]) -> dict[str, Fact]:
    by_id: dict[str, Fact] = {}
    for fact in facts:
        ident = fact.get("id")
        if type(ident) is str:
            by_id.setdefault(ident, fact)
    return by_id


@define(frozen=True)
class Firing:
    """A rule and the fact it matched: the claim's own fact object, shared and not to be changed."""

    rule: Rule
    fact: Fact


class DurableRuleset:
    """One payer's rules registered in the C core, with one fixed session."""

    def __init__(self, rules: Sequence[Rule], label: str):
        self.rules = tuple(rules)
        self.label = label
        self._names = {f"r{index:04d}": rule for index, rule in enumerate(self.rules)}
        self.projection = Projection(self.rules)
        definition = {name: {"all": [{"m": condition(rule)}]} for name, rule in self._names.items()}
        definition[SENTINEL] = {"all": [{"m": {"kind": "claim"}}], "pri": _SENTINEL_PRIORITY}
        self._definition = encode(definition)
        try:
            self._handle = self._create()
        except Exception as exc:  # the C core's own limits (rules, expressions): say whose rules, not crash
            from j9330_rules.errors import SpecError

            rulesets = ", ".join(dict.fromkeys(rule.ruleset for rule in self.rules))
            raise SpecError(
                f"payer {label}: durable-rules cannot hold its {len(self.rules):,} rules (rulesets {rulesets}; "
                f"{exc}); its core takes at most about 250 rules in one payer's ruleset, fewer with wide $or "
                "conditions. Split the payer's rules or use engine='compiled'"
            ) from None

    def _create(self) -> int:
        engine = require_engine()
        _keep_engine_memory()
        name = f"j9330_{self.label}_{os.getpid()}_{next(_NAMES)}"
        return engine.create_ruleset(name, self._definition)

    def evaluate(self, facts: Sequence[Fact]) -> list[Firing]:
        """Every firing for one claim's facts; the session is clean afterwards."""
        payload = self.projection.payload(facts)
        engine = require_engine()
        with _LOCK:
            try:
                return self._run(engine, payload, facts)
            except Exception as exc:
                # Whatever state the session is in, it is abandoned with its ruleset.
                self._handle = self._create()
                raise EngineFailure(f"the rules engine failed on this claim ({type(exc).__name__})") from exc

    def _run(self, engine: Any, payload: str, facts: Sequence[Fact]) -> list[Firing]:
        handle = self._handle
        # Return codes 1 (a fact matched nothing) and 2 (already observed) still
        # leave the other facts asserted: drain the state whatever the code.
        _code, state = engine.assert_facts(handle, payload)
        firings: list[Firing] = []
        fired: set[tuple[str, int]] = set()
        sentinel = False
        by_id: dict[str, Fact] | None = None
        started = engine.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            name = message[2 : message.index('"', 2)]  # {"name":{"m":{...}}}: rule names hold no quote
            if name == SENTINEL:
                sentinel = True
            else:
                if by_id is None:
                    by_id = _first_by_id(facts)
                fact = _matched_fact(message, facts, by_id)
                # The core fires an $or once per alternative that holds: one firing per rule and fact.
                if (name, id(fact)) not in fired:
                    fired.add((name, id(fact)))
                    firings.append(Firing(self._names[name], fact))
            message = engine.complete_and_start_action(handle, state)
        if not sentinel:
            raise RuntimeError("the sentinel rule did not fire")
        engine.delete_state(handle, SESSION)
        return firings
