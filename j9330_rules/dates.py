"""The one date-range type: rule and parameter periods, CMS files, fee-schedule rates, the report."""

from __future__ import annotations

import datetime as dt

from attrs import define


@define(frozen=True)
class DateRange:
    """A range of days, open at either end (None); both ends are included."""

    effective_from: dt.date | None = None
    effective_to: dt.date | None = None

    def contains(self, day: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to
        )

    def overlaps(self, other: DateRange) -> bool:
        lo = max(self.effective_from or dt.date.min, other.effective_from or dt.date.min)
        hi = min(self.effective_to or dt.date.max, other.effective_to or dt.date.max)
        return lo <= hi

    @property
    def ordered(self) -> bool:
        """False when the range ends before it starts."""
        start, end = self.effective_from, self.effective_to
        return start is None or end is None or start <= end

    @property
    def open(self) -> bool:
        return self.effective_from is None and self.effective_to is None

    def describe(self, *, always: str = "always") -> str:
        """In words ("from 2023-07-01", "2023-07-01 to 2023-09-30"); ``always`` when open."""
        start, end = self.effective_from, self.effective_to
        if start is None and end is None:
            return always
        if end is None:
            return f"from {start}"
        if start is None:
            return f"until {end}"
        return f"{start} to {end}"

    def span(self, *, unknown: str = "period unknown") -> str:
        """As a file's period is listed ("2026-01-01 to 2026-03-31", "2026-01-01 to open"); ``unknown`` when open."""
        if self.open:
            return unknown
        return f"{self.effective_from or '...'} to {self.effective_to or 'open'}"


class Dated:
    """For a record that holds its period as ``effective``: its two ends by name."""

    __slots__ = ()
    effective: DateRange

    @property
    def effective_from(self) -> dt.date | None:
        return self.effective.effective_from

    @property
    def effective_to(self) -> dt.date | None:
        return self.effective.effective_to
