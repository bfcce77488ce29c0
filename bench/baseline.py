"""The hand-written baseline: the national and Medicare rules as plain Python, over the same facts.

What it covers, precisely: the 39 rules of specs/national.yaml and the 3 of specs/medicare.yaml
as they stand in version 2026.12.1, written out by hand below (conditions and effective dates).
That is every rule any built-in payer runs today: Medicare runs all 42; Aetna, BCBS, Cigna, UHC
and Florida Blue add no rules of their own and run the 39 national ones. Their payer-specific parameters and
code sets reach the rules as facts (``jwjz_required``, ``in_covered_diagnoses``...), so the
same hand-written predicates serve every payer.

It is what a programmer would write with no engine at all: Python truth (``is False``,
``==``, ``>``) on the facts FactBuilder makes, no JSON, no defensive copies, no duplicate-id or
session checks, one firing per matching rule and fact. bench/run.py checks, before timing it,
that it fires exactly what the compiled engine fires on the benchmark's claims, and prints any
rule whose spec changed since this file was written (it is then left out of the baseline).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from j9330_rules.engines.durable import Firing
from j9330_rules.rules.specs import Rule

Fact = dict[str, Any]
ALWAYS = 20080101
JW_POLICY = 20170101
JWJZ_2023 = 20230101
FLAGS_340B = 20240101
ICD10_CM = 20151001


def _outside_inpatient(f: Fact) -> bool:
    return f.get("in_inpatient_places") is False and f.get("in_inpatient_bills") is False


def _waste_scope(f: Fact) -> bool:
    """JW/JZ apply outside an inpatient stay and RHC/FQHC claims."""
    return _outside_inpatient(f) and f.get("in_rhc_fqhc_bills") is False


def _rcc_not_covered(f: Fact) -> bool:
    return (
        f.get("metastatic_rcc_covered") is False
        or f.get("in_secondary_neoplasms") is False
        or f.get("in_kidney_cancer_on_claim") is False
    )


# (rule id, fact kind, effective from, effective to, predicate): the specs, by hand.
RULES: list[tuple[str, str, int, int | None, Callable[[Fact], bool]]] = [
    ("NAT-UNITS-INVALID", "line", ALWAYS, None, lambda f: f.get("units_valid") is False),
    ("NAT-UNITS-DOSE", "line", ALWAYS, None, lambda f: f.get("dose_matches") is False),
    ("NAT-DOSE-LABEL", "date", ALWAYS, None, lambda f: f.get("administered_mg", 0) > 25),
    (
        "NAT-DOSE-MAX",
        "date",
        ALWAYS,
        None,
        lambda f: f.get("administered_mg", 0) > 50 and f.get("in_mantle_cell_lymphoma") is False,
    ),
    (
        "NAT-WASTE-KITS",
        "date",
        JW_POLICY,
        None,
        lambda f: f.get("units_valid") is True and f.get("has_jw_line") is True and f.get("fills_whole_kits") is False,
    ),
    (
        "NAT-WASTE-UNOPENED",
        "date",
        JW_POLICY,
        None,
        lambda f: (
            f.get("units_valid") is True and f.get("has_jw_line") is True and f.get("discards_under_one_kit") is False
        ),
    ),
    (
        "NAT-JWJZ-MISSING",
        "date",
        JWJZ_2023,
        None,
        lambda f: f.get("jwjz_required") is True and f.get("jwjz_missing") is True and _waste_scope(f),
    ),
    ("NAT-JWJZ-CONFLICT", "date", JWJZ_2023, None, lambda f: f.get("jwjz_conflict") is True and _waste_scope(f)),
    (
        "NAT-JW-WITHOUT-ADMIN",
        "date",
        JW_POLICY,
        None,
        lambda f: f.get("jw_without_admin") is True and _waste_scope(f),
    ),
    (
        "NAT-JZ-WITH-WASTE",
        "date",
        JWJZ_2023,
        None,
        lambda f: (
            f.get("units_valid") is True
            and f.get("has_jz") is True
            and f.get("has_jw_line") is False
            and f.get("administered_whole_kits") is False
            and _waste_scope(f)
        ),
    ),
    (
        "NAT-340B-MISSING",
        "line",
        FLAGS_340B,
        None,
        lambda f: (
            f.get("requires_340b_flags") is True
            and f.get("is_340b") is True
            and f.get("billed_340b") == "none"
            and _outside_inpatient(f)
        ),
    ),
    (
        "NAT-340B-WRONG",
        "line",
        FLAGS_340B,
        None,
        lambda f: (
            f.get("requires_340b_flags") is True
            and f.get("is_340b") is True
            and (
                (f.get("expected_340b") == "TB" and f.get("billed_340b") == "JG")
                or (f.get("expected_340b") == "JG" and f.get("billed_340b") == "TB")
                or f.get("billed_340b") == "both"
            )
            and _outside_inpatient(f)
        ),
    ),
    (
        "NAT-MODIFIER-INVALID",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("in_accepted_drug_modifiers") is False and _outside_inpatient(f),
    ),
    (
        "NAT-NDC-MISSING",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("ndc_required") is True and f.get("ndc_present") is False,
    ),
    ("NAT-NDC-INVALID", "line", ALWAYS, None, lambda f: f.get("ndc_present") is True and f.get("ndc_valid") is False),
    ("NAT-NDC-NOT-TEMSIROLIMUS", "line", ALWAYS, None, lambda f: f.get("ndc_temsirolimus") is False),
    (
        "NAT-NDC-NOT-MARKETED",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("ndc_listed") is True and f.get("ndc_marketed") is False,
    ),
    ("NAT-DX-MISSING", "line", ALWAYS, None, lambda f: f.get("dx_pointed") is False),
    (
        "NAT-DX-CODE-UNKNOWN",
        "line",
        ICD10_CM,
        None,
        lambda f: f.get("dx_codes_checked") is True and f.get("dx_unknown_at", 0) > 0,
    ),
    (
        "NAT-DX-CODE-HEADER",
        "line",
        ICD10_CM,
        None,
        lambda f: f.get("dx_codes_checked") is True and f.get("dx_header_at", 0) > 0,
    ),
    ("NAT-DX-CODE-UNCONFIRMED", "line", ICD10_CM, None, lambda f: f.get("dx_unconfirmed_at", 0) > 0),
    ("NAT-DX-CODE-FILE-MISSING", "date", ICD10_CM, None, lambda f: f.get("icd10_loaded") is False),
    (
        "NAT-DX-NOT-COVERED",
        "line",
        ALWAYS,
        None,
        lambda f: (
            f.get("dx_pointed") is True
            and f.get("in_covered_diagnoses") is False
            and _rcc_not_covered(f)
            and (f.get("unlisted_neoplasm_review") is False or f.get("in_neoplasm_diagnoses") is False)
        ),
    ),
    (
        "NAT-DX-UNLISTED-NEOPLASM",
        "line",
        ALWAYS,
        None,
        lambda f: (
            f.get("dx_pointed") is True
            and f.get("in_covered_diagnoses") is False
            and f.get("unlisted_neoplasm_review") is True
            and f.get("in_neoplasm_diagnoses") is True
            and _rcc_not_covered(f)
        ),
    ),
    (
        "NAT-PRIOR-AUTH",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("prior_auth_required") is True and f.get("has_prior_auth") is False,
    ),
    (
        "NAT-ADMIN-CODE",
        "date",
        ALWAYS,
        None,
        lambda f: (
            f.get("form") == "professional" and f.get("pos") == "11" and f.get("in_administration_codes") is False
        ),
    ),
    (
        "NAT-POS-INPATIENT",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("in_inpatient_places") is True or f.get("in_inpatient_bills") is True,
    ),
    (
        "NAT-REVENUE-CODE",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("form") == "institutional" and "revenue_code" in f and f["revenue_code"] != "0636",
    ),
    ("NAT-DOC-LOT", "line", ALWAYS, None, lambda f: f.get("doc_given") is True and f.get("doc_has_lot") is False),
    (
        "NAT-DOC-EXPIRATION",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("doc_given") is True and f.get("doc_has_expiration") is False,
    ),
    ("NAT-DOC-ROUTE", "line", ALWAYS, None, lambda f: f.get("doc_given") is True and f.get("doc_has_route") is False),
    (
        "NAT-DOC-NOT-IV",
        "line",
        ALWAYS,
        None,
        lambda f: f.get("doc_given") is True and f.get("doc_has_route") is True and f.get("doc_route_iv") is False,
    ),
    ("NAT-DOC-EXPIRED", "line", ALWAYS, None, lambda f: f.get("doc_expired") is True),
    (
        "NAT-PATIENT-UNDER-18",
        "date",
        ALWAYS,
        None,
        lambda f: f.get("adults_only") is True and f.get("patient_under_18") is True,
    ),
    ("NAT-FREQUENCY", "date", ALWAYS, None, lambda f: f.get("dose_within_interval") is True),
    ("NAT-UNITS-POLICY-LIMIT", "date", ALWAYS, None, lambda f: f.get("units_over_limit") is True),
    ("NAT-NDC-QUANTITY", "line", ALWAYS, None, lambda f: f.get("ndc_quantity_covers") is False),
    ("NAT-NDC-UNCONFIRMED", "line", ALWAYS, None, lambda f: f.get("ndc_unconfirmed") is True),
    (
        "NAT-FEE-SCHEDULE-MISSING",
        "date",
        ALWAYS,
        None,
        lambda f: f.get("benchmark_basis") == "fee_schedule" and f.get("fee_schedule_loaded") is False,
    ),
    ("MCR-MUE", "date", ALWAYS, None, lambda f: f.get("units_over_mue") is True),
    ("MCR-MUE-MISSING", "date", ALWAYS, None, lambda f: f.get("mue_loaded") is False),
    ("MCR-ASP-MISSING", "date", ALWAYS, None, lambda f: f.get("asp_loaded") is False),
]
BY_ID = {entry[0]: entry for entry in RULES}


class HandWritten:
    """A payer's rules, those of them this file writes out, with the engines' ``evaluate``."""

    def __init__(self, rules: Sequence[Rule], label: str, *, exclude: frozenset[str] = frozenset()):
        self.label = label
        self.missing = [rule.id for rule in rules if rule.id not in BY_ID]
        self._by_kind: dict[str, list[tuple[Rule, int, int | None, Callable[[Fact], bool]]]] = {}
        for rule in rules:
            if rule.id in BY_ID and rule.id not in exclude:
                _, kind, start, end, predicate = BY_ID[rule.id]
                self._by_kind.setdefault(kind, []).append((rule, start, end, predicate))

    def evaluate(self, facts: Sequence[Fact]) -> list[Firing]:
        firings = []
        by_kind = self._by_kind
        for fact in facts:
            rules = by_kind.get(fact["kind"])
            if not rules:
                continue
            eff = fact["eff"]
            for rule, start, end, predicate in rules:
                if start <= eff and (end is None or eff <= end) and predicate(fact):
                    firings.append(Firing(rule, fact))
        return firings
