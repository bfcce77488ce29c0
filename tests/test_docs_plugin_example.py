"""docs/plugins.md stays true: its example plugin is extracted, loaded and run.

Each file of the example is the fenced code block after a ``<!-- file: path -->``
marker. The files are written under tmp_path, the module is imported from
there (no pip install) and registered with ``Editor(plugins=[module])``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from j9330_rules import Editor
from j9330_rules.plugins.manager import ENTRY_POINT_GROUP
from tests.conftest import codes, make_claim

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\s*\n```[a-z]*\n(?P<body>.*?)\n```", re.DOTALL)
PACKAGE = "j9330_acme_health"
PROJECT = "j9330-acme-health"
PAYER = "acme_health"
FEE_SCHEDULE = "acme_fee_schedule.csv"


def example_files() -> dict[str, str]:
    files = {match["path"]: match["body"] + "\n" for match in BLOCK.finditer(DOC.read_text("utf-8"))}
    assert set(files) == {
        f"{PROJECT}/pyproject.toml",
        f"{PROJECT}/{PACKAGE}/__init__.py",
        f"{PROJECT}/{PACKAGE}/acme_health.yaml",
        FEE_SCHEDULE,
    }, "docs/plugins.md must mark each example file with <!-- file: ... -->"
    return files


@pytest.fixture
def project(tmp_path) -> Path:
    for name, body in example_files().items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    return tmp_path / PROJECT


@pytest.fixture
def module(project, monkeypatch):
    init = project / PACKAGE / "__init__.py"
    spec = importlib.util.spec_from_file_location(PACKAGE, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, PACKAGE, module)  # importlib.resources finds the package by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def editor(module, project) -> Editor:
    # Installed entry points are skipped: the example must work on its own.
    return Editor(plugins=[module], entry_points=False, fee_schedule=project.parent / FEE_SCHEDULE)


def acme_claim(**changes):
    return make_claim(payer=PAYER, **changes)


def test_pyproject_installs_the_module_through_the_entry_point_group(project):
    meta = tomllib.loads((project / "pyproject.toml").read_text("utf-8"))
    assert meta["project"]["name"] == PROJECT
    assert meta["project"]["entry-points"][ENTRY_POINT_GROUP] == {PAYER: PACKAGE}
    assert PACKAGE in meta["tool"]["setuptools"]["packages"]
    assert "*.yaml" in meta["tool"]["setuptools"]["package-data"][PACKAGE]


def test_spec_is_marked_fictional_and_every_entry_is_cited(project):
    text = (project / PACKAGE / "acme_health.yaml").read_text("utf-8")
    assert text.startswith("# FICTIONAL EXAMPLE")
    spec = yaml.safe_load(text)
    entries = [
        *(p for periods in spec["parameters"].values() for p in periods),
        *spec["code_sets"].values(),
        *spec["severity_overrides"],
        *spec["rules"],
    ]
    assert len(spec["parameters"]) == 1 and list(spec["code_sets"]) == ["covered_diagnoses"]
    assert len(spec["severity_overrides"]) == 1 and len(spec["rules"]) == 1
    assert all(entry["source"].startswith("FICTIONAL EXAMPLE") for entry in entries)


def test_the_fictional_payer_is_known_with_its_ruleset(editor):
    assert PAYER in editor.payers
    assert editor.payers[PAYER].policy_sourced
    assert [spec.name for spec in editor.policies[PAYER].specs] == ["national", PAYER]
    assert not editor.registry.failures


def test_a_clean_claim_for_the_payer_is_clean_and_priced(editor):
    result = editor.check(acme_claim())
    assert result.findings == ()
    assert result.payment.allowed == Decimal("25.00")  # 20 + 5 units at the example's 1.00


def test_without_the_fee_schedule_only_a_note_is_added(module):
    result = Editor(plugins=[module], entry_points=False).check(acme_claim())
    assert [(f.code, f.severity, f.rule_id) for f in result.findings] == [
        ("REFERENCE_DATA_MISSING", "info", "NAT-FEE-SCHEDULE-MISSING")
    ]
    assert result.payment is None


def test_the_plugins_own_rule_fires_and_national_rules_still_apply(editor):
    claim = acme_claim()
    claim["lines"][0].update(units=60, dose_mg="60")
    claim["lines"][1].update(units=15)  # 60 mg given + 15 mg discarded: three 25 mg kits
    result = editor.check(claim)
    cap = next(f for f in result.findings if f.rule_id == "ACME-UNITS-CAP")
    assert (cap.code, cap.severity, cap.payer, cap.line) == ("UNITS_OVER_POLICY_LIMIT", "deny", PAYER, 1)
    assert "75 units" in cap.message and cap.source.startswith("FICTIONAL EXAMPLE")
    assert {"DOSE_ABOVE_LABEL", "DOSE_ABOVE_MAX"} <= set(codes(result))  # national rules

    claim = acme_claim()
    claim["lines"][0]["units"] = 0
    assert "UNITS_INVALID" in codes(editor.check(claim))


def test_parameter_code_set_and_override_take_effect(editor):
    claim = acme_claim()
    claim["lines"][0]["ndc"] = None
    assert "NDC_MISSING" in codes(editor.check(claim))
    for line in claim["lines"]:
        line["service_date"] = "2024-12-31"  # before the payer's period: the national default applies
    assert "NDC_MISSING" not in codes(editor.check(claim))

    assert "DX_NOT_COVERED" in codes(editor.check(acme_claim(diagnoses=["C50.911"])))

    claim = acme_claim()
    del claim["lines"][2]  # no administration code on an office claim
    finding = next(f for f in editor.check(claim).findings if f.code == "ADMIN_CODE_MISSING")
    assert finding.severity == "review"
    assert (
        next(
            f for f in editor.check(claim, as_of=dt.date(2024, 6, 1)).findings if f.code == "ADMIN_CODE_MISSING"
        ).severity
        == "warn"
    )
