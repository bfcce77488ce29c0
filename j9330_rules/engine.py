"""The durable-rules adapter: assert one claim's facts, collect every firing.

durable-rules 2.0.28 is unmaintained and its C core has hazards, each met here
(see docs/engine.md for the measurements):

* ``delete_state`` on a session where no action ran segfaults: every ruleset
  gets a sentinel rule on the claim fact that fires last, for every claim,
  and state is deleted only after the sentinel was seen.
* Joins can read out of bounds: each rule is one pattern over one derived fact.
* Exponent-form numbers are rejected or crash batches: facts are serialised
  here, by :func:`encode`, never with an exponent.
* Sids are hashed without a compare and capped near 1,022: one fixed session
  per ruleset, cleaned after every claim; claim ids are never sids.
* The stock ``Host`` runs timer threads that steal firings: it is not used at
  all. The C API is called directly under one lock; parallelism is processes.
* A batch with an unmatched fact reports failure yet asserted the rest: the
  actions of the returned state are always drained, whatever the return code.
* Registering mutates the definition and names must be unique: the definition
  is built fresh as JSON text and every ruleset gets a unique name.
* If anything still goes wrong the ruleset is rebuilt under a new name, so no
  state can leak into the next claim.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from attrs import define

from j9330_rules.errors import EngineFailure, EngineUnavailable
from j9330_rules.facts import SESSION, Fact, day_number, plain_number
from j9330_rules.specs import Rule

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


def require_engine() -> Any:
    if _engine is None:
        raise EngineUnavailable(
            f"durable-rules cannot be imported ({_IMPORT_ERROR}). It builds from source on CPython "
            "3.11 and 3.12 with gcc 12 or 13. On Python 3.13 reinstall it with "
            "CPPFLAGS='-DPyEval_CallObject=PyObject_CallObject -O2' pip install --force-reinstall "
            "--no-binary durable-rules durable-rules==2.0.28; gcc 14 cannot build it (use CC=gcc-13)."
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
        return plain_number(Decimal(repr(value)))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_scalar(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return encode(value)
    raise TypeError(f"cannot send a {type(value).__name__} to the rules engine")


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


def _payload(facts: Sequence[Fact]) -> str:
    """A claim's facts as JSON text the C core reads whole.

    Derived quantities never print with an exponent (see facts.fact_number),
    but a spec parameter can be any YAML number (``0.00001`` is the float
    ``1e-05``), and the C core silently drops the fact holding an exponent and
    every fact after it. Such facts go through :func:`encode`; the rest take
    the fast C encoder.
    """
    for fact in facts:
        for value in fact.values():
            if (type(value) is float and "e" in repr(value)) or isinstance(value, (list, tuple, Mapping)):
                return encode(facts)
    return json.dumps(facts, separators=(",", ":"), ensure_ascii=False)


@define(frozen=True)
class Firing:
    rule: Rule
    fact: Fact


class CompiledRuleset:
    """One payer's rules registered in the C core, with one fixed session."""

    def __init__(self, rules: Sequence[Rule], label: str):
        self.rules = tuple(rules)
        self.label = label
        self._names = {f"r{index:04d}": rule for index, rule in enumerate(self.rules)}
        definition = {name: {"all": [{"m": condition(rule)}]} for name, rule in self._names.items()}
        definition[SENTINEL] = {"all": [{"m": {"kind": "claim"}}], "pri": _SENTINEL_PRIORITY}
        self._definition = encode(definition)
        self._handle = self._create()

    def _create(self) -> int:
        engine = require_engine()
        name = f"j9330_{self.label}_{os.getpid()}_{next(_NAMES)}"
        return engine.create_ruleset(name, self._definition)

    def evaluate(self, facts: Sequence[Fact]) -> list[Firing]:
        """Every firing for one claim's facts; the session is clean afterwards."""
        payload = _payload(facts)
        engine = require_engine()
        with _LOCK:
            try:
                return self._run(engine, payload)
            except Exception as exc:
                # Whatever state the session is in, it is abandoned with its ruleset.
                self._handle = self._create()
                raise EngineFailure(f"the rules engine failed on this claim ({type(exc).__name__})") from exc

    def _run(self, engine: Any, payload: str) -> list[Firing]:
        handle = self._handle
        # Return codes 1 (a fact matched nothing) and 2 (already observed) still
        # leave the other facts asserted: drain the state whatever the code.
        _code, state = engine.assert_facts(handle, payload)
        firings: list[Firing] = []
        sentinel = False
        started = engine.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            (name, matched), = json.loads(message).items()
            if name == SENTINEL:
                sentinel = True
            else:
                firings.append(Firing(self._names[name], matched["m"]))
            message = engine.complete_and_start_action(handle, state)
        if not sentinel:
            raise RuntimeError("the sentinel rule did not fire")
        engine.delete_state(handle, SESSION)
        return firings
