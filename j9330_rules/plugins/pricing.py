"""Reimbursement benchmarks: units × a rate per unit, line by line, to the cent.

The rate comes from reference data the user loaded (the CMS ASP payment
limit for Medicare Part B, a contract fee schedule for commercial payers);
with no rate for a line's date there is no benchmark at all, rather than a
partial one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from j9330_rules.facts.units import whole_units
from j9330_rules.model import Claim, Payment, PaymentLine

CENT = Decimal("0.01")


def line_allowed(units: int, rate: Decimal) -> Decimal:
    return (units * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def benchmark(claim: Claim, rate_on: Callable[[dt.date], Decimal | None], *, basis: str, source: str) -> Payment | None:
    """Allowed amount for the J9330 lines (administered and JW) with valid units."""
    lines = []
    for line in claim.drug_lines:
        units = whole_units(line.units)
        if units is None:
            continue
        rate = rate_on(line.service_date)
        if rate is None:
            return None
        lines.append(PaymentLine(line.line, units, rate, line_allowed(units, rate)))
    if not lines:
        return None
    return Payment(sum((line.allowed for line in lines), Decimal("0.00")), basis, source, tuple(lines))
