"""Overrides: suppress an edit, or change its severity, per payer, provider NPI or claim.

The details (how it works, and why) are in docs/internals.md, "Overrides".
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml
from attrs import define

from j9330_rules.errors import SpecError
from j9330_rules.model import SEVERITIES, Claim, Finding, Suppression
from j9330_rules.rules.catalogue import catalogue
from j9330_rules.rules.specs import load_yaml

SELECTORS = ("payer", "npi", "claim_id")


@define(frozen=True)
class Override:
    id: str
    action: str  # "suppress" or "severity"
    code: str
    reason: str
    severity: str | None = None
    payer: str | None = None
    npi: str | None = None
    claim_id: str | None = None

    def applies(self, finding: Finding, claim: Claim) -> bool:
        if finding.code != self.code:
            return False
        given = {"payer": claim.payer, "npi": claim.provider.npi, "claim_id": claim.claim_id}
        return all(getattr(self, name) is None or getattr(self, name) == given[name] for name in SELECTORS)


def load_overrides(path: str | Path) -> tuple[Override, ...]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else load_yaml(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read the overrides ({type(exc).__name__})") from None
    return parse_overrides(data or {}, origin=str(path))


def parse_overrides(data: Mapping[str, Any], *, origin: str = "overrides") -> tuple[Override, ...]:
    if not isinstance(data, Mapping) or set(data) - {"suppress", "severity"}:
        raise SpecError(f"{origin}: expected only [[suppress]] and [[severity]] tables")
    entries = []
    codes = catalogue()
    for action in ("suppress", "severity"):
        for index, entry in enumerate(data.get(action, [])):
            where = f"{origin}: {action}[{index}]"
            if not isinstance(entry, Mapping) or set(entry) - {"id", "code", "reason", "severity", *SELECTORS}:
                raise SpecError(f"{where}: unknown keys (allowed: id, code, reason, severity, payer, npi, claim_id)")
            if entry.get("code") not in codes:
                raise SpecError(f"{where}: code is missing or not in the edit catalogue")
            if not entry.get("reason"):
                raise SpecError(f"{where}: give a reason: overrides are audited")
            severity = entry.get("severity")
            if (action == "severity") != (severity is not None) or (
                severity is not None and severity not in SEVERITIES
            ):
                raise SpecError(f"{where}: severity must be one of {', '.join(SEVERITIES)} (and only on [[severity]])")
            entries.append(
                Override(
                    id=str(entry.get("id") or f"{action}[{index}]"),
                    action=action,
                    code=entry["code"],
                    reason=str(entry["reason"]),
                    severity=severity,
                    **{name: None if entry.get(name) is None else str(entry[name]) for name in SELECTORS},
                )
            )
    return tuple(entries)


def apply_overrides(
    findings: Iterable[Finding], claim: Claim, overrides: Iterable[Override]
) -> tuple[list[Finding], list[Suppression]]:
    """The findings after overrides, and the suppressed ones with the entry that did it.

    Suppression wins over a severity change; the first matching entry of each kind applies.
    """
    overrides = tuple(overrides)
    kept, suppressed = [], []
    for finding in findings:
        suppress = next((o for o in overrides if o.action == "suppress" and o.applies(finding, claim)), None)
        if suppress is not None:
            suppressed.append(Suppression(finding, suppress.id, suppress.reason))
            continue
        change = next((o for o in overrides if o.action == "severity" and o.applies(finding, claim)), None)
        if change is not None and change.severity != finding.severity:
            finding = attrs.evolve(
                finding, severity=change.severity, overridden_from=finding.severity, override=change.id
            )
        kept.append(finding)
    return kept, suppressed
