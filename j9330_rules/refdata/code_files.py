"""Code validity from the files their publishers ship: CMS's ICD-10-CM code files and the FDA
NDC Directory's package file. Both are optional, user-loaded, and read in their published
formats (the text files, or the ZIP that holds them).

ICD-10-CM (CMS, "code descriptions in tabular order"): the order file, fixed width, gives
every code with a flag: 1 is valid for HIPAA-covered transactions (billable), 0 a header
(e.g. the category C64, whose billable codes are C64.1, C64.2, C64.9). The codes file lists the
billable codes alone. The fiscal year (October 1 to September 30) comes from the file name
(``icd10cm_order_2026.txt`` is FY2026: 2025-10-01 to 2026-09-30), or is given.

Since FY2022 ICD-10-CM is updated twice a year, October 1 and April 1, and the April 1 release
can add codes. So the October release proves a code invalid only up to March 31; from April 1
that is for the April 1 release (a file, folder or ZIP whose name says April, as CMS and CDC
name them, or ``release="april"``), and the October release's word there is only a note.

FDA NDC Directory ``package.txt``: tab-delimited, with NDCPACKAGECODE (hyphenated 4-4-2, 5-3-2
or 5-4-1), STARTMARKETINGDATE and ENDMARKETINGDATE (YYYYMMDD). It lists products currently
listed with FDA; NDCs that are no longer listed are published separately, so an NDC that is
absent is not known to be off the market.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

from attrs import define, field

from j9330_rules.dates import DateRange
from j9330_rules.errors import ReferenceFileError
from j9330_rules.facts import ndc

__all__ = ["Icd10CodeFile", "NdcDirectory", "load_icd10", "load_ndc_directory"]

_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
_CODE = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")


def _text(path: Path, wanted: re.Pattern[str], what: str, rank=lambda name: 0) -> tuple[str, str]:
    """(text, name read): the file itself, or its member whose name matches ``wanted`` in a ZIP
    (the lowest ``rank`` of them, then the first by name). The name is the member's path in the ZIP."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReferenceFileError(path, f"cannot read the {what} ({type(exc).__name__})") from None
    name = path.name
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                members = [m for m in archive.namelist() if wanted.search(Path(m).name.lower())]
                members.sort(key=lambda m: (rank(Path(m).name.lower()), m))
                if not members:
                    raise ReferenceFileError(path, f"the ZIP holds no {what} ({', '.join(archive.namelist()[:8])})")
                name = members[0]
                data = archive.read(name)
        except zipfile.BadZipFile:
            raise ReferenceFileError(path, "the ZIP archive cannot be opened; download it again") from None
    try:
        return data.decode("utf-8-sig"), name
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), name


@define(frozen=True)
class Icd10CodeFile:
    """One release of a fiscal year's ICD-10-CM codes: code (no dot) → billable.

    ``effective`` is when the release is in force: October 1 to September 30 for the October
    release, April 1 to September 30 for the April 1 release."""

    codes: dict[str, bool] = field(repr=False)
    effective: DateRange
    path: str
    fiscal_year: int = 0
    release: str = "october"  # or "april"

    def status(self, code: str) -> str:
        """billable, header or unknown."""
        found = self.codes.get(code.upper().replace(".", ""))
        return "unknown" if found is None else "billable" if found else "header"

    def decides(self, day: dt.date) -> bool:
        """Can this release prove a code invalid on ``day``? The October release not from April 1,
        when the April 1 release (which can add codes) is in force."""
        return self.effective.contains(day) and (
            self.release == "april" or day < dt.date(self.effective.effective_to.year, 4, 1)
        )


_ORDER_LINE = "order number, code, 0/1 flag"
_APRIL = re.compile(r"april", re.IGNORECASE)
_RELEASES = ("october", "april")


def load_icd10(path: str | Path, *, fiscal_year: int | None = None, release: str | None = None) -> Icd10CodeFile:
    """The order file (billable and header codes) or the codes file (billable codes only), or the
    ZIP that holds them (the order file is preferred; the addenda are passed over).

    ``fiscal_year`` and ``release`` ("october" or "april") default to what the names say: the
    year in the file's (or ZIP member's) name, and the April 1 release when the name of the file,
    its folder or the ZIP says April."""
    path = Path(path)
    text, member = _text(
        path,
        re.compile(r"^icd10cm.*(order|codes)(?!.*addenda).*\.txt$"),
        "ICD-10-CM order or codes file",
        rank=lambda name: 0 if "order" in name else 1,
    )
    name = Path(member).name
    if fiscal_year is None:
        match = _YEAR.search(name) or _YEAR.search(path.name)
        if match is None:
            raise ReferenceFileError(
                path, "the file name does not say the fiscal year (CMS names it icd10cm_order_2026.txt)"
            )
        fiscal_year = int(match[1])
    if release is None:
        names = (*Path(member).parts, *path.parts[-3:])
        release = "april" if any(_APRIL.search(part) for part in names) else "october"
    if release not in _RELEASES:
        raise ValueError(f"release is one of {', '.join(_RELEASES)}, not {release!r}")
    codes: dict[str, bool] = {}
    order = "order" in name.lower()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if order:
            # Columns (1-based): 1-5 order number, 7-13 code, 15 the flag, 17-76 short, 78- long description.
            code, flag = line[6:13].strip(), line[14:15]
            if not _CODE.fullmatch(code) or flag not in ("0", "1") or not line[:5].strip().isdigit():
                raise ReferenceFileError(path, f"line {number}: not an ICD-10-CM order file line ({_ORDER_LINE})")
            codes[code] = flag == "1"
        else:
            code = line.split(None, 1)[0]
            if not _CODE.fullmatch(code):
                raise ReferenceFileError(path, f"line {number}: not an ICD-10-CM codes file line (code, description)")
            codes[code] = True
    if not codes:
        raise ReferenceFileError(path, "the ICD-10-CM file holds no codes")
    start = dt.date(fiscal_year, 4, 1) if release == "april" else dt.date(fiscal_year - 1, 10, 1)
    effective = DateRange(start, dt.date(fiscal_year, 9, 30))
    return Icd10CodeFile(codes, effective, str(path), fiscal_year, release)


@define(frozen=True)
class NdcDirectory:
    """The FDA NDC Directory's packages: 11-digit NDC → the days it is marketed."""

    packages: dict[str, DateRange] = field(repr=False)
    path: str

    def marketed(self, code: str, day: dt.date) -> bool | None:
        """True or False on ``day``; None when the directory does not list the NDC."""
        found = self.packages.get(code)
        return None if found is None else found.contains(day)


_PACKAGE_COLUMNS = ("NDCPACKAGECODE", "STARTMARKETINGDATE", "ENDMARKETINGDATE")


def _day(text: str, path: Path, number: int, column: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise ReferenceFileError(path, f"line {number}: {column} is not a YYYYMMDD date") from None


def load_ndc_directory(path: str | Path) -> NdcDirectory:
    """``package.txt`` (tab-delimited), or the FDA's ndctext.zip that holds it."""
    path = Path(path)
    text, _name = _text(path, re.compile(r"^package\.txt$"), "NDC Directory package.txt")
    rows = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    header = [cell.strip().upper() for cell in next(rows, [])]
    missing = [column for column in _PACKAGE_COLUMNS if column not in header]
    if missing:
        raise ReferenceFileError(path, f"line 1: not the NDC Directory package file (no {', '.join(missing)} column)")
    code_at, start_at, end_at = (header.index(column) for column in _PACKAGE_COLUMNS)
    packages: dict[str, DateRange] = {}
    for number, cells in enumerate(rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) <= max(code_at, start_at, end_at):
            raise ReferenceFileError(path, f"line {number}: fewer columns than the header")
        normal = ndc.normalise(cells[code_at].strip())
        if normal is None:  # one odd row of a 200,000-row file does not cost the file
            continue
        start = _day(cells[start_at], path, number, "STARTMARKETINGDATE")
        end = _day(cells[end_at], path, number, "ENDMARKETINGDATE")
        known = packages.get(normal)
        if known is not None:  # a package on two rows (ProductID is per SPL document): the widest period
            start = None if None in (start, known.effective_from) else min(start, known.effective_from)
            end = None if None in (end, known.effective_to) else max(end, known.effective_to)
        packages[normal] = DateRange(start, end)
    if not packages:
        raise ReferenceFileError(path, "the NDC Directory package file lists no packages")
    return NdcDirectory(packages, str(path))
