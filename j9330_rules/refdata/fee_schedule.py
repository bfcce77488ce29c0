"""Contract fee schedules: a commercial payer's rate per unit, loaded from CSV.

Commercial rates are contract terms, never public data, so they always come
from a file the user loads. The layout is j9330-rules' own (documented in
docs/reference-data.md): a header row with ``payer``, ``hcpcs``,
``rate_per_unit``, ``effective_from`` and ``effective_to`` (blank for open).
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path

from attrs import define

from j9330_rules.dates import Dated, DateRange
from j9330_rules.errors import ReferenceFileError

COLUMNS = ("payer", "hcpcs", "rate_per_unit", "effective_from", "effective_to")


@define(frozen=True)
class FeeRate(Dated):
    payer: str
    hcpcs: str
    rate_per_unit: Decimal
    effective: DateRange  # always starts; may stay open
    path: Path

    def covers(self, day: dt.date) -> bool:
        return self.effective.contains(day)


def load_fee_schedule(path: str | Path, codes: frozenset[str] = frozenset({"J9330"})) -> tuple[FeeRate, ...]:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip().lower() for name in reader.fieldnames or ()]
            missing = [name for name in COLUMNS if name not in header]
            if missing:
                raise ReferenceFileError(
                    path,
                    f"not a j9330-rules fee schedule: missing column(s) {', '.join(missing)}",
                    expected="fee schedule",
                    found="other CSV",
                )
            reader.fieldnames = header
            return tuple(
                _rate(row, path, number)
                for number, row in enumerate(reader, start=2)
                if (row.get("hcpcs") or "").strip().upper() in codes
            )
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReferenceFileError(path, f"cannot read the fee schedule ({type(exc).__name__})") from None


def _rate(row: dict, path: Path, number: int) -> FeeRate:
    try:
        rate = Decimal(row["rate_per_unit"].strip().lstrip("$").replace(",", ""))
        start = dt.date.fromisoformat(row["effective_from"].strip())
        end_text = (row.get("effective_to") or "").strip()
        end = dt.date.fromisoformat(end_text) if end_text else None
    except (InvalidOperation, ValueError, AttributeError):
        raise ReferenceFileError(path, f"row {number}: rate_per_unit must be a number and dates YYYY-MM-DD") from None
    if not rate.is_finite() or rate < 0:
        raise ReferenceFileError(path, f"row {number}: rate_per_unit must be a non-negative number")
    return FeeRate(row["payer"].strip().lower(), row["hcpcs"].strip().upper(), rate, DateRange(start, end), path)
