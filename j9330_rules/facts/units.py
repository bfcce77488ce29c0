"""Unit arithmetic for J9330, where one billing unit is one milligram.

The rules are CMS's single-dose-container rules: administered units round
up, discarded units round down, and the labeled amount of the kits opened
(never the overfill) bounds what can be billed. The kit size is a parameter
because it is reference data; 25 mg is the labeled default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from attrs import define

from j9330_rules.model import ClaimLine

LABELED_KIT_MG = 25  # FDA label, Torisel: 25 mg/mL vial, labeled contents 25 mg


@define(frozen=True)
class DoseBilling:
    """How a dose is billed correctly: the administered line and the JW line."""

    dose_mg: Decimal
    kits: int
    administered_units: int
    discarded_units: int

    @property
    def administered_modifiers(self) -> tuple[str, ...]:
        """JZ when nothing was discarded; otherwise the JW line carries the waste."""
        return ("JZ",) if self.discarded_units == 0 else ()


def administered_units(dose_mg: Decimal) -> int:
    return math.ceil(dose_mg)


def kits_for_dose(dose_mg: Decimal, kit_mg: int = LABELED_KIT_MG) -> int:
    return math.ceil(dose_mg / kit_mg)


def discarded_units(dose_mg: Decimal, kits: int, kit_mg: int = LABELED_KIT_MG) -> int:
    return math.floor(kits * kit_mg - dose_mg)


def bill_dose(dose_mg: Decimal, kit_mg: int = LABELED_KIT_MG) -> DoseBilling:
    """The correct billing for one dose given from as few kits as hold it."""
    if dose_mg <= 0:
        raise ValueError("a dose must be positive")
    kits = kits_for_dose(dose_mg, kit_mg)
    return DoseBilling(dose_mg, kits, administered_units(dose_mg), discarded_units(dose_mg, kits, kit_mg))


def whole_units(units: Decimal | None) -> int | None:
    """The units as an int when they are a whole positive number, else None."""
    if units is None or units <= 0 or units != units.to_integral_value():
        return None
    return int(units)


def is_waste_line(line: ClaimLine) -> bool:
    return "JW" in line.modifiers


@define(frozen=True)
class DateUnits:
    """The units billed for one drug on one date of service."""

    administered_units: int
    discarded_units: int
    administered_mg: Decimal
    kit_mg: int

    @property
    def total_units(self) -> int:
        return self.administered_units + self.discarded_units

    @property
    def kits_opened(self) -> int:
        return math.ceil(self.total_units / self.kit_mg)

    @property
    def fills_whole_kits(self) -> bool:
        return self.total_units % self.kit_mg == 0

    @property
    def discards_under_one_kit(self) -> bool:
        """A whole unopened kit is never waste: it was not opened."""
        return self.discarded_units < self.kit_mg

    @property
    def administered_whole_kits(self) -> bool:
        return self.administered_units % self.kit_mg == 0


def date_units(lines: Iterable[ClaimLine], kit_mg: int = LABELED_KIT_MG) -> DateUnits:
    """Sum the drug lines of one date; lines with invalid units count as zero.

    A date with invalid units is not judged by the waste edits (the date fact
    says so), so the zero never reaches a finding.
    """
    administered = discarded = 0
    administered_mg = Decimal(0)
    for line in lines:
        units = whole_units(line.units) or 0
        if is_waste_line(line):
            discarded += units
        else:
            administered += units
            administered_mg += line.dose_mg if line.dose_mg is not None else units
    return DateUnits(administered, discarded, administered_mg, kit_mg)
