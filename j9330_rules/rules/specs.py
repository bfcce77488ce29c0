"""Loading ruleset specs: YAML or JSON files validated against the shipped schema.

A spec is data. Loading parses it with a safe loader, validates it against
``specs/schema/ruleset.schema.json`` and checks what a schema cannot (codes
in the catalogue, unique rule ids, periods that do not overlap). Any problem
raises :class:`SpecError` naming the file and the rule, so a bad spec never
reaches the engine.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from attrs import define

from j9330_rules.dates import DateRange
from j9330_rules.errors import SpecError
from j9330_rules.rules.catalogue import catalogue

ALL_PAYERS = "*"


#: A rule's or a parameter's dates: the one date-range type, under the name specs use.
Effective = DateRange


@define(frozen=True)
class Period:
    value: Any
    effective: Effective
    source: str
    reviewed: dt.date | None = None  # when the source's text was last read


@define(frozen=True)
class CodeSet:
    name: str
    field: str
    codes: tuple[str, ...]
    source: str
    reviewed: dt.date | None = None


@define(frozen=True)
class SeverityOverride:
    code: str
    severity: str
    effective: Effective
    source: str
    reviewed: dt.date | None = None


@define(frozen=True)
class Rule:
    id: str
    code: str
    severity: str
    fact: str
    when: Mapping[str, Any]
    message: str
    source: str
    effective: Effective
    ruleset: str
    reviewed: dt.date | None = None


@define(frozen=True)
class Spec:
    name: str
    version: str
    title: str
    applies_to: tuple[str, ...]
    parameters: Mapping[str, tuple[Period, ...]]
    code_sets: Mapping[str, CodeSet]
    severity_overrides: tuple[SeverityOverride, ...]
    rules: tuple[Rule, ...]
    origin: str
    sha256: str
    description: str = ""

    @property
    def general(self) -> bool:
        """A national spec: it applies to every payer (``applies_to: ["*"]``)."""
        return ALL_PAYERS in self.applies_to

    def applies_to_payer(self, payer: str) -> bool:
        return self.general or payer in self.applies_to


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((resources.files("j9330_specs") / "schema" / "ruleset.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


#: The most rules one spec may hold: durable-rules' core refuses a ruleset of more than 256 (error
#: 108), so a spec past this could never run there; a payer's merged rules are checked again when
#: its durable ruleset is made (engines/durable.py).
MAX_RULES = 250
#: A spec or overrides file larger than this is refused before it is parsed.
MAX_YAML_BYTES = 1 << 20


class _NoAliases(yaml.SafeLoader):
    """The safe loader, refusing anchors and aliases: no shipped spec uses them, and an alias
    "bomb" of a few hundred bytes expands to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str | bytes) -> Any:
    """YAML (or JSON) as the safe loader reads it, within :data:`MAX_YAML_BYTES` and without aliases."""
    if len(text) > MAX_YAML_BYTES:
        raise yaml.YAMLError(f"larger than {MAX_YAML_BYTES // 1024} KiB")
    return yaml.load(text, Loader=_NoAliases)


def load_spec(path: str | Path | Traversable) -> Spec:
    """Read, validate and build one spec file."""
    source = Path(path) if isinstance(path, str) else path
    origin = str(source)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise SpecError(f"{origin}: cannot read the spec ({exc.strerror or exc})") from None
    try:
        # JSON is YAML, so one safe loader reads both; tags that build objects are refused.
        data = load_yaml(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SpecError(f"{origin}: not valid YAML/JSON ({exc})") from None
    return build_spec(data, origin=origin, digest=hashlib.sha256(raw).hexdigest())


def build_spec(data: Any, *, origin: str, digest: str = "") -> Spec:
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise SpecError(_describe(errors[0], data, origin))
    name = data["ruleset"]
    if len(data["rules"]) > MAX_RULES:
        raise SpecError(f"{origin}: {len(data['rules']):,} rules; a spec holds at most {MAX_RULES:,} (split it)")
    rules = tuple(_rule(entry, name) for entry in data["rules"])
    _check_semantics(data, rules, origin)
    return Spec(
        name=name,
        version=data["version"],
        title=data["title"],
        description=data.get("description", ""),
        applies_to=tuple(data["applies_to"]),
        parameters={
            key: tuple(Period(p["value"], _effective(p), p["source"], _date(p.get("reviewed"))) for p in periods)
            for key, periods in data.get("parameters", {}).items()
        },
        code_sets={
            key: CodeSet(key, entry["field"], tuple(entry["codes"]), entry["source"], _date(entry.get("reviewed")))
            for key, entry in data.get("code_sets", {}).items()
        },
        severity_overrides=tuple(
            SeverityOverride(o["code"], o["severity"], _effective(o), o["source"], _date(o.get("reviewed")))
            for o in data.get("severity_overrides", [])
        ),
        rules=rules,
        origin=origin,
        sha256=digest or hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(),
    )


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _effective(entry: Mapping[str, Any]) -> Effective:
    return Effective(_date(entry.get("effective_from")), _date(entry.get("effective_to")))


def _rule(entry: Mapping[str, Any], ruleset: str) -> Rule:
    return Rule(
        id=entry["id"],
        code=entry["code"],
        severity=entry["severity"],
        fact=entry["fact"],
        when=entry["when"],
        message=entry["message"],
        source=entry["source"],
        effective=_effective(entry),
        ruleset=ruleset,
        reviewed=_date(entry.get("reviewed")),
    )


def _where(path: list, data: Any) -> str:
    """Name the rule (by id) that a schema error sits in, else the JSON path."""
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rule = data["rules"][path[1]]
        rule_id = rule.get("id") if isinstance(rule, Mapping) else None
        rest = "/".join(map(str, path[2:]))
        return f"rule {rule_id or '#' + str(path[1] + 1)!s}" + (f" at {rest}" if rest else "")
    return "/".join(map(str, path)) or "top level"


def _describe(error: jsonschema.ValidationError, data: Any, origin: str) -> str:
    return f"{origin}: {_where(list(error.absolute_path), data)}: {error.message}"


def _check_semantics(data: Mapping[str, Any], rules: tuple[Rule, ...], origin: str) -> None:
    codes = catalogue()
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise SpecError(f"{origin}: rule {rule.id}: the id is used twice")
        seen.add(rule.id)
        if rule.code not in codes:
            raise SpecError(f"{origin}: rule {rule.id}: code {rule.code} is not in the edit catalogue")
        if not rule.effective.ordered:
            raise SpecError(f"{origin}: rule {rule.id}: effective_to is before effective_from")
    for override in data.get("severity_overrides", []):
        if override["code"] not in codes:
            raise SpecError(f"{origin}: severity override: code {override['code']} is not in the edit catalogue")
    for key, periods in data.get("parameters", {}).items():
        if any(isinstance(p["value"], float) and not math.isfinite(p["value"]) for p in periods):
            raise SpecError(f"{origin}: parameter {key}: numbers must be finite")
        ranges = [_effective(p) for p in periods]
        for i, first in enumerate(ranges):
            if not first.ordered:
                raise SpecError(f"{origin}: parameter {key}: effective_to is before effective_from")
            if any(first.overlaps(second) for second in ranges[i + 1 :]):
                raise SpecError(f"{origin}: parameter {key}: two periods overlap")


#: A source not read for this long is due for review (``report`` and ``plugins`` list it).
REVIEW_MONTHS = 12


@define(frozen=True)
class SourceDue:
    """A cited source whose text was not read in the last REVIEW_MONTHS months (or never dated)."""

    ruleset: str
    origin: str
    item: str  # "rule NAT-DX-MISSING", "parameter jwjz_required", "code set covered_diagnoses", ...
    source: str
    reviewed: dt.date | None


def sources_due(specs: Iterable[Spec], today: dt.date, months: int = REVIEW_MONTHS) -> list[SourceDue]:
    """Every cited source of ``specs`` last read before ``today`` less ``months``, or never dated."""
    cutoff = _months_before(today, months)
    due = []
    for spec in specs:
        items: list[tuple[str, str, dt.date | None]] = [(f"rule {r.id}", r.source, r.reviewed) for r in spec.rules]
        items += [
            (f"parameter {name}", p.source, p.reviewed) for name, periods in spec.parameters.items() for p in periods
        ]
        items += [(f"code set {name}", c.source, c.reviewed) for name, c in spec.code_sets.items()]
        items += [(f"severity override {o.code}", o.source, o.reviewed) for o in spec.severity_overrides]
        for item, source, reviewed in items:
            if reviewed is None or reviewed < cutoff:
                due.append(SourceDue(spec.name, spec.origin, item, source, reviewed))
    return due


def _months_before(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
