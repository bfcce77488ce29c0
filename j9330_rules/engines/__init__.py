"""The engines that run the rulesets over facts: the compiled Python engine and durable-rules.

Both take (rules, label) and have ``evaluate(facts) -> list[Firing]``, one firing per rule and
fact; the typed condition language (rules/conditions.py) is what makes them agree.
"""

from __future__ import annotations

from j9330_rules.engines.compiled import CompiledPredicates
from j9330_rules.engines.durable import DurableRuleset, Firing, require_engine

__all__ = ["ENGINES", "CompiledPredicates", "DurableRuleset", "Firing", "resolve_engine"]

#: The engines an Editor can run, by name.
ENGINES: dict[str, type] = {"durable": DurableRuleset, "compiled": CompiledPredicates}


def resolve_engine(name: str) -> str:
    """The engine an Editor runs for ``name``; "durable" without durable-rules raises EngineUnavailable."""
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(sorted(ENGINES))}, not {name!r}")
    if name == "durable":
        require_engine()  # asked for by name: say how to install it rather than run another engine
    return name
