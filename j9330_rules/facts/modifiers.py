"""Modifier logic for J9330 drug lines: JW/JZ waste reporting and 340B flags.

JW marks discarded drug and goes on its own line; JZ says nothing was
discarded. The two never meet on one date. The 340B modifier depends on the
kind of hospital and on the department (PN on the line), through lists that
are payer policy (effective-dated in the payer's spec), so they are passed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from attrs import define

from j9330_rules.model import ClaimLine, Provider

WASTE = "JW"
NO_WASTE = "JZ"
MODIFIERS_340B = ("JG", "TB")


@define(frozen=True)
class WasteModifiers:
    """The JW/JZ state of the drug lines of one date."""

    has_jw_line: bool
    has_jz: bool
    line_with_both: bool
    administered_lines: int
    administered_without_jz: int

    @property
    def conflict(self) -> bool:
        return self.line_with_both or (self.has_jz and self.has_jw_line)

    @property
    def missing(self) -> bool:
        """An administered line carries neither JZ nor a JW line beside it."""
        return not self.has_jw_line and self.administered_without_jz > 0

    @property
    def jw_without_administered(self) -> bool:
        return self.has_jw_line and self.administered_lines == 0


def waste_modifiers(lines: Iterable[ClaimLine]) -> WasteModifiers:
    has_jw_line = has_jz = both = False
    administered = without_jz = 0
    for line in lines:
        jw, jz = WASTE in line.modifiers, NO_WASTE in line.modifiers
        both = both or (jw and jz)
        has_jz = has_jz or jz
        if jw:
            has_jw_line = True
        else:
            administered += 1
            without_jz += not jz
    return WasteModifiers(has_jw_line, has_jz, both, administered, without_jz)


def expected_340b(provider: Provider, tb_hospital_types: Collection[str]) -> str | None:
    """JG or TB for a 340B provider, None for a provider outside 340B."""
    if not provider.is_340b:
        return None
    return "TB" if provider.hospital_type in tb_hospital_types else "JG"


def line_expected_340b(expected: str, line: ClaimLine, tb_department_modifiers: Collection[str]) -> str:
    """The line's JG/TB expectation: TB when the line carries a department modifier that reports TB
    (PN, a non-excepted off-campus department), whatever the hospital's type; else the claim's."""
    if expected != "none" and any(code in tb_department_modifiers for code in line.modifiers):
        return "TB"
    return expected


def billed_340b(line: ClaimLine) -> str | None:
    present = [code for code in MODIFIERS_340B if code in line.modifiers]
    return present[0] if len(present) == 1 else ("both" if present else None)


def outside(line: ClaimLine, accepted: Collection[str]) -> tuple[str, ...]:
    """The line's modifiers that are not in ``accepted``."""
    return tuple(code for code in line.modifiers if code not in accepted)
