"""A realistic, reproducible mix of J9330 claims for the benchmark.

The mix (by weight): about 45 % clean claims billed the CMS way (JZ when nothing is wasted,
else a separate JW line), 20 % clean claims whose waste line is the point, 30 % claims with
one billing error (units off the dose, waste that does not add up, missing or conflicting
JW/JZ, 340B modifiers, invalid or foreign NDCs, uncovered or missing diagnoses, a missing
administration code, an inpatient setting, a wrong revenue code, incomplete documentation, a
dose above the label, a missing prior authorization where BCBS requires one), and 5 % claims
that fail the claim contract (an error result, not findings). Payers: Medicare 40 %, Aetna,
BCBS, Cigna and UHC 15 % each. Each claim has 1 to 4 J9330 lines over one or two dates of
service (85 % in 2026 Q1, the quarter of the fixture CMS files), the administration code, and
sometimes premedication lines.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from decimal import Decimal
from typing import Any

from j9330_rules.facts import units

PAYERS = ["medicare"] * 8 + ["aetna", "bcbs", "cigna", "uhc"] * 3
COVERED = {
    "medicare": ["C64.1", "C64.2"],
    "aetna": ["C64.1", "C54.1", "C49.9"],
    "bcbs": ["C64.1", "C83.10"],
    "cigna": ["C64.1"],
    "uhc": ["C64.1", "C54.1"],
}
UNCOVERED = ["C50.911", "E11.9", "C18.9"]
NDCS = ["00008117901", "0008-1179-01", "68083020201"]
PREMEDS = ["J1200", "J2405", "J1100"]
ADMIN = ["96413", "96413", "96409"]
TB_TYPES = ["critical_access", "rural_sch", "cancer"]
ERRORS = [
    "prior_auth",
    "units_off",
    "waste_sum",
    "jwjz_missing",
    "jwjz_conflict",
    "340b_missing",
    "340b_wrong",
    "ndc_invalid",
    "ndc_foreign",
    "dx_uncovered",
    "dx_missing",
    "no_admin",
    "inpatient",
    "revenue_code",
    "documentation",
    "dose_high",
]


def _dose(rng: random.Random) -> Decimal:
    # Mostly the labeled 25 mg weekly, sometimes weight-based or doubled doses (two kits).
    return rng.choice(
        [Decimal(25)] * 6
        + [Decimal(20), Decimal(20), Decimal("15.5"), Decimal("22.5"), Decimal(10), Decimal("37.5"), Decimal(50)]
    )


def _drug_lines(rng: random.Random, day: dt.date, dose: Decimal, ndc: str, waste_line: bool) -> list[dict]:
    """The correct billing of one dose, optionally split over two administered lines."""
    billing = units.bill_dose(dose)
    doc = {
        "lot": f"L{rng.randrange(10**5):05d}",
        "expiration": (day + dt.timedelta(days=300)).isoformat(),
        "route": "IV",
    }
    lines = []
    administered = billing.administered_units
    if administered >= 20 and rng.random() < 0.2:  # one dose billed over two lines (two infusions)
        first = administered // 2
        parts = [first, administered - first]
    else:
        parts = [administered]
    for part in parts:
        lines.append(
            {
                "hcpcs": "J9330",
                "modifiers": list(billing.administered_modifiers),
                "units": part,
                "service_date": day.isoformat(),
                "charge": f"{part * 120}.00",
                "ndc": ndc,
                "ndc_unit": "UN",
                "ndc_quantity": str(billing.kits),
                "dx_pointers": [1],
                "dose_mg": str(dose) if len(parts) == 1 else None,
                "documentation": doc,
            }
        )
    if (billing.discarded_units or waste_line) and billing.discarded_units:
        lines.append(
            {
                "hcpcs": "J9330",
                "modifiers": ["JW"],
                "units": billing.discarded_units,
                "service_date": day.isoformat(),
                "charge": f"{billing.discarded_units * 120}.00",
                "ndc": ndc,
                "ndc_unit": "UN",
                "ndc_quantity": str(billing.kits),
                "dx_pointers": [1],
            }
        )
    return lines


def _clean(rng: random.Random, index: int, *, waste: bool) -> dict[str, Any]:
    payer = rng.choice(PAYERS)
    form = "institutional" if rng.random() < 0.3 else "professional"
    # Mostly the quarter the loaded CMS files cover (2026 Q1), some older claims.
    if rng.random() < 0.85:
        start = dt.date(2026, 1, 2) + dt.timedelta(days=rng.randrange(0, 80))
    else:
        start = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 700))
    days = [start] if rng.random() < 0.8 else [start, start + dt.timedelta(days=7)]
    ndc = rng.choice(NDCS)
    lines: list[dict] = []
    for day in days:
        dose = Decimal(rng.choice([20, 22, "15.5", "12.5"])) if waste else _dose(rng)
        lines += _drug_lines(rng, day, dose, ndc, waste)
        lines.append(
            {
                "hcpcs": rng.choice(ADMIN),
                "units": 1,
                "service_date": day.isoformat(),
                "charge": "350.00",
                "dx_pointers": [1],
            }
        )
        for code in rng.sample(PREMEDS, rng.randrange(0, 3)):
            lines.append(
                {"hcpcs": code, "units": 1, "service_date": day.isoformat(), "charge": "40.00", "dx_pointers": [1]}
            )
    # 1 to 4 J9330 lines per claim, as billed: keep the first four drug lines' dates whole.
    drug = [line for line in lines if line["hcpcs"] == "J9330"]
    if len(drug) > 4:
        keep_day = drug[0]["service_date"]
        lines = [line for line in lines if line["service_date"] == keep_day]
    is_340b = form == "institutional" and rng.random() < 0.3
    hospital_type = rng.choice([*TB_TYPES, "dsh", "dsh"]) if is_340b else None
    if is_340b:
        flag = "TB" if hospital_type in TB_TYPES else "JG"
        for line in lines:
            if line["hcpcs"] == "J9330":
                line["modifiers"] = [*line["modifiers"], flag]
    if form == "institutional":
        for line in lines:
            line["revenue_code"] = "0636" if line["hcpcs"] == "J9330" else "0335"
    claim = {
        "claim_id": f"BENCH-{index:07d}",
        "payer": payer,
        "form": form,
        "place_of_service": "11" if form == "professional" else None,
        "type_of_bill": "0131" if form == "institutional" else None,
        "diagnoses": [rng.choice(COVERED[payer]), *rng.sample(["I10", "E78.5", "Z51.11"], rng.randrange(0, 3))],
        "patient": {
            "birth_date": f"{rng.randrange(1940, 1990)}-0{rng.randrange(1, 10)}-1{rng.randrange(0, 10)}",
            "sex": rng.choice("FM"),
        },
        "provider": {"npi": "1234567893", "is_340b": is_340b, "hospital_type": hospital_type},
        "prior_authorization": "PA-1" if payer == "bcbs" or rng.random() < 0.5 else None,
        "lines": [{"line": number, **line} for number, line in enumerate(lines, start=1)],
    }
    return claim


def _with_error(rng: random.Random, claim: dict) -> dict:
    kind = rng.choice(ERRORS)
    drug = [line for line in claim["lines"] if line["hcpcs"] == "J9330"]
    first = drug[0]
    if kind == "units_off":
        first["units"] = max(1, first["units"] + rng.choice([-3, -1, 1, 5]))
    elif kind == "waste_sum":
        first["dose_mg"] = None
        if len(drug) < 4:
            claim["lines"].append({**first, "modifiers": ["JW"], "units": rng.choice([3, 26])})
        else:
            drug[-1].update(modifiers=["JW"], units=rng.choice([3, 26]))
    elif kind == "jwjz_missing":
        for line in drug:
            line["modifiers"] = [m for m in line["modifiers"] if m not in ("JW", "JZ")]
        claim["lines"] = [line for line in claim["lines"] if "JW" not in line.get("modifiers", ()) or line is first]
    elif kind == "jwjz_conflict":
        first["modifiers"] = [*first["modifiers"], "JW", "JZ"][:4]
    elif kind == "340b_missing":
        claim["provider"] = {"npi": "1234567893", "is_340b": True, "hospital_type": "dsh"}
    elif kind == "340b_wrong":
        claim["provider"] = {"npi": "1234567893", "is_340b": True, "hospital_type": "critical_access"}
        for line in drug:
            line["modifiers"] = [*line["modifiers"], "JG"][:4]
    elif kind == "ndc_invalid":
        first["ndc"] = rng.choice(["1234567890", "12345", "0008-1179-1"])
    elif kind == "ndc_foreign":
        first["ndc"] = "00069011801"
    elif kind == "dx_uncovered":
        claim["diagnoses"][0] = rng.choice(UNCOVERED)
    elif kind == "dx_missing":
        first["dx_pointers"] = []
    elif kind == "no_admin":
        claim["form"], claim["place_of_service"], claim["type_of_bill"] = "professional", "11", None
        claim["lines"] = [line for line in claim["lines"] if line["hcpcs"] not in ADMIN]
    elif kind == "inpatient":
        if claim["form"] == "professional":
            claim["place_of_service"] = "21"
        else:
            claim["type_of_bill"] = "0111"
    elif kind == "revenue_code":
        claim["form"], claim["type_of_bill"], claim["place_of_service"] = "institutional", "0131", None
        for line in claim["lines"]:
            line["revenue_code"] = "0250"
    elif kind == "documentation":
        first["documentation"] = rng.choice([{"lot": "L1"}, {"lot": "", "expiration": "2020-01-01", "route": "SC"}])
    elif kind == "prior_auth":
        claim["payer"], claim["prior_authorization"] = "bcbs", None
    elif kind == "dose_high":
        first["dose_mg"] = str(first["units"] + 40)
        first["units"] = first["units"] + 40
    claim["lines"] = [{**line, "line": number} for number, line in enumerate(claim["lines"], start=1)]
    return claim


def _invalid(rng: random.Random, claim: dict) -> Any:
    kind = rng.randrange(4)
    if kind == 0:
        claim["lines"][0]["service_date"] = "2024-02-30"
    elif kind == 1:
        claim["lines"][0]["modifiers"] = ["JWX"]
    elif kind == 2:
        claim["payer"] = "acme"
    else:
        claim["lines"][0]["dx_pointers"] = [9]
    return claim


def generate(count: int, seed: int = 9330) -> list[dict[str, Any]]:
    """``count`` claims of the mix described in the module docstring, reproducibly."""
    rng = random.Random(seed)
    claims = []
    for index in range(count):
        roll = rng.random()
        if roll < 0.45:
            claim = _clean(rng, index, waste=False)
        elif roll < 0.65:
            claim = _clean(rng, index, waste=True)
        elif roll < 0.95:
            claim = _with_error(rng, _clean(rng, index, waste=rng.random() < 0.5))
        else:
            claim = _invalid(rng, _clean(rng, index, waste=False))
        claims.append(claim)
    return claims


def stream(pool: list[dict[str, Any]], count: int):
    """``count`` claims cycling over ``pool``, each with its own claim id (no copies kept)."""
    size = len(pool)
    for index in range(count):
        claim = copy.copy(pool[index % size])
        claim["claim_id"] = f"BENCH-{index:09d}"
        yield claim
