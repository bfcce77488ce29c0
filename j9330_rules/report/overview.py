"""The national J9330 overview: every payer's policy, as the loaded plugins state it.

Nothing about a payer is written here. :func:`summarise` reads the Editor
(the registered payers, their merged policies, the specs, the reference data
and files loaded) into a structured model (:class:`Report`), and
:func:`render_markdown` / :func:`render_html` turn that model into a
document. Every fact carries the citation its spec, plugin or file gives.

The benchmark of the standard dose goes through the Editor's own benchmark
path: a synthetic one-line claim per payer is checked and its ``payment``
read, so the report shows exactly what ``check`` would.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
from attrs import define

from j9330_rules.editor import Editor
from j9330_rules.model import Result
from j9330_rules.refdata.reference import MUE_KIND_BY_FORM, OPTIONS, ReferenceData
from j9330_rules.report.publication import NOT_AVAILABLE, Publication, period_text, publication
from j9330_rules.rules.catalogue import catalogue
from j9330_rules.rules.policy import PayerPolicy
from j9330_rules.rules.specs import (
    REVIEW_MONTHS,
    CodeSet,
    Effective,
    Period,
    Rule,
    SeverityOverride,
    SourceDue,
    Spec,
    sources_due,
)

# --- what the report is about (layout, not policy) ---------------------------------------------

COVERED_SET = "covered_diagnoses"
AUTHORIZATION = ("prior_auth_required", "authorization_months")
MODIFIERS = ("jwjz_required", "requires_340b_flags", "tb_hospital_types")
UNIT_LIMITS = ("units_limit", "units_limit_days")
AGE = ("adults_only",)
REIMBURSEMENT = ("benchmark_basis",)
#: Parameters a payer section always shows (with the national default when the payer sets none).
TOPIC_PARAMETERS = (*AUTHORIZATION, *MODIFIERS, *UNIT_LIMITS, *AGE, *REIMBURSEMENT)
MUE_CODE = "UNITS_OVER_MUE"
PLUGIN_FAILED_CODE = "PLUGIN_FAILED"

LABELS = {
    "prior_auth_required": "Prior authorization required",
    "authorization_months": "Authorization period (months)",
    "jwjz_required": "JW/JZ required",
    "requires_340b_flags": "340B flag (JG/TB) required",
    "tb_hospital_types": "Hospital types that report TB (others JG)",
    "units_limit": "Unit limit",
    "units_limit_days": "Unit limit window (days)",
    "adults_only": "Adults only (18 or older)",
    "benchmark_basis": "Reimbursement basis",
}
#: How each ``benchmark_basis`` value pays, and which loaded file (refdata.OPTIONS key) prices it.
BASIS = {
    "asp": ("units × CMS ASP payment limit", "asp"),
    "fee_schedule": ("contract fee schedule", "fee_schedule"),
}

#: The standard dose: FDA label, Torisel (temsirolimus), 25 mg IV once weekly (rule NAT-DOSE-LABEL).
STANDARD_DOSE_MG = 25
#: Any covered indication serves: the benchmark does not depend on the diagnosis.
_BENCHMARK_DX = "C64.1"


# --- the model --------------------------------------------------------------------------------


@define(frozen=True)
class SpecRef:
    name: str
    version: str
    title: str
    applies_to: tuple[str, ...]
    origin: str
    sha256: str


@define(frozen=True)
class ParameterFact:
    """One period of a parameter as a spec states it, with where it sits in the payer's policy."""

    name: str
    period: Period
    ruleset: str
    default: bool  # stated by a spec for every payer (a national default)
    in_force: bool  # the period the payer's policy uses on the report's date

    value = property(lambda self: self.period.value)
    effective = property(lambda self: self.period.effective)
    source = property(lambda self: self.period.source)


@define(frozen=True)
class CodeSetFact:
    """A spec's code set, with the ruleset that states it."""

    code_set: CodeSet
    ruleset: str
    default: bool
    replaces: str | None = None  # the ruleset whose set of the same name this one replaces

    name = property(lambda self: self.code_set.name)
    field = property(lambda self: self.code_set.field)
    codes = property(lambda self: self.code_set.codes)
    source = property(lambda self: self.code_set.source)


@define(frozen=True)
class OverrideFact:
    """A spec's severity override, beside the catalogue severity it replaces."""

    override: SeverityOverride
    default_severity: str
    ruleset: str

    code = property(lambda self: self.override.code)
    severity = property(lambda self: self.override.severity)
    effective = property(lambda self: self.override.effective)
    source = property(lambda self: self.override.source)


@define(frozen=True)
class DataStatus:
    """Whether a piece of reference data is loaded; ``source`` names the file (or the plugin)."""

    what: str
    loaded: bool
    detail: str
    source: str = ""


@define(frozen=True)
class ReferenceFact:
    name: str
    value: Any
    source: str
    plugin: str


@define(frozen=True)
class Benchmark:
    """The allowed amount for the standard dose, or why there is none."""

    payer: str
    display_name: str
    units: int
    allowed: Decimal | None = None
    rate: Decimal | None = None
    basis: str = ""
    source: str = ""
    reason: str = ""


@define(frozen=True)
class NotProvided:
    what: str
    detail: str


@define(frozen=True)
class PayerSummary:
    name: str
    display_name: str
    plugin: str
    policy_sourced: bool
    note: str
    specs: tuple[SpecRef, ...]
    covered: CodeSetFact | None
    authorization: tuple[ParameterFact, ...]
    modifiers: tuple[ParameterFact, ...]
    overrides: tuple[OverrideFact, ...]
    unit_limits: tuple[ParameterFact, ...]
    mue_rules: tuple[Rule, ...]
    mue_tables: tuple[DataStatus, ...]
    age: tuple[ParameterFact, ...]
    reimbursement: tuple[ParameterFact, ...]
    reimbursement_data: tuple[DataStatus, ...]
    other_parameters: tuple[ParameterFact, ...]
    other_code_sets: tuple[CodeSetFact, ...]
    rules: tuple[Rule, ...]
    benchmark: Benchmark
    not_provided: tuple[NotProvided, ...]


@define(frozen=True)
class NationalSummary:
    specs: tuple[SpecRef, ...]
    parameters: tuple[ParameterFact, ...]
    code_sets: tuple[CodeSetFact, ...]
    overrides: tuple[OverrideFact, ...]
    rules: tuple[Rule, ...]
    reference: tuple[ReferenceFact, ...]
    files: tuple[DataStatus, ...]


@define(frozen=True)
class PluginRef:
    name: str
    version: str | None


@define(frozen=True)
class Report:
    as_of: dt.date
    standard_dose_mg: int
    plugins: tuple[PluginRef, ...]
    payers: tuple[PayerSummary, ...]
    national: NationalSummary
    failures: tuple[str, ...]
    #: Cited sources not read in the last REVIEW_MONTHS months (or never dated): policy upkeep.
    sources_due: tuple[SourceDue, ...] = ()
    #: The seed overview's sections: matrix, modifiers, benchmarks by quarter, errors, documentation.
    publication: Publication | None = None

    @property
    def benchmarks(self) -> tuple[Benchmark, ...]:
        return tuple(payer.benchmark for payer in self.payers)


# --- building the model -----------------------------------------------------------------------


def _spec_ref(spec: Spec) -> SpecRef:
    # The file name, not the path: the report is shared beyond the machine that built it.
    origin = re.split(r"[\\/]", spec.origin)[-1]
    return SpecRef(spec.name, spec.version, spec.title, spec.applies_to, origin, spec.sha256)


def _specific_first(policy: PayerPolicy) -> list[Spec]:
    """The policy's specs in merge order: payer-specific first, as ``policy.merge`` tries them."""
    return sorted(policy.specs, key=lambda spec: spec.general)


def _parameters(
    specs: Iterable[Spec], names: Iterable[str] | None, policy: PayerPolicy | None, as_of: dt.date
) -> list[ParameterFact]:
    """Every period of the named parameters (all when ``names`` is None), specific specs first."""
    specs = list(specs)
    wanted = list(names) if names is not None else sorted({n for s in specs for n in s.parameters})
    facts = []
    for name in wanted:
        in_force = None
        if policy is not None:
            in_force = policy.period_on(name, as_of)
        for spec in specs:
            for period in spec.parameters.get(name, ()):
                current = period is in_force if policy is not None else period.effective.contains(as_of)
                facts.append(ParameterFact(name, period, spec.name, spec.general, current))
    return facts


def _code_set(spec: Spec, name: str, replaces: str | None = None) -> CodeSetFact:
    return CodeSetFact(spec.code_sets[name], spec.name, spec.general, replaces)


def _overrides(specs: Iterable[Spec]) -> list[OverrideFact]:
    codes = catalogue()
    return [
        OverrideFact(o, codes[o.code].severity if o.code in codes else "", spec.name)
        for spec in specs
        for o in spec.severity_overrides
    ]


def basis_data(reference: ReferenceData, payer: str, basis: Any, as_of: dt.date) -> DataStatus:
    """Whether the file that prices ``basis`` is loaded for ``as_of``."""
    if basis not in BASIS:
        return DataStatus(f"data for basis {basis}", False, f"no loaded file is known to price basis {basis!r}")
    option, _argument, what = OPTIONS[BASIS[basis][1]]
    if basis == "asp":
        found = reference.asp_limit(as_of)
        if found is None:
            return DataStatus(
                what, False, f"no CMS ASP payment limit for J9330 covers {as_of}; load the quarter's file with {option}"
            )
        limit, file = found
        row = file.rows["J9330"]
        period = period_text(file.effective, file.quarter)
        return DataStatus(
            what, True, f"J9330 payment limit {limit} per {row.dosage or 'unit'}, in force {period}", file.path.name
        )
    fee = reference.fee_rate(payer, as_of)
    if fee is None:
        return DataStatus(
            what, False, f"no contract fee schedule rate for {payer} covers {as_of}; load one with {option}"
        )
    return DataStatus(
        what,
        True,
        f"{fee.rate_per_unit} per unit for {payer}, in force {period_text(fee.effective)}",
        fee.path.name,
    )


def _mue_tables(reference: ReferenceData, as_of: dt.date) -> list[DataStatus]:
    option, _argument, what = OPTIONS["mue"]
    statuses = []
    for form, kind in MUE_KIND_BY_FORM.items():
        setting = kind.replace("_", " ")
        found = reference.mue_for(form, as_of)
        if found is None:
            statuses.append(
                DataStatus(f"{what}, {setting} ({form} claims)", False, f"not loaded; load it with {option}")
            )
        else:
            row, table = found
            statuses.append(
                DataStatus(
                    f"{what}, {setting} ({form} claims)",
                    True,
                    f"J9330 MUE {row.value} (MAI {row.mai}), effective {table.effective_from or table.quarter or 'date unknown'}",
                    table.path.name,
                )
            )
    return statuses


def standard_claim(payer: str, day: dt.date, dose_mg: int = STANDARD_DOSE_MG) -> dict[str, Any]:
    """One J9330 line for the standard dose with JZ (the whole 25 mg kit used, nothing discarded)."""
    return {
        "claim_id": f"REPORT-BENCHMARK-{payer}",
        "payer": payer,
        "form": "professional",
        "place_of_service": "11",
        "diagnoses": [_BENCHMARK_DX],
        "lines": [
            {
                "line": 1,
                "hcpcs": "J9330",
                "modifiers": ["JZ"],
                "units": dose_mg,
                "service_date": day.isoformat(),
                "dose_mg": str(dose_mg),
                "dx_pointers": [1],
            },
        ],
    }


def _benchmark(editor: Editor, name: str, policy: PayerPolicy, as_of: dt.date, dose_mg: int) -> Benchmark:
    display = editor.payers[name].display_name
    try:
        result: Result = editor.check(standard_claim(name, as_of, dose_mg), as_of=as_of)
    except Exception as exc:  # the report must still render: say why there is no number
        return Benchmark(
            name, display, dose_mg, reason=f"the benchmark claim could not be checked ({type(exc).__name__})"
        )
    payment = result.payment
    if payment is not None:
        rate = payment.lines[0].rate if len(payment.lines) == 1 else None
        return Benchmark(name, display, dose_mg, payment.allowed, rate, payment.basis, payment.source)
    failed = [f.message for f in result.findings if f.code == PLUGIN_FAILED_CODE]
    if failed:
        return Benchmark(name, display, dose_mg, reason=failed[0])
    basis = policy.parameters_on(as_of).get("benchmark_basis")
    if basis is None:
        return Benchmark(name, display, dose_mg, reason="the payer's policy sets no benchmark_basis")
    status = basis_data(editor.reference, name, basis, as_of)
    reason = status.detail if not status.loaded else f"no plugin priced the claim (basis {basis})"
    return Benchmark(name, display, dose_mg, basis=BASIS.get(basis, (str(basis),))[0], reason=reason)


def _payer(editor: Editor, name: str, as_of: dt.date, dose_mg: int) -> PayerSummary:
    payer = editor.payers[name]
    policy = editor.policies[name]
    specs = _specific_first(policy)
    specific = [s for s in specs if not s.general]

    def topic(names: Sequence[str]) -> tuple[ParameterFact, ...]:
        return tuple(_parameters(specs, [n for n in names if n in policy.parameters], policy, as_of))

    covered = None
    for spec in specs:
        if COVERED_SET in spec.code_sets:
            covered = _code_set(spec, COVERED_SET)
            break
    other_code_sets = []
    for spec in specific:
        for set_name in sorted(spec.code_sets):
            if set_name == COVERED_SET:
                continue
            shadowed = next((s.name for s in specs if s.general and set_name in s.code_sets), None)
            other_code_sets.append(_code_set(spec, set_name, shadowed))
    other_names = sorted({n for s in specific for n in s.parameters} - set(TOPIC_PARAMETERS))

    mue_rules = tuple(r for r in policy.rules if r.code == MUE_CODE)
    mue_tables = tuple(_mue_tables(editor.reference, as_of)) if mue_rules else ()
    basis = policy.parameters_on(as_of).get("benchmark_basis")
    reimbursement_data = (basis_data(editor.reference, name, basis, as_of),) if basis is not None else ()
    general_rulesets = {s.name for s in specs if s.general}

    missing = []
    if not payer.policy_sourced:
        missing.append(
            NotProvided("Sourced payer policy", f"not provided: {payer.note or 'no note given by the plugin'}")
        )
    if covered is None:
        missing.append(
            NotProvided("Covered indications", "not restricted by a sourced policy (no covered_diagnoses code set)")
        )
    for status in (*reimbursement_data, *mue_tables):
        if not status.loaded:
            missing.append(NotProvided(status.what, status.detail))
    for failure in editor.registry.failures:
        if failure.concerns(name):
            missing.append(NotProvided(f"Plugin {failure.plugin}", f"failed while {failure.stage}: {failure.error}"))

    return PayerSummary(
        name=name,
        display_name=payer.display_name,
        plugin=editor.registry.payer_plugins.get(name, ""),
        policy_sourced=payer.policy_sourced,
        note=payer.note,
        specs=tuple(_spec_ref(s) for s in specific),
        covered=covered,
        authorization=topic(AUTHORIZATION),
        modifiers=topic(MODIFIERS),
        overrides=tuple(_overrides(specs)),
        unit_limits=topic(UNIT_LIMITS),
        mue_rules=mue_rules,
        mue_tables=mue_tables,
        age=topic(AGE),
        reimbursement=topic(REIMBURSEMENT),
        reimbursement_data=reimbursement_data,
        other_parameters=tuple(_parameters(specific, other_names, policy, as_of)),
        other_code_sets=tuple(other_code_sets),
        rules=tuple(r for r in policy.rules if r.ruleset not in general_rulesets),
        benchmark=_benchmark(editor, name, policy, as_of, dose_mg),
        not_provided=tuple(missing),
    )


def _files(reference: ReferenceData) -> list[DataStatus]:
    files = []
    for asp in reference.asp:
        row = asp.rows.get("J9330")
        detail = (
            f"J9330 payment limit {row.payment_limit} per {row.dosage}"
            if row and row.payment_limit is not None
            else "no J9330 payment limit"
        )
        files.append(
            DataStatus(
                f"CMS ASP payment limit file, {period_text(asp.effective, asp.quarter)}",
                True,
                detail,
                asp.path.name,
            )
        )
    for crosswalk in reference.crosswalks:
        rows = [r for r in crosswalk.entries if r.hcpcs == "J9330"]
        detail = "; ".join(f"{r.ndc} {r.drug_name}: {r.bill_units_pkg} units/package" for r in rows) or "no J9330 NDCs"
        period = period_text(crosswalk.effective, crosswalk.quarter)
        files.append(DataStatus(f"CMS ASP NDC-HCPCS crosswalk, {period}", True, detail, crosswalk.path.name))
    for table in reference.mue:
        row = table.rows.get("J9330")
        detail = f"J9330 MUE {row.value} (MAI {row.mai})" if row else "no J9330 MUE"
        what = f"CMS MUE table, {table.kind.replace('_', ' ')}, effective {table.effective_from or table.quarter or 'date unknown'}"
        files.append(DataStatus(what, True, detail, table.path.name))
    for fee in reference.fees:
        period = period_text(fee.effective)
        files.append(
            DataStatus(
                f"contract fee schedule, {fee.payer}, {period}", True, f"{fee.rate_per_unit} per unit", fee.path.name
            )
        )
    for kind in reference.not_loaded:
        option, argument, what = OPTIONS[kind]
        files.append(DataStatus(what, False, f"not loaded; load it with {option} (Editor({argument}=...))"))
    return files


def _national(editor: Editor, as_of: dt.date) -> NationalSummary:
    general = [s for s in editor.registry.specs if s.general]
    code_sets = [_code_set(s, n) for s in general for n in sorted(s.code_sets)]
    return NationalSummary(
        specs=tuple(_spec_ref(s) for s in general),
        parameters=tuple(_parameters(general, None, None, as_of)),
        code_sets=tuple(code_sets),
        overrides=tuple(_overrides(general)),
        rules=tuple(r for s in general for r in s.rules),
        reference=tuple(ReferenceFact(i.name, i.value, i.source, i.plugin) for i in editor.reference.items.values()),
        files=tuple(_files(editor.reference)),
    )


def summarise(editor: Editor, as_of: dt.date | None = None, *, dose_mg: int = STANDARD_DOSE_MG) -> Report:
    """The report's model: every registered payer (by name) and the national rules, on ``as_of``."""
    as_of = as_of or dt.date.today()
    registry = editor.registry
    return Report(
        as_of=as_of,
        standard_dose_mg=dose_mg,
        plugins=tuple(PluginRef(p.name, p.version) for p in registry.plugins()),
        payers=tuple(_payer(editor, name, as_of, dose_mg) for name in sorted(editor.payers)),
        national=_national(editor, as_of),
        failures=tuple(f"plugin {f.plugin} failed while {f.stage}: {f.error}" for f in registry.failures),
        sources_due=tuple(sources_due(registry.specs, as_of)),
        publication=publication(editor, as_of, dose_mg),
    )


# --- a small document model shared by both renderers ------------------------------------------


@define(frozen=True)
class Code:
    text: str


Inline = str | Code | tuple  # a tuple of Inlines is concatenated


@define(frozen=True)
class Heading:
    level: int
    text: Inline
    anchor: str = ""


@define(frozen=True)
class Para:
    text: Inline


@define(frozen=True)
class Bullets:
    items: tuple[Inline, ...]


@define(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]


@define(frozen=True)
class Chart:
    benchmarks: tuple[Benchmark, ...]
    title: str
    axis_label: str = "Allowed amount (US dollars)"


def _join(items: Iterable[Inline], sep: str = ", ") -> tuple:
    out: list[Inline] = []
    for item in items:
        if out:
            out.append(sep)
        out.append(item)
    return tuple(out)


def value_inline(value: Any) -> Inline:
    """A spec value as the report shows it: booleans and numbers as YAML writes them, lists item by item."""
    if isinstance(value, bool):
        return Code("true" if value else "false")
    if isinstance(value, (list, tuple)):
        return _join(Code(str(v)) for v in value) if value else "(none)"
    return Code(str(value))


def effective_text(effective: Effective) -> str:
    return effective.describe(always="always (no dates)")


def money(amount: Decimal) -> str:
    """US dollars to the cent, with thousands separators: $1,053.43."""
    return f"${amount:,.2f}"


def rate(amount: Decimal) -> str:
    """A rate per unit as published, every digit kept: $42.137 (a payment limit has three decimals)."""
    return f"${amount:,}"


def _parameter_rows(
    facts: Iterable[ParameterFact], as_of: dt.date, *, national: bool
) -> tuple[tuple[Inline, ...], ...]:
    rows = []
    for fact in facts:
        label = LABELS.get(fact.name)
        name: Inline = (label + " (", Code(fact.name), ")") if label else Code(fact.name)
        value = value_inline(fact.value)
        if fact.name == "benchmark_basis" and fact.value in BASIS:
            value = (value, f": {BASIS[fact.value][0]}")
        stated = fact.ruleset
        if fact.default and not national:
            stated += " (national default)"
        rows.append(
            (name, value, effective_text(fact.effective), stated, "yes" if fact.in_force else "no", fact.source)
        )
    return tuple(rows)


def _parameter_table(facts: Sequence[ParameterFact], as_of: dt.date, *, national: bool = False) -> Table:
    return Table(
        ("Parameter", "Value", "Effective", "Stated by", f"In force {as_of}", "Source"),
        _parameter_rows(facts, as_of, national=national),
    )


def _code_set_table(sets: Sequence[CodeSetFact]) -> Table:
    rows = []
    for s in sets:
        stated = s.ruleset + (f" (replaces the {s.replaces} set of the same name)" if s.replaces else "")
        rows.append((Code(s.name), s.field, _join(Code(c) for c in s.codes), stated, s.source))
    return Table(("Code set", "Field", "Codes", "Stated by", "Source"), tuple(rows))


def _rule_table(rules: Sequence[Rule]) -> Table:
    return Table(
        ("Rule", "Code", "Severity", "Effective from", "Effective to", "Ruleset", "Source"),
        tuple(
            (
                Code(r.id),
                Code(r.code),
                r.severity,
                str(r.effective.effective_from or "-"),
                str(r.effective.effective_to or "open"),
                r.ruleset,
                r.source,
            )
            for r in rules
        ),
    )


def _override_table(overrides: Sequence[OverrideFact]) -> Table:
    return Table(
        ("Edit code", "Severity", "Catalogue severity", "Effective", "Stated by", "Source"),
        tuple(
            (Code(o.code), o.severity, o.default_severity or "-", effective_text(o.effective), o.ruleset, o.source)
            for o in overrides
        ),
    )


def _status_table(statuses: Sequence[DataStatus]) -> Table:
    return Table(
        ("Data", "Loaded", "Detail", "Source"),
        tuple((s.what, "yes" if s.loaded else "no", s.detail, s.source or "-") for s in statuses),
    )


def _benchmark_table(benchmarks: Sequence[Benchmark]) -> Table:
    rows = []
    for b in benchmarks:
        if b.allowed is None:
            rows.append((b.display_name, f"no benchmark: {b.reason}", "-", b.basis or "-", "-"))
        else:
            rate = str(b.rate) if b.rate is not None else "-"
            rows.append((b.display_name, money(b.allowed), rate, b.basis, b.source))
    return Table(("Payer", "Allowed", "Rate per unit", "Basis", "Source"), tuple(rows))


def anchor(name: str) -> str:
    return "payer-" + re.sub(r"[^a-z0-9_-]", "-", name.lower())


def _payer_blocks(p: PayerSummary, as_of: dt.date) -> list:
    blocks: list = [Heading(2, (p.display_name + " (", Code(p.name), ")"), anchor(p.name))]
    specs = (
        _join((Code(s.name), f" {s.version} ({s.title}; {s.origin})") for s in p.specs)
        if p.specs
        else "none (national rules only)"
    )
    policy = "sourced" if p.policy_sourced else "not provided"
    facts = [
        ("Display name: ", p.display_name, " (declared by plugin ", Code(p.plugin), ")"),
        ("Policy: ", policy, (f": {p.note}" if p.note else ""), " (declared by plugin ", Code(p.plugin), ")"),
        ("Payer specs: ", specs),
    ]
    blocks.append(Bullets(tuple(facts)))

    blocks.append(Heading(3, "Covered indications"))
    if p.covered is None:
        blocks.append(
            Para(
                "Not restricted by a sourced policy: no covered_diagnoses code set applies to this payer, so the national diagnosis-coverage rule does not restrict it."
            )
        )
    else:
        blocks.append(_code_set_table([p.covered]))

    blocks.append(Heading(3, "Authorization"))
    blocks.append(
        _parameter_table(p.authorization, as_of)
        if p.authorization
        else Para("No authorization parameter is set by the loaded specs.")
    )

    blocks.append(Heading(3, "Modifier requirements"))
    if p.modifiers:
        blocks.append(_parameter_table(p.modifiers, as_of))
    if p.overrides:
        blocks.append(Para("Severity overrides:"))
        blocks.append(_override_table(p.overrides))
    else:
        blocks.append(Para("No severity overrides."))

    blocks.append(Heading(3, "Unit limits"))
    if p.unit_limits:
        blocks.append(_parameter_table(p.unit_limits, as_of))
    else:
        blocks.append(
            Para(
                (
                    "No payer unit limit is set by the loaded specs (",
                    Code("units_limit"),
                    ", ",
                    Code("units_limit_days"),
                    ").",
                )
            )
        )
    if p.mue_rules:
        blocks.append(Para("Medically Unlikely Edit rules, with the MUE tables they read:"))
        blocks.append(_rule_table(p.mue_rules))
        blocks.append(_status_table(p.mue_tables))

    blocks.append(Heading(3, "Age criteria"))
    blocks.append(_parameter_table(p.age, as_of) if p.age else Para("No age criterion is set by the loaded specs."))

    blocks.append(Heading(3, "Reimbursement basis"))
    if p.reimbursement:
        blocks.append(_parameter_table(p.reimbursement, as_of))
    else:
        blocks.append(Para("No benchmark basis is set by the loaded specs."))
    if p.reimbursement_data:
        blocks.append(_status_table(p.reimbursement_data))
    b = p.benchmark
    if b.allowed is not None:
        blocks.append(
            Para(
                (
                    f"Benchmark for {b.units} mg ({b.units} units, JZ) on {as_of}: {money(b.allowed)} ({b.basis}; {b.source}).",
                )
            )
        )
    else:
        blocks.append(Para(f"No benchmark for {b.units} mg on {as_of}: {b.reason}."))

    if p.other_parameters or p.other_code_sets:
        blocks.append(Heading(3, "Other payer parameters and code sets"))
        if p.other_parameters:
            blocks.append(_parameter_table(p.other_parameters, as_of))
        if p.other_code_sets:
            blocks.append(_code_set_table(p.other_code_sets))

    blocks.append(Heading(3, "Payer-specific rules"))
    blocks.append(
        _rule_table(p.rules) if p.rules else Para("None: the national rules apply, steered by the parameters above.")
    )

    blocks.append(Heading(3, "Not provided"))
    if p.not_provided:
        blocks.append(Bullets(tuple((m.what, ": ", m.detail) for m in p.not_provided)))
    else:
        blocks.append(Para("Nothing: the policy is sourced and the reference data it needs is loaded."))
    return blocks


def _names(rows, test) -> str:
    names = [row.display_name for row in rows if test(row)]
    return ", ".join(names) if names else "none"


def _matrix_says(row, requirement: str) -> str:
    from j9330_rules.report.publication import MATRIX

    index = [name for name, _ in MATRIX].index(requirement)
    return row.cells[index].text if row.cells[index].stated else ""


def _summary_blocks(report: Report) -> list:
    pub = report.publication
    matrix = pub.matrix
    priced = [b for b in report.benchmarks if b.allowed is not None]
    unpriced = [b for b in report.benchmarks if b.allowed is None]
    loaded = [s for s in report.national.files if s.loaded]
    items: list[Inline] = [
        f"Payers: {len(matrix)}, {sum(r.policy_sourced for r in matrix)} with a sourced policy "
        f"({_names(matrix, lambda r: r.policy_sourced)}).",
        "Prior authorization required by: "
        + _names(matrix, lambda r: _matrix_says(r, "Prior authorization").startswith("required"))
        + ".",
        "JW/JZ required by: " + _names(matrix, lambda r: _matrix_says(r, "JW/JZ") == "required") + ".",
        "340B flag (JG/TB) required by: "
        + _names(matrix, lambda r: _matrix_says(r, "340B flag (JG/TB)").startswith("required"))
        + ".",
        f"Benchmark for the standard {report.standard_dose_mg} mg dose: "
        + (", ".join(f"{b.display_name} {money(b.allowed)}" for b in priced) or NOT_AVAILABLE)
        + (f"; {NOT_AVAILABLE} for {', '.join(b.display_name for b in unpriced)}" if priced and unpriced else "")
        + ".",
        "Reference files loaded: " + (", ".join(f"{s.what} ({s.source})" for s in loaded) or "none") + ".",
    ]
    if pub.not_available:
        items.append(f"{len(pub.not_available)} items of data are not available: see Data not available.")
    return [
        Heading(2, "1. Summary and overview", "summary"),
        Para(
            "J9330 is billed for temsirolimus (Torisel), an intravenous kinase inhibitor given weekly for "
            "advanced renal cell carcinoma. This overview states, for each loaded payer, what a J9330 "
            "claim must show, how it is priced, and the billing errors the editor checks, on the date above."
        ),
        Bullets(tuple(items)),
    ]


def _billing_code_blocks(report: Report) -> list:
    pub = report.publication
    code = pub.billing_code
    kit = next((i for i in report.national.reference if i.name == "kit_mg"), None)
    ndcs = next((i for i in report.national.reference if i.name == "temsirolimus_ndcs"), None)
    rows: list[tuple[Inline, ...]] = [(Code(code.topic), code.text, code.source)]
    if kit is not None:
        rows.append(("Kit", f"{kit.value} mg labeled contents: one kit is {kit.value} billing units.", kit.source))
    if ndcs is not None:
        rows.append(("NDCs (bundled)", value_inline(ndcs.value), ndcs.source))
    return [
        Heading(2, "2. Billing code overview", "billing-code"),
        Table(("Item", "What it is", "Source"), tuple(rows)),
        Heading(3, "Sites of service"),
        Table(
            ("Place of service", "Setting", "How it is billed", "Source"),
            tuple((Code(site.code), site.name, site.billing, site.source) for site in pub.sites),
        ),
        Table(
            ("Codes", "Setting", "What the rules do", "Source"),
            tuple((Code(site.code), site.name, site.billing, site.source) for site in pub.not_separately_payable),
        ),
    ]


def _clinical_blocks(report: Report) -> list:
    pub = report.publication

    def payers(names: tuple[str, ...]) -> str:
        return ", ".join(names) if names else "none"

    modifier_rows = []
    for m in pub.modifiers:
        if m.parameter:
            required = f"required: {payers(m.required_by)}; not required: {payers(m.not_required_by)}"
            by = (required, " (", Code(m.parameter), ")")
        else:
            by = "accepted on drug lines for every payer (accepted_drug_modifiers)"
        modifier_rows.append((Code(m.modifier), m.description, m.when, by, m.source))
    return [
        Heading(2, "3. Clinical and coding specifications", "clinical"),
        Heading(3, "Clinical context"),
        Table(("Topic", "What the label says", "Source"), tuple((c.topic, c.text, c.source) for c in pub.clinical)),
        Heading(3, "Modifiers"),
        Para(
            "Description is the HCPCS descriptor; which payers require the modifier on "
            f"{report.as_of} is read from their specs."
        ),
        Table(("Modifier", "Description", "When to use", "Payers", "Source"), tuple(modifier_rows)),
    ]


def _matrix_blocks(report: Report) -> list:
    pub = report.publication
    rows = []
    for row in pub.matrix:
        cells = tuple(cell.text for cell in row.cells)
        rows.append(((row.display_name, " (", Code(row.payer), ")"), *cells))
    sources = []
    for row in pub.matrix:
        for header, cell in zip(pub.matrix_headers, row.cells):
            if cell.stated and cell.source:
                sources.append((row.display_name, header, cell.source))
    return [
        Heading(2, "4. Payer coverage patterns", "matrix"),
        Para(
            f"What each payer's loaded policy requires on {report.as_of}. \"not stated\" means the payer's "
            "spec sets nothing for it, so the editor does not enforce it for that payer; "
            f'"{NOT_AVAILABLE}" means no source gives it.'
        ),
        Table(("Payer", *pub.matrix_headers), tuple(rows)),
        Heading(3, "Sources of the matrix"),
        Table(("Payer", "Requirement", "Source"), tuple(sources)),
    ]


def _reimbursement_blocks(report: Report) -> list:
    pub = report.publication
    dose = report.standard_dose_mg
    blocks: list = [
        Heading(2, "5. Reimbursement benchmarks", "benchmark"),
        Para(
            f"Allowed amount for one {dose} mg J9330 line ({dose} units, JZ) on {report.as_of}, "
            "as the editor's benchmark computes it for each payer from the files loaded."
        ),
        Chart(
            report.benchmarks,
            f"Allowed amount for {dose} mg J9330 on {report.as_of}",
            f"Allowed amount for {dose} units (US dollars)",
        ),
        _benchmark_table(report.benchmarks),
        Heading(3, "CMS ASP payment limit by quarter"),
    ]
    if pub.asp_quarters:
        blocks.append(
            Table(
                ("Quarter", "J9330 payment limit", "Per", f"{dose} units", "File"),
                tuple(
                    (
                        q.period,
                        rate(q.limit) if q.limit is not None else NOT_AVAILABLE,
                        q.dosage or "-",
                        money(q.standard_dose_allowed) if q.standard_dose_allowed is not None else "-",
                        q.file,
                    )
                    for q in pub.asp_quarters
                ),
            )
        )
    else:
        blocks.append(Para(f"{NOT_AVAILABLE}: no CMS ASP pricing file is loaded (--asp-file, one per quarter)."))
    blocks.append(Heading(3, "Contract fee schedules"))
    if pub.fee_schedules:
        blocks.append(
            Table(
                ("Payer", "Rate per unit", "Effective", f"{dose} units", "File"),
                tuple(
                    (Code(f.payer), rate(f.rate), f.period, money(f.standard_dose_allowed), f.file)
                    for f in pub.fee_schedules
                ),
            )
        )
    else:
        blocks.append(Para(f"{NOT_AVAILABLE}: no contract fee schedule is loaded (--fee-schedule)."))
    return blocks


def _errors_blocks(report: Report) -> list:
    pub = report.publication
    total = len(report.payers)
    rows = tuple(
        (
            Code(e.code),
            e.severity,
            " / ".join(c for c in (e.carc and f"CARC {e.carc}", e.rarc and f"RARC {e.rarc}") if c) or "-",
            e.meaning,
            "all payers" if len(e.payers) == total else ", ".join(e.payers),
        )
        for e in pub.errors
    )
    return [
        Heading(2, "6. Common billing errors", "errors"),
        Para(
            "The billing errors the editor checks, from the edit catalogue, most severe first "
            "(reject and deny block a claim; warn does not), with the payers whose rules raise each "
            f"on {report.as_of}."
        ),
        Table(("Edit code", "Severity", "CARC/RARC", "The error", "Raised for"), rows),
    ]


def _documentation_blocks(report: Report) -> list:
    pub = report.publication
    return [
        Heading(2, "7. Documentation requirements", "documentation"),
        Table(("What", "Requirement", "Source"), tuple((d.what, d.text, d.source) for d in pub.documentation)),
    ]


def _not_available_blocks(report: Report) -> list:
    pub = report.publication
    return [
        Heading(2, "8. Data not available", "not-available"),
        Bullets(tuple(pub.not_available))
        if pub.not_available
        else Para("Every payer has a sourced policy and every reference file is loaded."),
    ]


def document(report: Report) -> list:
    """The report as blocks; both renderers draw these."""
    plugins = _join((Code(p.name), f" {p.version or '-'}") for p in report.plugins)
    blocks: list = [
        Heading(1, "J9330 (temsirolimus, 1 mg): national payer overview"),
        Para(
            (
                f"As of {report.as_of}. Generated from the loaded plugins: ",
                plugins,
                ". Every fact cites the source its spec, plugin or reference file gives.",
            )
        ),
        *_summary_blocks(report),
        *_billing_code_blocks(report),
        *_clinical_blocks(report),
        *_matrix_blocks(report),
        *_reimbursement_blocks(report),
        *_errors_blocks(report),
        *_documentation_blocks(report),
        *_not_available_blocks(report),
        Heading(2, "Payer policies in detail", "payers"),
        Para(
            "Each payer's rulesets, parameters, code sets and rules as its specs state them. A parameter "
            'marked "national default" is one the payer\'s spec does not set for every date: the national '
            "ruleset's value fills the dates the payer's own periods do not cover."
        ),
    ]
    for payer in report.payers:
        blocks.extend(_payer_blocks(payer, report.as_of))

    n = report.national
    blocks.append(Heading(2, "National rules (every payer)", "national"))
    blocks.append(Bullets(tuple((Code(s.name), f" {s.version}: {s.title} ({s.origin})") for s in n.specs)))
    blocks.append(Heading(3, "National parameters (defaults)"))
    blocks.append(_parameter_table(n.parameters, report.as_of, national=True))
    blocks.append(Heading(3, "National code sets"))
    blocks.append(_code_set_table(n.code_sets))
    if n.overrides:
        blocks.append(Heading(3, "National severity overrides"))
        blocks.append(_override_table(n.overrides))
    blocks.append(Heading(3, "National rules"))
    blocks.append(_rule_table(n.rules))
    blocks.append(Heading(3, "Bundled reference data"))
    blocks.append(
        Table(
            ("Item", "Value", "Source", "Plugin"),
            tuple((Code(i.name), value_inline(i.value), i.source, i.plugin) for i in n.reference),
        )
    )
    blocks.append(Heading(3, "Reference files loaded"))
    blocks.append(_status_table(n.files))
    blocks.append(Heading(2, "Sources due for review", "sources-due"))
    if report.sources_due:
        blocks.append(
            Para(
                f"{len(report.sources_due)} cited sources were not read in the {REVIEW_MONTHS} months "
                f"before {report.as_of}, or carry no review date: re-read each and update its spec "
                "(docs/policy-upkeep.md)."
            )
        )
        blocks.append(
            Table(
                ("Ruleset", "Item", "Last read", "Source"),
                tuple(
                    (Code(d.ruleset), d.item, str(d.reviewed) if d.reviewed else "never dated", d.source)
                    for d in report.sources_due
                ),
            )
        )
    else:
        blocks.append(Para(f"Every cited source was read in the {REVIEW_MONTHS} months before {report.as_of}."))
    if report.failures:
        blocks.append(Heading(2, "Plugin failures", "failures"))
        blocks.append(Bullets(tuple(report.failures)))
    return blocks


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|&])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", text))


def _md_code(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def _md_inline(item: Inline, *, in_table: bool = False) -> str:
    if isinstance(item, Code):
        code = _md_code(item.text)
        return code.replace("|", "\\|") if in_table else code
    if isinstance(item, tuple):
        return "".join(_md_inline(part, in_table=in_table) for part in item)
    return _md_text(str(item))


def render_markdown(report: Report) -> str:
    out: list[str] = []
    for block in document(report):
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + _md_inline(block.text))
        elif isinstance(block, Para):
            out.append(_md_inline(block.text))
        elif isinstance(block, Bullets):
            out.append("\n".join("- " + _md_inline(item) for item in block.items))
        elif isinstance(block, Table):
            lines = ["| " + " | ".join(_md_text(h) for h in block.headers) + " |", "|" + "---|" * len(block.headers)]
            lines += ["| " + " | ".join(_md_inline(cell, in_table=True) for cell in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        # Chart: the benchmark table beside it carries the same numbers in Markdown.
    return "\n\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------------


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_inline(item: Inline) -> str:
    if isinstance(item, Code):
        return f"<code>{_h(item.text)}</code>"
    if isinstance(item, tuple):
        return "".join(_html_inline(part) for part in item)
    return _h(item)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #1b1b1b; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #d0d7de; padding-bottom: .2rem; margin-top: 2.2rem; } h3 { margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .88rem; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .3rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
code { background: #f3f5f7; padding: 0 .2rem; border-radius: 3px; font-size: .92em; }
nav ul { columns: 3; }
.chart { max-width: 100%; height: auto; }
.chart .bar { fill: #3c6e9f; } .chart text { font-size: 13px; fill: #1b1b1b; }
.chart .axis { stroke: #1b1b1b; } .chart .grid { stroke: #d0d7de; } .chart .tick { font-size: 11px; fill: #555; }
.chart .axis-label { font-size: 12px; }
.none { color: #8a4b00; }
"""


def axis_ticks(top: Decimal, count: int = 5) -> list[Decimal]:
    """Round tick values from 0 past ``top``: steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [Decimal(0)]
    raw = top / count
    power = Decimal(10) ** (len(str(int(raw))) - 1) if raw >= 1 else Decimal("0.01")
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    ticks = [Decimal(0)]
    while ticks[-1] < top:
        ticks.append(ticks[-1] + step)
    return ticks


def _tick_label(amount: Decimal) -> str:
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else money(amount)


def _svg_chart(chart: Chart) -> str:
    """A horizontal bar chart: payers on the y axis, the allowed amount in US dollars on the x axis."""
    priced = [b for b in chart.benchmarks if b.allowed is not None]
    unpriced = [b for b in chart.benchmarks if b.allowed is None]
    longest = max((len(b.display_name) for b in priced), default=0)
    label_w = min(max(160, longest * 7 + 24), 480)  # ~7 px a character at 13 px
    bar_w, value_w, row_h, top, axis_h = 420, 110, 30, 10, 48
    width = label_w + bar_w + value_w
    height = top + row_h * max(len(priced), 1) + axis_h
    ticks = axis_ticks(max((b.allowed for b in priced), default=Decimal(0)))
    scale_top = ticks[-1]
    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" aria-label="{_h(chart.title)}">',
        f"<title>{_h(chart.title)}</title>",
    ]
    if not priced:
        parts.append(f'<text x="0" y="{top + 20}">No payer has a loaded price on this date: {NOT_AVAILABLE}.</text>')
    else:
        base = top + row_h * len(priced)
        for tick in ticks:
            x = label_w + (float(tick / scale_top * bar_w) if scale_top > 0 else 0.0)
            parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}"/>')
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="middle">{_h(_tick_label(tick))}</text>'
            )
        parts.append(f'<line class="axis" x1="{label_w}" y1="{base}" x2="{label_w + bar_w}" y2="{base}"/>')
        parts.append(f'<line class="axis" x1="{label_w}" y1="{top}" x2="{label_w}" y2="{base}"/>')
        parts.append(
            f'<text class="axis-label" x="{label_w + bar_w / 2:.0f}" y="{base + 38}" text-anchor="middle">'
            f"{_h(chart.axis_label)}</text>"
        )
        for index, b in enumerate(priced):
            y = top + index * row_h
            length = float(b.allowed / scale_top * bar_w) if scale_top > 0 else 0.0
            parts.append(f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end">{_h(b.display_name)}</text>')
            parts.append(
                f'<rect class="bar" data-payer="{_h(b.payer)}" x="{label_w}" y="{y + 4}" width="{length:.1f}" height="{row_h - 8}">'
                f"<title>{_h(b.display_name)}: {_h(money(b.allowed))} ({_h(b.basis)}; {_h(b.source)})</title></rect>"
            )
            parts.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 19}">{_h(money(b.allowed))}</text>')
    parts.append("</svg>")
    if unpriced:
        items = "".join(f'<li class="none">{_h(b.display_name)}: no benchmark: {_h(b.reason)}</li>' for b in unpriced)
        parts.append(f"<ul>{items}</ul>")
    return f"<figure>{''.join(parts)}<figcaption>{_h(chart.title)}</figcaption></figure>"


def render_html(report: Report) -> str:
    blocks = document(report)
    body: list[str] = []
    toc = [(b.anchor, b.text) for b in blocks if isinstance(b, Heading) and b.level == 2 and b.anchor]
    for block in blocks:
        if isinstance(block, Heading):
            ident = f' id="{_h(block.anchor)}"' if block.anchor else ""
            body.append(f"<h{block.level}{ident}>{_html_inline(block.text)}</h{block.level}>")
            if block.level == 1:
                body.append(
                    "<nav><ul>"
                    + "".join(f'<li><a href="#{_h(a)}">{_html_inline(t)}</a></li>' for a, t in toc)
                    + "</ul></nav>"
                )
        elif isinstance(block, Para):
            body.append(f"<p>{_html_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_html_inline(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_h(h)}</th>" for h in block.headers)
            rows = "".join("<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Chart):
            body.append(_svg_chart(block))
    title = f"J9330 national payer overview, {report.as_of}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_h(title)}</title>'
        f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# --- JSON -------------------------------------------------------------------------------------


def _json_value(_instance: Any, _field: Any, value: Any) -> Any:
    if isinstance(value, (dt.date, Decimal)):
        return str(value)
    if isinstance(value, Mapping) and not isinstance(value, dict):
        return dict(value)
    return value


def render_json(report: Report) -> str:
    """The report's model as JSON: the same facts as the HTML and Markdown, for programs.
    Money and dates are strings (``"1053.43"``, ``"2026-03-02"``), as in the results."""
    data = attrs.asdict(report, value_serializer=_json_value)
    return json.dumps({"schema": "j9330-rules/report/1", **data}, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"md": render_markdown, "html": render_html, "json": render_json}


def render(report: Report, fmt: str = "md") -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown report format {fmt!r} ({', '.join(RENDERERS)})")
    return RENDERERS[fmt](report)
