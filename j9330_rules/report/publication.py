"""The national overview's publication sections: the facts the seed overview is organised by.

Summary, billing code, clinical and coding specifications (with the modifier table), the
payer-by-requirement matrix, reimbursement (ASP by quarter, fee schedules), common billing
errors and documentation. Requirements are read from the payers' merged policies on the
report's date, prices from the loaded files, errors from the edit catalogue; only descriptive
text (descriptors, the label) comes from ``specs/overview.yaml``, each with its source. What is
not known is said: :data:`NOT_AVAILABLE`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib import resources
from typing import Any

import yaml
from attrs import define

from j9330_rules.editor import Editor
from j9330_rules.plugins.pricing import line_allowed
from j9330_rules.refdata.reference import OPTIONS
from j9330_rules.rules.catalogue import catalogue

NOT_AVAILABLE = "data not available"

#: The matrix's requirements and the parameters that state them (policy lives in the specs).
MATRIX = (
    ("Prior authorization", ("prior_auth_required", "authorization_months")),
    ("JW/JZ", ("jwjz_required",)),
    ("340B flag (JG/TB)", ("requires_340b_flags", "tb_hospital_types")),
    ("Covered indications", ()),
    ("Unit limits", ("units_limit", "units_limit_days")),
    ("Age", ("adults_only",)),
)
COVERED_SET = "covered_diagnoses"
MUE_CODE = "UNITS_OVER_MUE"
DOCUMENTATION_CODES = ("DOC_INCOMPLETE", "PRIOR_AUTH_MISSING")
#: The catalogue severities a billing error has (the others are notes, reviews or run facts).
ERROR_SEVERITIES = ("reject", "deny", "warn")


@define(frozen=True)
class Sourced:
    """A descriptive fact from ``specs/overview.yaml``."""

    topic: str
    text: str
    source: str
    reviewed: str = ""


@define(frozen=True)
class Site:
    code: str
    name: str
    billing: str
    source: str


@define(frozen=True)
class Cell:
    """One payer's answer to one requirement; ``stated`` is False where no payer spec says it."""

    text: str
    stated: bool
    source: str = ""


@define(frozen=True)
class MatrixRow:
    payer: str
    display_name: str
    policy_sourced: bool
    cells: tuple[Cell, ...]


@define(frozen=True)
class ModifierRow:
    modifier: str
    description: str
    when: str
    #: Which payers require it on the report's date, by the parameter the specs set; "" when no
    #: parameter decides it (accepted on drug lines wherever it applies).
    required_by: tuple[str, ...]
    not_required_by: tuple[str, ...]
    parameter: str
    source: str


@define(frozen=True)
class AspQuarter:
    period: str
    limit: Decimal | None
    dosage: str
    standard_dose_allowed: Decimal | None
    file: str


@define(frozen=True)
class FeeRow:
    payer: str
    rate: Decimal
    period: str
    standard_dose_allowed: Decimal
    file: str


@define(frozen=True)
class ErrorRow:
    code: str
    severity: str
    carc: str
    rarc: str
    meaning: str
    payers: tuple[str, ...]  # the payers whose policy raises it on the report's date


@define(frozen=True)
class DocRow:
    what: str
    text: str
    source: str


@define(frozen=True)
class Publication:
    billing_code: Sourced
    clinical: tuple[Sourced, ...]
    sites: tuple[Site, ...]
    not_separately_payable: tuple[Site, ...]
    modifiers: tuple[ModifierRow, ...]
    matrix_headers: tuple[str, ...]
    matrix: tuple[MatrixRow, ...]
    asp_quarters: tuple[AspQuarter, ...]
    fee_schedules: tuple[FeeRow, ...]
    errors: tuple[ErrorRow, ...]
    documentation: tuple[DocRow, ...]
    not_available: tuple[str, ...]


def descriptive_facts() -> dict[str, Any]:
    """``specs/overview.yaml``, the report's descriptive text."""
    return yaml.safe_load((resources.files("j9330_specs") / "overview.yaml").read_text("utf-8"))


def _stated(editor: Editor, payer: str, name: str, as_of: dt.date) -> tuple[Any, bool, str]:
    """The parameter's value on ``as_of``, whether a payer's own spec states it, and its source."""
    policy = editor.policies[payer]
    period = policy.period_on(name, as_of)
    if period is None:
        return None, False, ""
    own = any(not spec.general and any(p is period for p in spec.parameters.get(name, ())) for spec in policy.specs)
    return period.value, own, period.source


def icd10_pattern(code: str) -> str:
    """A code-set pattern as ICD-10-CM writes a code and its subcodes: C64* is C64.-, D30.0* is D30.0-."""
    if not code.endswith("*"):
        return code
    stem = code[:-1]
    return stem + ("-" if "." in stem else ".-")


def _yes_no(value: Any) -> str:
    return "required" if value else "not required"


def _cell(editor: Editor, payer: str, requirement: str, names: tuple[str, ...], as_of: dt.date) -> Cell:
    policy = editor.policies[payer]
    if requirement == "Covered indications":
        code_set = next(
            (s.code_sets[COVERED_SET] for s in policy.specs if not s.general and COVERED_SET in s.code_sets),
            None,
        )
        if code_set is None:
            return Cell(f"{NOT_AVAILABLE}: no sourced list of covered diagnoses", False)
        shown = ", ".join(icd10_pattern(code) for code in code_set.codes[:6])
        more = f" and {len(code_set.codes) - 6} more" if len(code_set.codes) > 6 else ""
        return Cell(f"{shown}{more}", True, code_set.source)
    values = {name: _stated(editor, payer, name, as_of) for name in names}
    first, own, source = values[names[0]]
    if requirement == "Unit limits":
        limit, limit_own, limit_source = values["units_limit"]
        days = values["units_limit_days"][0]
        mue = any(rule.code == MUE_CODE and rule.effective.contains(as_of) for rule in policy.rules)
        parts = []
        if limit is not None:
            parts.append(f"{limit} units per {days} days" if days else f"{limit} units")
        if mue:
            parts.append("CMS MUE (the loaded table's value)")
        if not parts:
            return Cell("none stated", False)
        mue_source = next((r.source for r in policy.rules if r.code == MUE_CODE and r.effective.contains(as_of)), "")
        return Cell("; ".join(parts), limit_own or mue, limit_source if limit_own else mue_source)
    if not own:
        return Cell("not stated (not enforced)", False)
    if requirement == "Prior authorization":
        months = values["authorization_months"][0]
        text = _yes_no(first) + (f"; {months}-month authorization" if first and months else "")
        return Cell(text, True, source)
    if requirement == "340B flag (JG/TB)":
        types = values["tb_hospital_types"][0] or ()
        text = _yes_no(first) + (f"; TB for {', '.join(t.replace('_', ' ') for t in types)}" if first and types else "")
        return Cell(text, True, source)
    if requirement == "Age":
        return Cell("18 or older" if first else "no age limit", True, source)
    return Cell(_yes_no(first), True, source)


def _matrix(editor: Editor, as_of: dt.date) -> tuple[MatrixRow, ...]:
    rows = []
    for name in sorted(editor.payers):
        payer = editor.payers[name]
        cells = tuple(_cell(editor, name, requirement, names, as_of) for requirement, names in MATRIX)
        rows.append(MatrixRow(name, payer.display_name, payer.policy_sourced, cells))
    return tuple(rows)


def _modifiers(editor: Editor, facts: dict[str, Any], as_of: dt.date) -> tuple[ModifierRow, ...]:
    rows = []
    for entry in facts["modifiers"]:
        parameter = entry.get("required_by", "")
        required, not_required = [], []
        if parameter:
            for name in sorted(editor.payers):
                value, _own, _source = _stated(editor, name, parameter, as_of)
                (required if value else not_required).append(name)
        rows.append(
            ModifierRow(
                entry["modifier"],
                entry["description"],
                entry["when"],
                tuple(required),
                tuple(not_required),
                parameter,
                entry["source"],
            )
        )
    return tuple(rows)


def period_text(effective, quarter: str | None = None) -> str:
    """A file's or a rate's period as the report lists it: its dates, else its quarter."""
    return effective.span(unknown=quarter or "period unknown")


def _asp_quarters(editor: Editor, dose: int) -> tuple[AspQuarter, ...]:
    rows = []
    for asp in sorted(editor.reference.asp, key=lambda f: f.effective.effective_from or dt.date.min):
        row = asp.rows.get("J9330")
        limit = row.payment_limit if row is not None else None
        rows.append(
            AspQuarter(
                period_text(asp.effective, asp.quarter),
                limit,
                row.dosage if row is not None else "",
                line_allowed(dose, limit) if limit is not None else None,
                asp.path.name,
            )
        )
    return tuple(rows)


def _fee_schedules(editor: Editor, dose: int) -> tuple[FeeRow, ...]:
    fees = sorted(editor.reference.fees, key=lambda f: (f.payer, f.effective.effective_from or dt.date.min))
    return tuple(
        FeeRow(f.payer, f.rate_per_unit, period_text(f.effective), line_allowed(dose, f.rate_per_unit), f.path.name)
        for f in fees
        if f.hcpcs == "J9330"
    )


#: Facts that are true only where a parameter is set (a unit limit needs ``units_limit``).
FACT_NEEDS = {"units_over_limit": "units_limit"}


def gates(when: Any, parameters: Any) -> set[str]:
    """The parameters a rule's condition needs set, read from the condition itself: a leaf
    ``{jwjz_required: true}`` at the top or under ``$and``, or a fact in :data:`FACT_NEEDS`."""
    if not isinstance(when, dict) or len(when) != 1:
        return set()
    ((key, value),) = when.items()
    if key == "$and" and isinstance(value, list):
        return set().union(*(gates(item, parameters) for item in value))
    if key in parameters and value is True:
        return {key}
    if key in FACT_NEEDS and value is True:
        return {FACT_NEEDS[key]}
    return set()


def fires_for(rule: Any, parameters: dict[str, Any]) -> bool:
    """Whether the rule can fire under these parameters (every gate set)."""
    return all(parameters.get(name) not in (None, False) for name in gates(rule.when, parameters))


def _errors(editor: Editor, as_of: dt.date) -> tuple[ErrorRow, ...]:
    raised: dict[str, set[str]] = {}
    for name, policy in editor.policies.items():
        parameters = policy.parameters_on(as_of)
        for rule in policy.rules:
            if rule.effective.contains(as_of) and fires_for(rule, parameters):
                raised.setdefault(rule.code, set()).add(name)
    rows = [
        ErrorRow(code, entry.severity, entry.carc or "", entry.rarc or "", entry.meaning, tuple(sorted(raised[code])))
        for code, entry in catalogue().items()
        if entry.severity in ERROR_SEVERITIES and code in raised
    ]
    rows.sort(key=lambda row: (ERROR_SEVERITIES.index(row.severity), -len(row.payers), row.code))
    return tuple(rows)


def _documentation(editor: Editor, facts: dict[str, Any], as_of: dt.date) -> tuple[DocRow, ...]:
    rows = [DocRow(entry["what"], entry["text"], entry["source"]) for entry in facts["documentation"]]
    seen = set()
    for policy in editor.policies.values():
        for rule in policy.rules:
            if rule.code == "DOC_INCOMPLETE" and rule.id not in seen and rule.effective.contains(as_of):
                seen.add(rule.id)
                rows.append(DocRow(f"Checked by {rule.id}", rule.message, rule.source))
    for name in sorted(editor.payers):
        value, own, source = _stated(editor, name, "prior_auth_required", as_of)
        if value and own:
            months = _stated(editor, name, "authorization_months", as_of)[0]
            period = f", renewed every {months} months" if months else ""
            rows.append(
                DocRow(
                    f"Prior authorization, {editor.payers[name].display_name}",
                    f"The authorization number on the claim{period} (PRIOR_AUTH_MISSING without it).",
                    source,
                )
            )
    return tuple(rows)


def _sites(facts: dict[str, Any], editor: Editor) -> tuple[tuple[Site, ...], tuple[Site, ...]]:
    sites = tuple(Site(e["code"], e["name"], e["billing"], e["source"]) for e in facts["sites_of_service"])
    national = next(s for s in editor.registry.specs if s.general and "inpatient_places" in s.code_sets)
    places = national.code_sets["inpatient_places"]
    bills = national.code_sets.get("rhc_fqhc_bills")
    excluded = [
        Site(
            ", ".join(places.codes),
            "Inpatient settings",
            "Not separately payable: drugs in an inpatient stay are paid within the stay (PLACE_OF_SERVICE).",
            places.source,
        )
    ]
    if bills is not None:
        excluded.append(
            Site(
                "TOB " + ", ".join(code.replace("*", "x") for code in bills.codes),
                "Rural health clinics and federally qualified health centers",
                "JW and JZ do not apply.",
                bills.source,
            )
        )
    return sites, tuple(excluded)


def _not_available(editor: Editor, matrix: tuple[MatrixRow, ...], asp: tuple[AspQuarter, ...]) -> tuple[str, ...]:
    missing = []
    for row in matrix:
        if not row.policy_sourced:
            missing.append(f"{row.display_name}: no sourced payer policy; only the national rules apply")
        for (requirement, _names), cell in zip(MATRIX, row.cells):
            if cell.text.startswith(NOT_AVAILABLE):
                missing.append(f"{row.display_name}, {requirement.lower()}: {cell.text[len(NOT_AVAILABLE) + 2 :]}")
    if not asp:
        missing.append("ASP payment limits: no CMS ASP pricing file is loaded (--asp-file)")
    for kind in editor.reference.not_loaded:
        option, _argument, what = OPTIONS[kind]
        if kind != "asp":
            missing.append(f"{what}: not loaded ({option})")
    return tuple(missing)


def publication(editor: Editor, as_of: dt.date, dose: int) -> Publication:
    facts = descriptive_facts()
    code = facts["billing_code"]
    matrix = _matrix(editor, as_of)
    asp = _asp_quarters(editor, dose)
    sites, excluded = _sites(facts, editor)
    return Publication(
        billing_code=Sourced(code["hcpcs"], f"{code['descriptor']}. {code['unit']}", code["source"], code["reviewed"]),
        clinical=tuple(Sourced(e["topic"], e["text"], e["source"], e.get("reviewed", "")) for e in facts["clinical"]),
        sites=sites,
        not_separately_payable=excluded,
        modifiers=_modifiers(editor, facts, as_of),
        matrix_headers=tuple(requirement for requirement, _ in MATRIX),
        matrix=matrix,
        asp_quarters=asp,
        fee_schedules=_fee_schedules(editor, dose),
        errors=_errors(editor, as_of),
        documentation=_documentation(editor, facts, as_of),
        not_available=_not_available(editor, matrix, asp),
    )
