"""docs/edit-catalogue.md stays true to specs/catalogue.yaml and the shipped rules."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from j9330_rules.rules.catalogue import catalogue
from j9330_rules.rules.specs import load_spec
from j9330_specs import NOT_RULESETS

DOC = Path(__file__).resolve().parents[1] / "docs" / "edit-catalogue.md"
SPECS = resources.files("j9330_specs")
NOT_SPECS = NOT_RULESETS
HOST_RULES = {
    "PAYER_POLICY_NOT_PROVIDED": {"HOST-PAYER-POLICY"},
    "PLUGIN_FAILED": {"HOST-PLUGIN"},
    "NO_J9330_LINE": {"HOST-NO-J9330"},
    "NOT_A_CLAIM": {"HOST-NOT-A-CLAIM"},
}
NONE = "—"


def rows() -> dict[str, list[str]]:
    """The catalogue table: code → its cells (meaning, severity, CARC, RARC, emitted by)."""
    found = {}
    for line in DOC.read_text("utf-8").splitlines():
        match = re.match(r"^\| `([A-Z][A-Z0-9_]*)` \|(.*)\|$", line)
        if match:
            code, cells = match[1], [cell.strip() for cell in match[2].split("|")]
            assert code not in found, f"{code} has two rows"
            found[code] = cells
    return found


def emitters() -> dict[str, set[str]]:
    """Rule ids per code across every shipped spec, plus the host's own findings."""
    by_code: dict[str, set[str]] = {code: set(ids) for code, ids in HOST_RULES.items()}
    for entry in SPECS.iterdir():
        if entry.name.endswith(".yaml") and entry.name not in NOT_SPECS:
            for rule in load_spec(entry).rules:
                by_code.setdefault(rule.code, set()).add(rule.id)
    return by_code


def test_the_doc_lists_exactly_the_catalogue_codes():
    assert set(rows()) == set(catalogue())


@pytest.mark.parametrize("code", sorted(catalogue()))
def test_each_code_has_its_severity_carc_rarc_and_rules(code):
    entry, cells = catalogue()[code], rows()[code]
    assert len(cells) == 5, f"{code}: expected meaning | severity | CARC | RARC | emitted by"
    meaning, severity, carc, rarc, emitted = cells
    assert meaning
    assert severity == entry.severity
    assert carc == (entry.carc or NONE)
    assert rarc == (entry.rarc or NONE)
    assert set(re.findall(r"`([A-Z][A-Z0-9-]*)`", emitted)) == emitters().get(code, set())
    if code not in emitters():
        assert emitted == NONE
