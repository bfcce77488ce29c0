"""Claim → facts: the flat records the rulesets match on.

Rules are single-fact patterns (a join in durable-rules can read out of
bounds), so everything a rule needs is derived here, in Python, and
property-tested: one fact per J9330 line, one per date of service, and one
for the claim that anchors the engine's sentinel rule. Facts hold only
booleans, whole numbers, plain decimals and codes, never patient
identifiers, so a fact can appear in a finding's audit trail.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Any

from j9330_rules.facts import modifiers, ndc, units
from j9330_rules.facts.fields import day_number
from j9330_rules.model import Claim, ClaimLine
from j9330_rules.model.claim import HCPCS
from j9330_rules.refdata.reference import ReferenceData
from j9330_rules.rules.policy import PayerPolicy
from j9330_rules.rules.specs import CodeSet

Fact = dict[str, Any]
SESSION = "0"  # one live engine session per process; never a claim id


class CodeMatcher:
    """Membership in a spec's code set: exact codes plus ``PREFIX*`` patterns."""

    def __init__(self, code_set: CodeSet):
        normal = [code.upper().replace(".", "") for code in code_set.codes]
        self.name = f"in_{code_set.name}"
        self.field = code_set.field
        self.exact = frozenset(code for code in normal if not code.endswith("*"))
        self.prefixes = tuple(code[:-1] for code in normal if code.endswith("*"))

    def matches(self, code: str | None) -> bool:
        return code is not None and (code in self.exact or code.startswith(self.prefixes))

    def any(self, codes: Iterable[str]) -> bool:
        return any(self.matches(code) for code in codes)


#: Entries each of FactBuilder's memos holds before it starts over.
MEMO_LIMIT = 4096


def _remember(memo: dict, key: Any, value: Any) -> Any:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


class FactBuilder:
    """Builds the facts of a claim for one payer's policy and reference data.

    The policy and the reference data are frozen, so what a fact takes from them is worked out
    once per value and remembered (bounded): a date's parameters and reference files, a place's,
    a bill type's, a set of procedures' and a list of diagnoses' code-list flags, a line's
    modifiers' flags. A batch repeats a few of each; the facts are the same as built afresh.
    """

    def __init__(self, policy: PayerPolicy, reference: ReferenceData):
        self.policy = policy
        self.reference = reference
        self.kit_mg = reference.kit_mg
        self.temsirolimus_ndcs = reference.temsirolimus_ndcs
        by_field: dict[str, list[CodeMatcher]] = defaultdict(list)
        for code_set in policy.code_sets.values():
            matcher = CodeMatcher(code_set)
            by_field[matcher.field].append(matcher)
        fields = ("procedure", "place_of_service", "type_of_bill", "diagnosis", "modifier", "claim_diagnosis")
        self._procedure, self._place, self._bill, self._diagnosis, self._modifier, self._claim_diagnosis = (
            tuple(by_field[name]) for name in fields
        )
        # Claims of a batch share a few dates: the reference lookups of a date are made once.
        self._references: dict[tuple[str, dt.date], tuple[Any, bool, bool]] = {}
        self._parameters: dict[dt.date, tuple[Fact, Any, Any]] = {}
        self._days: dict[dt.date, tuple[Any, tuple, bool, bool]] = {}
        self._flags: dict[tuple[str, Any], Fact] = {}
        self._modifier_flags: dict[tuple[str, ...], Fact] = {}
        self._diagnosis_flags: dict[tuple[str, ...], Fact] = {}
        self._modifier_facts: dict[tuple, tuple[bool, bool, str, str]] = {}
        self._products: dict[tuple, Fact] = {}

    def build(
        self, claim: Claim, as_of: dt.date | None = None, prior: Sequence[tuple[dt.date, int]] = ()
    ) -> list[Fact]:
        """The claim's facts; ``prior`` holds (date, units) already billed for the patient (claim history)."""
        facts: list[Fact] = [{"id": "claim", "sid": SESSION, "kind": "claim"}]
        by_date: dict[dt.date, list[ClaimLine]] = {}
        procedures: dict[dt.date, set[str]] = {}
        for line in claim.lines:
            day = line.service_date
            codes = procedures.get(day)
            if codes is None:
                procedures[day] = {line.hcpcs}
            else:
                codes.add(line.hcpcs)
            if line.hcpcs == HCPCS:
                by_date.setdefault(day, []).append(line)
        totals = {day: units.date_units(lines, self.kit_mg) for day, lines in by_date.items()}
        billed = [*prior, *((day, total.total_units) for day, total in totals.items())]
        claim_flags = self._claim_flags(claim)
        for day in sorted(by_date):
            lines = by_date[day]
            effective = as_of or day
            parameter_fields, parameters, tb_departments = self._parameters_on(effective)
            expected = modifiers.expected_340b(claim.provider, parameters.get("tb_hospital_types", ()))
            shared: Fact = {
                "sid": SESSION,
                "dos": day_number(day),
                "eff": day_number(effective),
                "form": claim.form,
                "pos": claim.place_of_service or "",
                "tob": claim.type_of_bill or "",
                "has_prior_auth": bool(claim.prior_authorization),
                "is_340b": claim.provider.is_340b,
                **parameter_fields,
                "expected_340b": expected or "none",
                **self._procedure_flags(procedures[day]),
                **claim_flags,
            }
            references = self._on_day(day)
            line_facts = [self._line(claim, line, shared, day, tb_departments, references) for line in lines]
            facts.extend(line_facts)
            date_fact = self._date(lines, line_facts, shared, totals[day])
            self._reference(date_fact, claim, day, lines, totals[day])
            _patient(date_fact, claim, day)
            _schedule(date_fact, day, billed, parameters)
            facts.append(date_fact)
        return facts

    def billed_units(self, claim: Claim) -> dict[dt.date, int]:
        """Units billed per date (administered and discarded): what the claim history records."""
        by_date: dict[dt.date, list[ClaimLine]] = defaultdict(list)
        for line in claim.drug_lines:
            by_date[line.service_date].append(line)
        return {day: units.date_units(lines, self.kit_mg).total_units for day, lines in by_date.items()}

    def _parameters_on(self, effective: dt.date) -> tuple[Fact, Any, Sequence[str]]:
        """(the parameters as fact fields, the parameters, the TB department modifiers) on a date."""
        found = self._parameters.get(effective)
        if found is None:
            parameters = self.policy.parameters_on(effective)  # memoised per date by the policy
            fields = {
                name: day_number(value) if isinstance(value, dt.date) else value
                for name, value in parameters.items()
                if value is not None and not isinstance(value, list)  # lists are for Python only; null is absent
            }
            departments = tuple(parameters.get("tb_department_modifiers") or ())
            found = _remember(self._parameters, effective, (fields, parameters, departments))
        return found

    def _claim_flags(self, claim: Claim) -> Fact:
        """The claim's place, bill type and diagnoses against the spec's code lists."""
        place = self._flags.get(("place", claim.place_of_service))
        if place is None:
            place = {m.name: m.matches(claim.place_of_service) for m in self._place}
            _remember(self._flags, ("place", claim.place_of_service), place)
        bill = self._flags.get(("bill", claim.type_of_bill))
        if bill is None:
            bill = {m.name: m.matches(claim.type_of_bill) for m in self._bill}
            _remember(self._flags, ("bill", claim.type_of_bill), bill)
        diagnoses = self._flags.get(("diagnoses", claim.diagnoses))
        if diagnoses is None:
            diagnoses = {m.name: m.any(claim.diagnoses) for m in self._claim_diagnosis}
            _remember(self._flags, ("diagnoses", claim.diagnoses), diagnoses)
        return {**place, **bill, **diagnoses}

    def _procedure_flags(self, codes: set[str]) -> Fact:
        key = ("procedures", frozenset(codes))
        found = self._flags.get(key)
        if found is None:
            found = _remember(self._flags, key, {m.name: m.any(codes) for m in self._procedure})
        return found

    def _on_day(self, day: dt.date) -> tuple[Any, tuple, bool, bool]:
        """(crosswalk, ICD-10-CM releases in force, whether one decides, NDC Directory loaded) on a date."""
        found = self._days.get(day)
        if found is None:
            releases = self.reference.icd10_in_force(day)
            found = (
                self.reference.crosswalk_for(day),
                releases,
                any(release.decides(day) for release in releases),
                bool(self.reference.ndc_directories),
            )
            _remember(self._days, day, found)
        return found

    def _line(
        self,
        claim: Claim,
        line: ClaimLine,
        shared: Fact,
        day: dt.date,
        tb_departments: Sequence[str],
        references: tuple[Any, tuple, bool, bool],
    ) -> Fact:
        whole = units.whole_units(line.units)
        codes = line.modifiers
        jw, jz, billed_340b, expected_340b = self._modifier_fields(line, shared["expected_340b"], tb_departments)
        pointed = tuple(claim.diagnoses[pointer - 1] for pointer in line.dx_pointers)
        normal_ndc = ndc.normalise(line.ndc) if line.ndc else None
        dose = line.dose_mg
        fact: Fact = {
            **shared,
            "id": f"line-{line.line}",
            "kind": "line",
            "line": line.line,
            "revenue_code": line.revenue_code or "",
            "units": whole or 0,
            "units_valid": whole is not None,
            "jw": jw,
            "jz": jz,
            "billed_340b": billed_340b,
            "expected_340b": expected_340b,
            "dose_given": dose is not None,
            # Judged on administered lines with valid units; the other cases have their own edits.
            "dose_matches": dose is None or whole is None or jw or whole == units.administered_units(dose),
            "ndc_present": bool(line.ndc),
            "ndc_valid": normal_ndc is not None,
            "dx_pointed": bool(pointed),
        }
        crosswalk, releases, decides, directories = references
        if normal_ndc is not None:
            fact.update(self._product(line, normal_ndc, whole, crosswalk))
            if directories:
                self._marketed(fact, normal_ndc, day)
        if releases:
            _codes(fact, claim, line, releases, decides)
        if self._diagnosis:
            fact.update(self._diagnoses_flags(pointed))
        if self._modifier:
            fact.update(self._modifiers_flags(codes))
        _documentation(fact, line)
        return fact

    def _modifier_fields(
        self, line: ClaimLine, expected: str, tb_departments: tuple[str, ...]
    ) -> tuple[bool, bool, str, str]:
        """(JW, JZ, the 340B modifier billed, the one expected): they follow from the line's modifiers."""
        codes = line.modifiers
        if not codes:
            return False, False, "none", expected
        key = (codes, expected, tb_departments)
        found = self._modifier_facts.get(key)
        if found is None:
            found = (
                "JW" in codes,
                "JZ" in codes,
                modifiers.billed_340b(line) or "none",
                modifiers.line_expected_340b(expected, line, tb_departments),
            )
            _remember(self._modifier_facts, key, found)
        return found

    def _diagnoses_flags(self, codes: tuple[str, ...]) -> Fact:
        found = self._diagnosis_flags.get(codes)
        if found is None:
            found = _remember(self._diagnosis_flags, codes, {m.name: m.any(codes) for m in self._diagnosis})
        return found

    def _modifiers_flags(self, codes: tuple[str, ...]) -> Fact:
        found = self._modifier_flags.get(codes)
        if found is None:
            flags = {m.name: all(m.matches(code) for code in codes) for m in self._modifier}
            found = _remember(self._modifier_flags, codes, flags)
        return found

    def _product(self, line: ClaimLine, normal_ndc: str, whole: int | None, crosswalk: Any) -> Fact:
        """Is the NDC temsirolimus, and does its quantity hold the units? Per the crosswalk if loaded."""
        if crosswalk is None:
            if normal_ndc in self.temsirolimus_ndcs:
                return {"ndc_temsirolimus": True}
            return {"ndc_unconfirmed": True}  # not in the bundled list; only the crosswalk can tell
        # The crosswalk is the reference data's, kept for the builder's life: its id is a key.
        key = (id(crosswalk), normal_ndc, whole, line.ndc_unit, line.ndc_quantity)
        found = self._products.get(key)
        if found is None:
            rows = [row for row in crosswalk.for_ndc(normal_ndc) if row.hcpcs == "J9330"]
            # A quarter's crosswalk can omit a real product (no sales reported): openFDA's word counts too.
            found = {"ndc_temsirolimus": bool(rows) or normal_ndc in self.temsirolimus_ndcs}
            if rows and whole is not None and line.ndc_unit == "UN" and line.ndc_quantity is not None:
                covered = line.ndc_quantity * rows[0].bill_units_pkg
                found["ndc_units_covered"] = fact_number(covered)
                found["ndc_quantity_covers"] = covered >= whole
            _remember(self._products, key, found)
        return found

    def _marketed(self, fact: Fact, normal_ndc: str, day: dt.date) -> None:
        """Per the FDA NDC Directory, when loaded: is the NDC listed, and marketed on the date?"""
        marketed = self.reference.ndc_marketed(normal_ndc, day)
        fact["ndc_listed"] = marketed is not None
        if marketed is not None:
            fact["ndc_marketed"] = marketed

    def _reference(
        self, fact: Fact, claim: Claim, day: dt.date, lines: list[ClaimLine], totals: units.DateUnits
    ) -> None:
        """Facts from the loaded CMS files and fee schedules; ``*_loaded`` says whether they were."""
        mue, asp_loaded, fee_schedule_loaded = self._reference_on(claim.form, day)
        fact["mue_loaded"] = mue is not None
        fact["mue_setting"] = "practitioner" if claim.form == "professional" else "outpatient hospital"
        if mue is not None:
            row, _table = mue
            # MAI 1 edits each claim line; MAI 2 and 3 edit the date of service.
            counted = (
                max((units.whole_units(line.units) or 0) for line in lines) if row.mai == 1 else totals.total_units
            )
            fact.update(mue_value=row.value, mue_mai=row.mai, units_over_mue=counted > row.value)
        fact["asp_loaded"] = asp_loaded
        fact["fee_schedule_loaded"] = fee_schedule_loaded
        if self.reference.icd10:  # absent when no ICD-10-CM file is loaded at all (check says so once)
            fact["icd10_loaded"] = bool(self._on_day(day)[1])

    def _reference_on(self, form: str, day: dt.date) -> tuple[Any, bool, bool]:
        """(MUE row and table or None, ASP limit loaded, fee schedule loaded) for the setting and date."""
        found = self._references.get((form, day))
        if found is None:
            found = (
                self.reference.mue_for(form, day),
                self.reference.asp_limit(day) is not None,
                self.reference.fee_rate(self.policy.payer, day) is not None,
            )
            _remember(self._references, (form, day), found)
        return found

    def _date(self, lines: list[ClaimLine], line_facts: list[Fact], shared: Fact, totals: units.DateUnits) -> Fact:
        waste = modifiers.waste_modifiers(lines)
        fact: Fact = {
            **shared,
            "id": f"date-{shared['dos']}",
            "kind": "date",
            "line": lines[0].line if len(lines) == 1 else min(line.line for line in lines),
            "kit_mg": self.kit_mg,
            "administered_units": totals.administered_units,
            "discarded_units": totals.discarded_units,
            "total_units": totals.total_units,
            "kits_opened": totals.kits_opened,
            "administered_mg": fact_number(totals.administered_mg),
            # The waste edits judge a date only when every drug line's units are valid;
            # invalid units are UNITS_INVALID's to report.
            "units_valid": all(f["units_valid"] for f in line_facts),
            "fills_whole_kits": totals.fills_whole_kits,
            "discards_under_one_kit": totals.discards_under_one_kit,
            "administered_whole_kits": totals.administered_whole_kits,
            "has_jw_line": waste.has_jw_line,
            "has_jz": waste.has_jz,
            "jwjz_conflict": waste.conflict,
            "jwjz_missing": waste.missing,
            "jw_without_admin": waste.jw_without_administered,
        }
        for matcher in self._diagnosis:
            name = matcher.name
            fact[name] = any(f[name] for f in line_facts)
        return fact


def _codes(fact: Fact, claim: Claim, line: ClaimLine, releases: tuple, decides: bool) -> None:
    """The line's diagnoses against the ICD-10-CM release in force on the date, when loaded:
    the pointer (1-based position) of the first that is not a code, and of the first header.
    Where the release cannot prove it (the October release from April 1), the pointer of the
    first code it does not hold as billable is a note's (``dx_unconfirmed_at``)."""
    fact["dx_codes_checked"] = True
    for pointer in line.dx_pointers:
        # The same release loaded twice (the order and the codes file, an updated download):
        # the code is as good as the best of them says, so only a code none of them holds is judged.
        status = min((release.status(claim.diagnoses[pointer - 1]) for release in releases), key=_STATUS_RANK.get)
        if status != "billable" and not decides:
            fact.setdefault("dx_unconfirmed_at", pointer)
        elif status == "unknown":
            fact.setdefault("dx_unknown_at", pointer)
        elif status == "header":
            fact.setdefault("dx_header_at", pointer)


def _patient(fact: Fact, claim: Claim, day: dt.date) -> None:
    born = claim.patient.birth_date
    if born is not None:
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        fact["patient_under_18"] = age < 18


def _schedule(fact: Fact, day: dt.date, billed: Sequence[tuple[dt.date, int]], parameters: dict) -> None:
    """Dosing interval and units-per-window facts, from this claim's dates and the history."""
    others = [abs((other - day).days) for other, _units in billed if other != day]
    if others:
        fact["days_to_other_dose"] = min(others)
    interval = parameters.get("min_days_between_doses")
    if interval is not None:
        fact["dose_within_interval"] = bool(others) and min(others) < interval
    limit, window = parameters.get("units_limit"), parameters.get("units_limit_days")
    if limit is not None and window is not None:
        in_window = sum(n for other, n in billed if 0 <= (day - other).days < window)
        fact["units_in_window"] = in_window
        fact["units_over_limit"] = in_window > limit


def _documentation(fact: Fact, line: ClaimLine) -> None:
    doc = line.documentation
    fact["doc_given"] = doc is not None
    if doc is None:
        return
    fact["doc_has_lot"] = bool(doc.lot)
    fact["doc_has_expiration"] = doc.expiration is not None
    fact["doc_has_route"] = bool(doc.route)
    fact["doc_route_iv"] = (doc.route or "").strip().upper() in ("IV", "INTRAVENOUS")
    fact["doc_expired"] = doc.expiration is not None and doc.expiration < line.service_date


_STATUS_RANK = {"billable": 0, "header": 1, "unknown": 2}
_GRID = Decimal("0.001")


def fact_number(value: Decimal) -> int | float:
    """A quantity as a JSON-native number that never prints with an exponent.

    durable-rules rejects ``5e-05``. Rounding up to the 0.001 grid keeps every
    comparison with a threshold on that grid exact (x > 25 iff ceil(x) > 25),
    and a float from 0.001 to 1e15 always prints in plain form.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value.quantize(_GRID, rounding=ROUND_CEILING))


def plain_number(value: Decimal) -> str:
    """A Decimal as JSON without an exponent (durable-rules rejects ``5e-05``)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
