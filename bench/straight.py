"""The straight-line checker: the whole job of checking a J9330 claim, written out by hand.

From the claim dict (or its JSON text) to what the product decides, with none of the product
on the way: no Editor, no attrs models, no converters, no FactBuilder, no facts, no engine.
Plain dict access, plain arithmetic and plain ``if``s over the claim's own values. It is what
the product's end-to-end throughput is compared with (bench/run.py), so it does the job a
caller relies on, and no more:

- claim validation, enough to give an error where the product does (every field of the claim
  contract checked as ``model/structure.py`` checks it; the message is not reproduced);
- the notes for an input with nothing to check (``NOT_A_CLAIM``, ``NO_J9330_LINE``);
- every rule of specs/national.yaml and specs/medicare.yaml whose reference data the bench
  loads, for every built-in payer (Aetna, BCBS, Cigna, UHC and Florida Blue add parameters,
  code sets and severity overrides, no rules), each with its severity on the date;
- the payment benchmark (Medicare: units x the ASP limit; commercial: the fee schedule).

Its answer, the unit bench/run.py compares with the product's :func:`outcome`, is ``ERROR`` or
(sorted (edit code, line, severity) findings, allowed amount or None).

Not written out, because the bench loads no file they need, so that they cannot fire there
either (setup refuses an Editor that loads one): the ICD-10-CM code-file rules (NAT-DX-CODE-*)
and the NDC Directory rule (NAT-NDC-NOT-MARKETED). Nor are claim history (FREQUENCY across
claims), user overrides, payer maps (``payer_id`` without ``payer``) or ``as_of``.

Setup turns the loaded reference files (the product's loaders read them: loading is not
timed) and the merged payer policies into plain tables: per payer, day ranges over which the
parameters, the rules in force and their severities, the ASP limit, the fee rate, the
crosswalk and the MUE values are constant, looked up with one ``bisect`` per date of service.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ERROR = ("error",)
J9330 = "J9330"
REQUEST_USES = ("preauthorization", "predetermination")
CENT = Decimal("0.01")
QUANTITY_LIMIT = 10**8
CHARGE_LIMIT = 10**10
INT_LIMIT = 10**9
ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")
#: Rules that need files the bench does not load (ICD-10-CM, NDC Directory): not written out.
UNWRITTEN = frozenset(
    {
        "NAT-DX-CODE-UNKNOWN",
        "NAT-DX-CODE-HEADER",
        "NAT-DX-CODE-UNCONFIRMED",
        "NAT-DX-CODE-FILE-MISSING",
        "NAT-NDC-NOT-MARKETED",
    }
)
#: Every rule the checker below raises (kept in step with its ``fire`` calls; run.py compares it with the specs).
WRITTEN = frozenset(
    {
        "NAT-UNITS-INVALID",
        "NAT-UNITS-DOSE",
        "NAT-DOSE-LABEL",
        "NAT-DOSE-MAX",
        "NAT-WASTE-KITS",
        "NAT-WASTE-UNOPENED",
        "NAT-JWJZ-MISSING",
        "NAT-JWJZ-CONFLICT",
        "NAT-JW-WITHOUT-ADMIN",
        "NAT-JZ-WITH-WASTE",
        "NAT-340B-MISSING",
        "NAT-340B-WRONG",
        "NAT-MODIFIER-INVALID",
        "NAT-NDC-MISSING",
        "NAT-NDC-INVALID",
        "NAT-NDC-NOT-TEMSIROLIMUS",
        "NAT-DX-MISSING",
        "NAT-DX-NOT-COVERED",
        "NAT-DX-UNLISTED-NEOPLASM",
        "NAT-PRIOR-AUTH",
        "NAT-ADMIN-CODE",
        "NAT-POS-INPATIENT",
        "NAT-REVENUE-CODE",
        "NAT-DOC-LOT",
        "NAT-DOC-EXPIRATION",
        "NAT-DOC-ROUTE",
        "NAT-DOC-NOT-IV",
        "NAT-DOC-EXPIRED",
        "NAT-PATIENT-UNDER-18",
        "NAT-FREQUENCY",
        "NAT-UNITS-POLICY-LIMIT",
        "NAT-NDC-QUANTITY",
        "NAT-NDC-UNCONFIRMED",
        "NAT-FEE-SCHEDULE-MISSING",
        "MCR-MUE",
        "MCR-MUE-MISSING",
        "MCR-ASP-MISSING",
    }
)
MUE_KIND = {"professional": "practitioner", "institutional": "outpatient_hospital"}


class Bad(Exception):
    """The claim breaks the contract: the product returns an error result."""


# --- setup: plain tables from the loaded files and policies (not timed) -----------------------


def _day(number: int) -> dt.date:
    return dt.date.min if number == 0 else dt.date(number // 10000, number // 100 % 100, number % 100)


def _number_of(day: dt.date | None, after: bool = False) -> int | None:
    if day is None:
        return None
    if after:
        if day == dt.date.max:
            return None
        day += dt.timedelta(days=1)
    return day.year * 10000 + day.month * 100 + day.day


def _within(start: dt.date | None, end: dt.date | None, day: dt.date) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


def _matcher(codes: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """(exact codes, prefixes) of a spec code list, codes upper-case without dots."""
    normal = [code.upper().replace(".", "") for code in codes]
    return frozenset(c for c in normal if not c.endswith("*")), tuple(c[:-1] for c in normal if c.endswith("*"))


class Context:
    """What is in force for one payer over a range of days."""

    __slots__ = ("asp", "crosswalk", "fee", "live", "mue", "params")

    def __init__(self, params, live, asp, fee, crosswalk, mue):
        self.params: dict[str, Any] = params
        self.live: dict[str, tuple[str, str]] = live  # rule id -> (code, severity) for rules in force
        self.asp: Decimal | None = asp
        self.fee: Decimal | None = fee
        self.crosswalk: dict[str, Decimal] | None = crosswalk  # NDC -> J9330 billing units per package
        self.mue: dict[str, tuple[int, int]] = mue  # form -> (MUE value, MAI)


class PayerTables:
    """One payer's code lists and its day-range contexts."""

    def __init__(self, name: str, policy: Any, reference: Any, priced_by_asp: bool):
        self.name = name
        self.asp_priced = priced_by_asp
        self.medicare_rules = any(rule.id.startswith("MCR-") for rule in policy.rules)
        sets = {name: _matcher(code_set.codes) for name, code_set in policy.code_sets.items()}
        empty = (frozenset(), ())
        self.admin = sets.get("administration_codes", empty)
        self.accepted = sets.get("accepted_drug_modifiers")
        self.places = sets.get("inpatient_places", empty)
        self.bills = sets.get("inpatient_bills", empty)
        self.rhc = sets.get("rhc_fqhc_bills", empty)
        self.mantle = sets.get("mantle_cell_lymphoma", empty)
        self.neoplasm = sets.get("neoplasm_diagnoses", empty)
        self.secondary = sets.get("secondary_neoplasms", empty)
        self.kidney = sets.get("kidney_cancer_on_claim", empty)
        self.covered = sets.get("covered_diagnoses")  # None: the payer lists none, the coverage rules cannot fire
        points: set[int] = set()

        def add(start, end):
            for number in (_number_of(start), _number_of(end, after=True)):
                if number is not None:
                    points.add(number)

        for periods in policy.parameters.values():
            for period in periods:
                add(period.effective.effective_from, period.effective.effective_to)
        for rule in policy.rules:
            add(rule.effective.effective_from, rule.effective.effective_to)
        for override in policy.overrides:
            add(override.effective.effective_from, override.effective.effective_to)
        for file in reference.asp:
            add(file.effective.effective_from, file.effective.effective_to)
        for crosswalk in reference.crosswalks:
            add(crosswalk.effective.effective_from, crosswalk.effective.effective_to)
        for table in reference.mue:
            add(table.effective_from, None)
        fees = [rate for rate in reference.fees if rate.payer == name and rate.hcpcs == J9330]
        for rate in fees:
            add(rate.effective.effective_from, rate.effective.effective_to)
        crosswalks = [
            (
                crosswalk.effective,
                crosswalk.effective_from,
                {ndc: rows[0].bill_units_pkg for ndc, rows in _j9330_rows(crosswalk).items()},
            )
            for crosswalk in reference.crosswalks
        ]
        self.starts = sorted({0, *points})
        self.contexts = [self._context(_day(start), policy, reference, fees, crosswalks) for start in self.starts]

    @staticmethod
    def _context(day, policy, reference, fees, crosswalks) -> Context:
        params = {}
        for name, periods in policy.parameters.items():
            for period in periods:  # the payer's own periods first: the first in force wins
                if _within(period.effective.effective_from, period.effective.effective_to, day):
                    if period.value is not None:
                        params[name] = period.value
                    break
        live = {}
        for rule in policy.rules:
            if rule.id in UNWRITTEN or not _within(rule.effective.effective_from, rule.effective.effective_to, day):
                continue
            severity = rule.severity
            for override in policy.overrides:
                if override.code == rule.code and _within(
                    override.effective.effective_from, override.effective.effective_to, day
                ):
                    severity = override.severity
                    break
            live[rule.id] = (rule.code, severity)
        asp = None
        for file in reference.asp:
            row = file.rows.get(J9330)
            if row and row.payment_limit is not None and file.effective.contains(day):
                asp = row.payment_limit
                break
        fee = next((rate.rate_per_unit for rate in fees if rate.effective.contains(day)), None)
        crosswalk = None
        if crosswalks:
            held = [table for effective, _start, table in crosswalks if effective.contains(day)]
            crosswalk = held[0] if held else max(crosswalks, key=lambda c: c[1] or dt.date.min)[2]
        mue = {}
        for form, kind in MUE_KIND.items():
            tables = [
                t
                for t in reference.mue
                if t.kind == kind and J9330 in t.rows and (t.effective_from is None or t.effective_from <= day)
            ]
            if tables:
                row = max(tables, key=lambda t: t.effective_from or dt.date.min).rows[J9330]
                mue[form] = (row.value, row.mai)
        return Context(params, live, asp, fee, crosswalk, mue)


def _j9330_rows(crosswalk: Any) -> dict[str, list]:
    rows: dict[str, list] = {}
    for row in crosswalk.entries:
        if row.hcpcs == J9330:
            rows.setdefault(row.ndc, []).append(row)
    return rows


class Straight:
    """The checker, set up once from the reference data and the payers' merged policies."""

    def __init__(self, reference: Any, policies: Mapping[str, Any]):
        if reference.icd10 or reference.ndc_directories:
            raise ValueError("the straight-line checker does not write out the ICD-10-CM or NDC Directory rules")
        self.kit = reference.kit_mg
        self.temsirolimus = frozenset(reference.temsirolimus_ndcs)
        self.payers = {
            name: PayerTables(name, policy, reference, priced_by_asp=name == "medicare")
            for name, policy in policies.items()
        }
        #: Rules of the specs this checker does not raise (run.py prints them): none, when it is up to date.
        self.missing = sorted({rule.id for policy in policies.values() for rule in policy.rules} - WRITTEN - UNWRITTEN)

    def check_many(self, claims: Iterable[Any]) -> Iterator[tuple]:
        check = self.check
        for claim in claims:
            yield check(claim)

    def check(self, claim: Any) -> tuple:
        """ERROR, or (sorted (code, line, severity) findings, allowed amount or None)."""
        if isinstance(claim, (str, bytes)):
            try:
                claim = json.loads(claim)
            except ValueError:
                return ERROR
        if type(claim) is not dict:
            if not isinstance(claim, Mapping):
                return ERROR
            claim = dict(claim)
        note = _nothing_to_check(claim)
        if note is not None:
            return note
        try:
            parsed = _structure(claim)
        except Exception:  # Bad, or whatever a malformed value raised: the product's error result
            return ERROR
        payer = self.payers.get(parsed[1])
        if payer is None:
            return ERROR
        return self._rules(payer, parsed)

    def _rules(self, payer: PayerTables, parsed: tuple) -> tuple:
        _id, _payer, form, tob, pos, dx, born, is_340b, hospital_type, has_pa, lines = parsed
        by_day: dict[dt.date, list[tuple]] = {}
        procedures: dict[dt.date, set[str]] = {}
        for line in lines:
            day = line[2]
            codes = procedures.get(day)
            if codes is None:
                procedures[day] = {line[1]}
            else:
                codes.add(line[1])
            if line[1] == J9330:
                by_day.setdefault(day, []).append(line)
        if not by_day:
            return ((("NO_J9330_LINE", 0, "info"),), None)

        kit = self.kit
        inpatient_place = pos is not None and (pos in payer.places[0] or pos.startswith(payer.places[1]))
        inpatient_bill = tob is not None and (tob in payer.bills[0] or tob.startswith(payer.bills[1]))
        rhc = tob is not None and (tob in payer.rhc[0] or tob.startswith(payer.rhc[1]))
        inpatient = inpatient_place or inpatient_bill
        waste_scope = not inpatient and not rhc
        kidney = any(code in payer.kidney[0] or code.startswith(payer.kidney[1]) for code in dx)
        institutional = form == "institutional"
        totals = {day: sum(_whole(line[4]) or 0 for line in day_lines) for day, day_lines in by_day.items()}
        findings: list[tuple[str, int, str]] = []
        contexts: dict[dt.date, Context] = {}
        starts, table = payer.starts, payer.contexts

        for day in sorted(by_day):
            day_lines = by_day[day]
            number = day.year * 10000 + day.month * 100 + day.day
            ctx = contexts[day] = table[bisect_right(starts, number) - 1]
            params, live = ctx.params, ctx.live

            def fire(rule_id: str, line: int, live: dict = live) -> None:
                rule = live.get(rule_id)
                if rule is not None:
                    findings.append((rule[0], line, rule[1]))

            flags_340b = params.get("requires_340b_flags") is True and is_340b and not inpatient
            if flags_340b:
                expected = "TB" if hospital_type in (params.get("tb_hospital_types") or ()) else "JG"
                departments = params.get("tb_department_modifiers") or ()
            metastatic = params.get("metastatic_rcc_covered")
            unlisted = params.get("unlisted_neoplasm_review")
            ndc_required = params.get("ndc_required") is True
            auth_missing = params.get("prior_auth_required") is True and not has_pa
            crosswalk = ctx.crosswalk
            administered = discarded = administered_lines = without_jz = 0
            administered_mg: Decimal | int = 0
            units_valid, has_jw, has_jz, both, mantle_on_date = True, False, False, False, False
            biggest = 0

            for line in day_lines:
                n, _hcpcs, _day, mods, units, ndc, ndc_unit, ndc_quantity, revenue, pointers, dose, doc = line
                whole = _whole(units)
                jw, jz = "JW" in mods, "JZ" in mods
                # the date's sums
                if whole is None:
                    units_valid = False
                    fire("NAT-UNITS-INVALID", n)
                elif whole > biggest:
                    biggest = whole
                if jw:
                    has_jw = True
                    discarded += whole or 0
                else:
                    administered_lines += 1
                    without_jz += not jz
                    administered += whole or 0
                    administered_mg += dose if dose is not None else (whole or 0)
                has_jz = has_jz or jz
                both = both or (jw and jz)
                # units, dose
                if dose is not None and whole is not None and not jw and whole != math.ceil(dose):
                    fire("NAT-UNITS-DOSE", n)
                # 340B and the drug-line modifiers
                if flags_340b:
                    jg, tb = "JG" in mods, "TB" in mods
                    billed = "both" if jg and tb else "JG" if jg else "TB" if tb else "none"
                    wanted = "TB" if any(code in departments for code in mods) else expected
                    if billed == "none":
                        fire("NAT-340B-MISSING", n)
                    elif billed == "both" or (wanted == "TB" and billed == "JG") or (wanted == "JG" and billed == "TB"):
                        fire("NAT-340B-WRONG", n)
                accepted = payer.accepted
                if not inpatient and accepted is not None:
                    exact, prefixes = accepted
                    if any(code not in exact and not code.startswith(prefixes) for code in mods):
                        fire("NAT-MODIFIER-INVALID", n)
                # NDC
                if ndc:
                    normal = _ndc11(ndc)
                    if normal is None:
                        fire("NAT-NDC-INVALID", n)
                    elif crosswalk is None:
                        if normal not in self.temsirolimus:
                            fire("NAT-NDC-UNCONFIRMED", n)
                    else:
                        per_package = crosswalk.get(normal)
                        if per_package is None:
                            if normal not in self.temsirolimus:
                                fire("NAT-NDC-NOT-TEMSIROLIMUS", n)
                        elif (
                            whole is not None
                            and ndc_unit == "UN"
                            and ndc_quantity is not None
                            and ndc_quantity * per_package < whole
                        ):
                            fire("NAT-NDC-QUANTITY", n)
                elif ndc_required:
                    fire("NAT-NDC-MISSING", n)
                # diagnoses
                if pointers:
                    pointed = [dx[p - 1] for p in pointers]
                    mantle = _any(pointed, payer.mantle)
                    mantle_on_date = mantle_on_date or mantle
                    if payer.covered is not None and not _any(pointed, payer.covered):
                        neoplasm = _any(pointed, payer.neoplasm)
                        if metastatic is False or not kidney or not _any(pointed, payer.secondary):
                            if unlisted is False or not neoplasm:
                                fire("NAT-DX-NOT-COVERED", n)
                            if unlisted is True and neoplasm:
                                fire("NAT-DX-UNLISTED-NEOPLASM", n)
                else:
                    fire("NAT-DX-MISSING", n)
                if auth_missing:
                    fire("NAT-PRIOR-AUTH", n)
                if inpatient:
                    fire("NAT-POS-INPATIENT", n)
                if institutional and revenue != "0636":
                    fire("NAT-REVENUE-CODE", n)
                # documentation
                if doc is not None:
                    lot, expiration, route = doc
                    if not lot:
                        fire("NAT-DOC-LOT", n)
                    if expiration is None:
                        fire("NAT-DOC-EXPIRATION", n)
                    elif expiration < day:
                        fire("NAT-DOC-EXPIRED", n)
                    if not route:
                        fire("NAT-DOC-ROUTE", n)
                    elif route.upper() not in ("IV", "INTRAVENOUS"):
                        fire("NAT-DOC-NOT-IV", n)

            # the date of service, reported on its first drug line
            first = min(line[0] for line in day_lines)
            total = administered + discarded
            if administered_mg > 25:
                fire("NAT-DOSE-LABEL", first)
                if administered_mg > 50 and not mantle_on_date:
                    fire("NAT-DOSE-MAX", first)
            if units_valid and has_jw:
                if total % kit:
                    fire("NAT-WASTE-KITS", first)
                if discarded >= kit:
                    fire("NAT-WASTE-UNOPENED", first)
            if waste_scope:
                if params.get("jwjz_required") is True and not has_jw and without_jz:
                    fire("NAT-JWJZ-MISSING", first)
                if both or (has_jz and has_jw):
                    fire("NAT-JWJZ-CONFLICT", first)
                if has_jw and not administered_lines:
                    fire("NAT-JW-WITHOUT-ADMIN", first)
                if units_valid and has_jz and not has_jw and administered % kit:
                    fire("NAT-JZ-WITH-WASTE", first)
            if form == "professional" and pos == "11":
                exact, prefixes = payer.admin
                if not any(code in exact or code.startswith(prefixes) for code in procedures[day]):
                    fire("NAT-ADMIN-CODE", first)
            if (
                params.get("adults_only") is True
                and born is not None
                and day.year - born.year - ((day.month, day.day) < (born.month, born.day)) < 18
            ):
                fire("NAT-PATIENT-UNDER-18", first)
            interval = params.get("min_days_between_doses")
            if (
                interval is not None
                and len(by_day) > 1
                and min(abs((other - day).days) for other in by_day if other != day) < interval
            ):
                fire("NAT-FREQUENCY", first)
            limit, window = params.get("units_limit"), params.get("units_limit_days")
            if (
                limit is not None
                and window is not None
                and sum(units for other, units in totals.items() if 0 <= (day - other).days < window) > limit
            ):
                fire("NAT-UNITS-POLICY-LIMIT", first)
            if params.get("benchmark_basis") == "fee_schedule" and ctx.fee is None:
                fire("NAT-FEE-SCHEDULE-MISSING", first)
            if payer.medicare_rules:
                mue = ctx.mue.get(form)
                if mue is None:
                    fire("MCR-MUE-MISSING", first)
                elif (biggest if mue[1] == 1 else total) > mue[0]:
                    fire("MCR-MUE", first)
                if ctx.asp is None:
                    fire("MCR-ASP-MISSING", first)

        findings.sort()
        return tuple(findings), self._allowed(payer, lines, contexts)

    @staticmethod
    def _allowed(payer: PayerTables, lines: list[tuple], contexts: dict[dt.date, Context]) -> Decimal | None:
        """The benchmark: units x the rate of each drug line's date, to the cent; None if a date has no rate."""
        if payer.asp_priced:
            rate_of = "asp"
        elif contexts[min(contexts)].params.get("benchmark_basis") == "fee_schedule":
            rate_of = "fee"
        else:
            return None
        allowed = None
        for line in lines:
            if line[1] != J9330:
                continue
            whole = _whole(line[4])
            if whole is None:
                continue
            context = contexts[line[2]]
            rate = context.asp if rate_of == "asp" else context.fee
            if rate is None:
                return None
            amount = (whole * rate).quantize(CENT, rounding=ROUND_HALF_UP)
            allowed = amount if allowed is None else allowed + amount
        return allowed


def _any(codes: list[str], matcher: tuple[frozenset[str], tuple[str, ...]]) -> bool:
    exact, prefixes = matcher
    return any(code in exact or code.startswith(prefixes) for code in codes)


def _whole(units: Any) -> int | None:
    """Whole positive units as an int, else None (a fraction, zero, negative, missing)."""
    if type(units) is int:
        return units if units > 0 else None
    if units is None or units <= 0 or units != units.to_integral_value():
        return None
    return int(units)


def _ndc11(text: str) -> str | None:
    """The 11-digit NDC of a 4-4-2, 5-3-2, 5-4-1 or 5-4-2 NDC (hyphenated or 11 digits), else None."""
    if "-" in text:
        parts = text.split("-")
        if len(parts) != 3:
            return None
        labeler, product, package = parts
        if not (4 <= len(labeler) <= 5 and 3 <= len(product) <= 4 and 1 <= len(package) <= 2):
            return None
        if not (labeler + product + package).isascii() or not (labeler + product + package).isdigit():
            return None
        if len(labeler) + len(product) + len(package) not in (10, 11):
            return None
        digits = labeler.zfill(5) + product.zfill(4) + package.zfill(2)
    elif len(text) == 11 and text.isascii() and text.isdigit():
        digits = text
    else:
        return None
    return digits if "0" in (digits[0], digits[5], digits[9]) else None


# --- the claim contract ----------------------------------------------------------------------


def _nothing_to_check(claim: dict) -> tuple | None:
    """A request (FHIR preauthorization) or a claim with no J9330 line and an id: a note, not checked."""
    use = claim.get("use")
    if isinstance(use, str) and use in REQUEST_USES:
        code = "NOT_A_CLAIM"
    else:
        lines = claim.get("lines")
        if type(lines) is not list or not lines:
            return None
        for line in lines:
            hcpcs = line.get("hcpcs") if type(line) is dict else None
            if not isinstance(hcpcs, str) or not hcpcs.strip() or hcpcs.strip().upper() == J9330:
                return None
        code = "NO_J9330_LINE"
    claim_id = claim.get("claim_id")
    if isinstance(claim_id, str) and len(claim_id) <= 64:
        usable = claim_id.strip()
    elif type(claim_id) is int and -(10**63) < claim_id < 10**64:
        usable = str(claim_id)
    else:
        usable = ""
    return (((code, 0, "info"),), None) if usable else None


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Bad("expected a string")
    return str(value).strip()


def _number(value: Any, limit: int = QUANTITY_LIMIT) -> int | Decimal:
    """An int as it is, else a finite Decimal (a float by its shortest repr); below ``limit``."""
    kind = type(value)
    if kind is int:
        if -limit < value < limit:
            return value
        raise Bad("number is too large")
    if kind is str:
        number = Decimal(value.strip())
    elif kind is float:
        number = Decimal(repr(value))
    elif isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise Bad("expected a number")
    else:
        number = Decimal(str(value).strip())
    if not number.is_finite() or abs(number) >= limit:
        raise Bad("expected a finite number")
    return number


def _positive(value: Any) -> int | Decimal:
    number = _number(value)
    if number <= 0:
        raise Bad("must be above zero")
    return number


def _date(value: Any) -> dt.date:
    if type(value) is not str:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        raise Bad("expected a date")
    text = value.strip()
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        digits = text[:4] + text[5:7] + text[8:]
        if digits.isascii() and digits.isdigit():
            return dt.date.fromisoformat(text)
    elif len(text) == 8 and text.isascii() and text.isdigit():
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    raise Bad("expected a date")


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -INT_LIMIT < value < INT_LIMIT:
        raise Bad("expected a whole number")
    return value


def _digits(value: Any, width: int) -> str:
    code = _text(value)
    if not (code.isascii() and code.isdigit() and width - 1 <= len(code) <= width):
        raise Bad("expected digits")
    return code.zfill(width)


def _object(value: Any) -> dict:
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise Bad("expected an object")


def _list(value: Any) -> list | tuple:
    if type(value) is list or type(value) is tuple:
        return value
    raise Bad("expected a list")


def _structure(claim: dict) -> tuple:
    """The claim's values, checked as the claim contract says: raises on any breach."""
    get = claim.get
    claim_id, payer, lines = get("claim_id"), get("payer"), get("lines")
    if claim_id is None or payer is None or lines is None:
        raise Bad("required field missing")
    claim_id = _text(claim_id)
    payer = _text(payer).lower()
    lines = _list(lines)
    if not claim_id or not lines or len(lines) > 999:
        raise Bad("claim id, lines")
    form = get("form")
    form = "professional" if form is None else _text(form).lower()
    if form != "professional" and form != "institutional":
        raise Bad("form")
    tob = get("type_of_bill")
    tob = None if tob is None else _digits(tob, 4)
    pos = get("place_of_service")
    if pos is not None:
        pos = _text(pos)
        if not (pos.isascii() and pos.isdigit() and 1 <= len(pos) <= 2):
            raise Bad("place of service")
        pos = pos.zfill(2)
    dx = get("diagnoses")
    if dx is None:
        dx = ()
    else:
        dx = tuple(_text(code).upper().replace(".", "") for code in _list(dx))
        for code in dx:
            if not ICD10.fullmatch(code):
                raise Bad("diagnosis")
    born = None
    patient = get("patient")
    if patient is not None:
        patient = _object(patient)
        born = patient.get("birth_date")
        born = None if born is None else _date(born)
        for key in ("sex", "member_id"):
            if patient.get(key) is not None:
                _text(patient[key])
    is_340b, hospital_type = False, None
    provider = get("provider")
    if provider is not None:
        provider = _object(provider)
        if provider.get("npi") is not None:
            _text(provider["npi"])
        flag = provider.get("is_340b")
        if flag is not None:
            if type(flag) is not bool:
                raise Bad("is_340b")
            is_340b = flag
        hospital_type = provider.get("hospital_type")
        hospital_type = None if hospital_type is None else _text(hospital_type).lower()
    authorization = get("prior_authorization")
    has_pa = authorization is not None and bool(_text(authorization))
    count = len(dx)
    seen: set[int] = set()
    parsed = []
    for position, line in enumerate(lines, start=1):
        parsed.append(_line(_object(line), position, count))
        number = parsed[-1][0]
        if number < 1 or number in seen:
            raise Bad("line numbers")
        seen.add(number)
    return (claim_id, payer, form, tob, pos, dx, born, is_340b, hospital_type, has_pa, parsed)


def _line(line: dict, position: int, diagnoses: int) -> tuple:
    get = line.get
    number, hcpcs, day = get("line"), get("hcpcs"), get("service_date")
    if number is None:
        if "line" in line:  # an explicit null: the product's converters refuse it
            raise Bad("line number")
        number = position
    else:
        number = _int(number)
    if hcpcs is None or day is None:
        raise Bad("required field missing")
    hcpcs = _text(hcpcs).upper()
    if len(hcpcs) != 5 or not hcpcs.isascii() or not hcpcs.isalnum():
        raise Bad("hcpcs")
    day = _date(day)
    mods = get("modifiers")
    if mods is None:
        mods = ()
    else:
        codes = []
        for item in _list(mods):
            if type(item) is int:
                code = f"{item:02d}"
            elif isinstance(item, bool):
                raise Bad("modifier")
            else:
                code = _text(item).upper()
            if len(code) != 2 or not code.isascii() or not code.isalnum():
                raise Bad("modifier")
            if code != "00":
                codes.append(code)
        if len(codes) > 4:
            raise Bad("modifiers")
        mods = tuple(codes)
    units = get("units")
    units = None if units is None else _number(units)
    charge = get("charge")
    if charge is not None:
        charge = _number(charge, CHARGE_LIMIT)
        if charge < 0 or (type(charge) is not int and charge.as_tuple().exponent < -2):
            raise Bad("charge")
    ndc = get("ndc")
    ndc = None if ndc is None else _text(ndc)
    ndc_unit = get("ndc_unit")
    ndc_unit = None if ndc_unit is None else _text(ndc_unit).upper()
    ndc_quantity = get("ndc_quantity")
    ndc_quantity = None if ndc_quantity is None else _positive(ndc_quantity)
    revenue = get("revenue_code")
    revenue = None if revenue is None else _digits(revenue, 4)
    pointers = get("dx_pointers")
    if pointers is None:
        pointers = ()
    else:
        pointers = tuple(_int(p) for p in _list(pointers))
        for pointer in pointers:
            if pointer < 1 or pointer > diagnoses:
                raise Bad("dx pointers")
    dose = get("dose_mg")
    dose = None if dose is None else _positive(dose)
    doc = get("documentation")
    if doc is not None:
        doc = _object(doc)
        lot, expiration, route = doc.get("lot"), doc.get("expiration"), doc.get("route")
        doc = (
            None if lot is None else _text(lot),
            None if expiration is None else _date(expiration),
            None if route is None else _text(route),
        )
    return (number, hcpcs, day, mods, units, ndc, ndc_unit, ndc_quantity, revenue, pointers, dose, doc)


# --- the product's answer in the same unit -------------------------------------------------------


def outcome(result: Any) -> tuple:
    """A product Result as the unit :meth:`Straight.check` answers in."""
    if result.error is not None:
        return ERROR
    findings = tuple(sorted((f.code, f.line or 0, f.severity) for f in result.findings))
    return findings, (result.payment.allowed if result.payment is not None else None)
