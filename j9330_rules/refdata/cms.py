"""Loaders for the CMS reference files: ASP payment limits, the ASP NDC-HCPCS
crosswalk and the NCCI MUE tables.

The details (how it works, and why) are in docs/internals.md, "CMS file loaders".
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attrs import define, field

from j9330_rules.dates import Dated, DateRange
from j9330_rules.errors import ReferenceFileError
from j9330_rules.facts import ndc as ndc_codes

__all__ = [
    "DEFAULT_CODES",
    "KINDS",
    "MUE_KINDS",
    "AspFile",
    "AspRow",
    "Crosswalk",
    "CrosswalkRow",
    "MueRow",
    "MueTable",
    "ReferenceFileError",
    "load",
    "load_asp",
    "load_crosswalk",
    "load_mue",
    "quarter_bounds",
    "quarter_from_name",
    "sniff",
]

DEFAULT_CODES: frozenset[str] = frozenset({"J9330"})
KINDS = ("asp", "crosswalk", "mue")
MUE_KINDS = ("practitioner", "outpatient_hospital", "dme")

#: How many leading rows are searched for the header. Real files put it on
#: row 2 (MUE) or row 9 (ASP, crosswalk).
HEADER_SCAN_ROWS = 60


# --------------------------------------------------------------------------- models


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, MappingProxyType) else MappingProxyType(dict(value))


def _tuple(value: Iterable[Any]) -> tuple:
    return tuple(value)


@define(frozen=True)
class AspRow:
    """One HCPCS code's line of the ASP pricing file.

    ``payment_limit`` is per HCPCS billing unit (``dosage``) and already
    includes the statutory add-on (106% of ASP for most drugs). It is ``None``
    where the file posts ``N/A`` (the Notes then say how the drug is priced).
    """

    hcpcs: str
    short_description: str
    dosage: str
    payment_limit: Decimal | None
    coinsurance_percentage: Decimal | None = None
    notes: str = ""


@define(frozen=True)
class AspFile(Dated):
    path: Path
    quarter: str | None
    effective: DateRange
    rows: Mapping[str, AspRow] = field(converter=_frozen_mapping, hash=False)
    metadata: tuple[str, ...] = field(default=(), converter=_tuple)
    #: Where the period came from: "metadata", "file name", or None.
    period_source: str | None = None


@define(frozen=True)
class CrosswalkRow:
    """One NDC's line of the ASP NDC-HCPCS crosswalk.

    ``bill_units`` is the HCPCS billing units in one item of the package
    (``pkg_size`` of it); ``bill_units_pkg`` is the billing units in the whole
    NDC package (``bill_units`` x ``pkg_qty``).
    """

    hcpcs: str
    ndc: str
    labeler: str
    drug_name: str
    hcpcs_dosage: str
    pkg_size: str
    pkg_qty: Decimal
    bill_units: Decimal
    bill_units_pkg: Decimal
    short_description: str = ""
    #: The identifier exactly as the file lists it (e.g. "00008-1179-01").
    ndc_as_listed: str = ""


@define(frozen=True)
class Crosswalk(Dated):
    path: Path
    quarter: str | None
    effective: DateRange
    #: Keyed by 11-digit NDC. When one NDC is listed under more than one of the
    #: requested codes, this holds the first; ``entries`` holds them all.
    rows: Mapping[str, CrosswalkRow] = field(converter=_frozen_mapping, hash=False)
    #: The HCPCS column's name as found, e.g. "_2026_CODE".
    code_column: str = ""
    #: Every kept row, in file order.
    entries: tuple[CrosswalkRow, ...] = field(default=(), converter=_tuple)
    #: (hcpcs, identifier) for kept rows whose identifier is not an NDC (CMS
    #: lists a few devices under other product numbers).
    not_ndc: tuple[tuple[str, str], ...] = field(default=(), converter=_tuple)
    metadata: tuple[str, ...] = field(default=(), converter=_tuple)
    period_source: str | None = None

    #: ``entries`` by 11-digit NDC: a quarter's file lists thousands of NDCs.
    by_ndc: Mapping[str, tuple[CrosswalkRow, ...]] = field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        index: dict[str, list[CrosswalkRow]] = {}
        for row in self.entries:
            index.setdefault(row.ndc, []).append(row)
        object.__setattr__(self, "by_ndc", {ndc: tuple(rows) for ndc, rows in index.items()})

    def for_ndc(self, ndc: str) -> tuple[CrosswalkRow, ...]:
        """Every kept row for ``ndc`` (any form ``ndc.normalise`` accepts)."""
        digits = ndc_codes.normalise(ndc)
        return self.by_ndc.get(digits, ()) if digits else ()


@define(frozen=True)
class MueRow:
    """One code's MUE: at most ``value`` units; ``mai`` says how it adjudicates.

    MAI 1 is a claim-line edit; 2 a date-of-service edit based on policy
    (absolute); 3 a date-of-service edit based on clinical data.
    """

    hcpcs: str
    value: int
    mai: int
    rationale: str


@define(frozen=True)
class MueTable(Dated):
    path: Path
    kind: str  # one of MUE_KINDS
    rows: Mapping[str, MueRow] = field(converter=_frozen_mapping, hash=False)
    #: MUE tables say when they start, never when they end: the newest in force applies.
    effective: DateRange = field(factory=DateRange)
    quarter: str | None = None
    metadata: tuple[str, ...] = field(default=(), converter=_tuple)
    period_source: str | None = None


# --------------------------------------------------------------------------- kinds

_DESCRIPTIONS = {
    "asp": "a CMS ASP pricing (Medicare Part B payment limit) file",
    "crosswalk": "a CMS ASP NDC-HCPCS crosswalk",
    "mue": "an NCCI MUE table",
    "noc_pricing": "a CMS NOC (not otherwise classified) drug pricing file",
    "noc_crosswalk": "a CMS NOC NDC-HCPCS crosswalk",
    "ncci_ptp": "an NCCI procedure-to-procedure (PTP) edit table",
    "opps_addendum_b": "an OPPS Addendum B file",
}
_EXPECTED_HEADERS = {
    "asp": "a header row with 'HCPCS Code', 'HCPCS Code Dosage' and 'Payment Limit'",
    "crosswalk": "a header row with a '<YYYY>_CODE' column, 'NDC2' (or 'NDC'), 'BILLUNITS' and 'BILLUNITSPKG'",
    "mue": "a header row with 'HCPCS/CPT Code', '<setting> MUE Values' and 'MUE Adjudication Indicator'",
}
_MUE_KIND_NAMES = {
    "practitioner": "Practitioner Services",
    "outpatient_hospital": "Facility Outpatient Hospital Services",
    "dme": "DME Supplier Services",
}

_CODE_COLUMN = re.compile(r"^_?(\d{4})_code$")


def _norm(cell: str) -> str:
    """A header cell compared without case, BOM or runs of whitespace."""
    text = " ".join(cell.replace("\ufeff", "").split()).lower()
    return re.sub(r"\s*/\s*", "/", text)


def _mue_kind(value_column: str) -> str | None:
    if "practitioner" in value_column:
        return "practitioner"
    if "outpatient hospital" in value_column or "hospital outpatient" in value_column:
        return "outpatient_hospital"
    if "dme" in value_column:
        return "dme"
    return None


@define
class _Header:
    kind: str
    columns: dict[str, int]
    line: int
    metadata: tuple[str, ...]
    code_column: str = ""
    mue_kind: str | None = None
    mue_value_column: str = ""
    raw: tuple[str, ...] = ()


def _classify(cells: list[str]) -> _Header | None:
    names = set(cells)
    columns: dict[str, int] = {}
    for index, name in enumerate(cells):
        if name and name not in columns:
            columns[name] = index
    if {"hcpcs code", "hcpcs code dosage", "payment limit"} <= names:
        return _Header("asp", columns, 0, ())
    code_column = next((name for name in cells if _CODE_COLUMN.match(name)), None)
    if code_column and names & {"ndc", "ndc2"} and {"billunits", "billunitspkg"} <= names:
        header = _Header("crosswalk", columns, 0, ())
        header.code_column = code_column
        return header
    value_column = next((name for name in cells if name.endswith("mue values")), None)
    if "hcpcs/cpt code" in names and value_column and "mue adjudication indicator" in names:
        header = _Header("mue", columns, 0, ())
        header.mue_kind = _mue_kind(value_column)
        header.mue_value_column = value_column
        return header
    # Files a user might give by mistake: recognised so the error can name them.
    if "ndc or alternate id" in names:
        return _Header("noc_crosswalk", columns, 0, ())
    if "payment limit" in names and any(name.startswith("drug generic name") for name in names):
        return _Header("noc_pricing", columns, 0, ())
    if {"column 1", "column 2"} <= names:
        return _Header("ncci_ptp", columns, 0, ())
    if "hcpcs code" in names and "payment rate" in names:
        return _Header("opps_addendum_b", columns, 0, ())
    return None


# --------------------------------------------------------------------------- reading

_FALLBACK_ERRORS = "j9330-rules-cp1252-fallback"
_CP1252 = tuple(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as Windows-1252, the files' real encoding."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(_CP1252[b] for b in bad), error.end


try:
    codecs.lookup_error(_FALLBACK_ERRORS)
except LookupError:
    codecs.register_error(_FALLBACK_ERRORS, _cp1252_fallback)

_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb"}


def _check_readable(path: Path, expected: str | None) -> str:
    """The encoding to read ``path`` with, or an error for a file that is not CSV text."""
    want = f"expected {_DESCRIPTIONS[expected]} as CSV" if expected else "expected a CMS reference file as CSV"
    if not path.is_file():
        raise ReferenceFileError(path, f"{want}, but there is no such file", expected=expected, found="missing")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        raise ReferenceFileError(path, f"{want}, but the file is empty", expected=expected, found="empty")
    suffix = path.suffix.lower()
    if head.startswith(b"PK\x03\x04") and suffix == ".zip":
        raise ReferenceFileError(
            path,
            f"{want}, but this is a ZIP archive; extract the 'section 508 version' CSV from it and give that file",
            expected=expected,
            found="zip",
        )
    if suffix in _EXCEL_SUFFIXES or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise ReferenceFileError(
            path,
            f"{want}, but this is an Excel workbook; only CSV is read. CMS ships a 'section 508 version' CSV "
            "of each file in the same ZIP: give that file",
            expected=expected,
            found="excel",
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise ReferenceFileError(
            path, f"{want}, but the file is binary, not CSV text", expected=expected, found="binary"
        )
    return "utf-8-sig"


class _Rows:
    """A CSV reader over ``path`` that turns parse failures into ReferenceFileError."""

    def __init__(self, path: Path, encoding: str):
        self.path = path
        errors = _FALLBACK_ERRORS if encoding == "utf-8-sig" else "strict"
        self._handle = open(path, encoding=encoding, errors=errors, newline="")  # noqa: SIM115 (closed by close())
        self._reader = csv.reader(self._handle)

    @property
    def line(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._reader)
        except csv.Error as error:
            raise ReferenceFileError(
                self.path, f"not readable as CSV near line {self._reader.line_num + 1} (an unbalanced quote?): {error}"
            ) from None
        except UnicodeDecodeError:
            raise ReferenceFileError(self.path, f"not readable as text near line {self._reader.line_num + 1}") from None

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _scan_header(rows: _Rows) -> _Header | None:
    metadata: list[str] = []
    for _ in range(HEADER_SCAN_ROWS):
        start = rows.line + 1  # a quoted cell can run over several lines
        try:
            row = next(rows)
        except StopIteration:
            return None
        header = _classify([_norm(cell) for cell in row])
        if header is not None:
            header.line = start
            header.metadata = tuple(metadata)
            header.raw = tuple(cell.strip() for cell in row)
            return header
        text = " ".join(" ".join(cell.split()) for cell in row if cell.strip())
        if text:
            metadata.append(text)
    return None


def _header_or_error(rows: _Rows, expected: str) -> _Header:
    header = _scan_header(rows)
    if header is None:
        raise ReferenceFileError(
            rows.path,
            f"expected {_DESCRIPTIONS[expected]} ({_EXPECTED_HEADERS[expected]}), but no recognisable CMS header "
            f"row was found in the first {HEADER_SCAN_ROWS} rows; is this the section 508 CSV of the right file?",
            expected=expected,
            found=None,
        )
    if header.kind != expected:
        found = _DESCRIPTIONS[header.kind]
        if header.kind == "mue" and header.mue_kind:
            found += f" for {_MUE_KIND_NAMES[header.mue_kind]}"
        raise ReferenceFileError(
            rows.path,
            f"expected {_DESCRIPTIONS[expected]} ({_EXPECTED_HEADERS[expected]}), but found {found}; "
            f"its header starts on line {header.line}",
            expected=expected,
            found=header.kind,
        )
    return header


def _require(header: _Header, path: Path, names: Iterable[str], expected: str) -> None:
    missing = [name for name in names if name not in header.columns]
    if missing:
        raise ReferenceFileError(
            path,
            f"the header on line {header.line} of {_DESCRIPTIONS[expected]} lacks the column(s) "
            + ", ".join(repr(name) for name in missing),
            expected=expected,
            found=header.kind,
        )


def _codes(codes: Iterable[str] | str) -> frozenset[str]:
    if isinstance(codes, str):
        codes = (codes,)
    wanted = frozenset(code.strip().upper() for code in codes if code and code.strip())
    if not wanted:
        raise ValueError("codes must name at least one HCPCS code")
    return wanted


def _kept(rows: _Rows, code_index: int, codes: frozenset[str]) -> Iterator[tuple[int, str, list[str]]]:
    """(line, code, row) for the data rows whose code is one of ``codes``."""
    end = rows.line
    for row in rows:
        start, end = end + 1, rows.line
        if len(row) > code_index:
            code = row[code_index].strip().upper()
            if code in codes:
                yield start, code, row


def _cell(row: list[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


_NOT_A_VALUE = {"", "n/a", "na", "-", "--"}


def _number(text: str, *, path: Path, line: int, code: str, column: str, required: bool = True) -> Decimal | None:
    cleaned = text.replace("$", "").replace(",", "").strip()
    if cleaned.lower() in _NOT_A_VALUE:
        if required:
            raise ReferenceFileError(path, f"line {line}: {code} has no {column!r} value")
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ReferenceFileError(path, f"line {line}: {code} has a {column!r} value that is not a number")
    return value


def _amount(row: list[str], index: int, *, path: Path, line: int, code: str, column: str) -> Decimal:
    value = _number(_cell(row, index), path=path, line=line, code=code, column=column)
    assert value is not None  # required=True raises instead
    return value


def _integer(text: str, *, path: Path, line: int, code: str, column: str) -> int:
    value = _number(text, path=path, line=line, code=code, column=column)
    assert value is not None
    if value != value.to_integral_value() or value < 0:
        raise ReferenceFileError(path, f"line {line}: {code} has a {column!r} value that is not a whole number")
    return int(value)


# --------------------------------------------------------------------------- periods

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")"
_DATE = _MONTH + r"\.?\s+(\d{1,2}),?\s+(\d{4})"
_EFFECTIVE_RANGE = re.compile(r"effective\s+" + _DATE + r"\s*(?:through|thru|to|-|\u2013)\s*" + _DATE, re.IGNORECASE)
_EFFECTIVE_DATE = re.compile(r"effective(?:\s+date)?:?\s+" + _DATE, re.IGNORECASE)
_MONTH_YEAR = re.compile(r"(?<![a-z])" + _MONTH + r"(?![a-z])[\s_.-]*(\d{4})(?!\d)", re.IGNORECASE)
_YEAR_QUARTER = re.compile(r"(?<!\d)(\d{4})[\s_-]*q([1-4])(?![0-9])", re.IGNORECASE)
_QUARTER_YEAR = re.compile(r"(?<![a-z0-9])q([1-4])[\s_-]*(\d{4})(?!\d)", re.IGNORECASE)
_EFF_NUMERIC = re.compile(r"(?<![a-z])eff(?:ective)?[\s_-]*(\d{1,2})[-_.](\d{1,2})[-_.](\d{4})(?!\d)", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def _date(month: str, day: str, year: str) -> date | None:
    try:
        return date(int(year), _MONTHS[month.lower()], int(day))
    except (KeyError, ValueError):
        return None


def _quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """The first and last day of a quarter written like "2026Q1"."""
    match = _QUARTER.match(quarter)
    if not match:
        raise ValueError(f"not a quarter like 2026Q1: {quarter!r}")
    year, number = int(match.group(1)), int(match.group(2))
    start = date(year, 3 * number - 2, 1)
    end = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return start, end - timedelta(days=1)


def quarter_from_name(name: str) -> str | None:
    """The quarter a file name (or title) names, e.g. "January 2026" -> "2026Q1".

    Understands month names and abbreviations followed by a year
    ("january-2026", "Jul_2019"), "2026Q1"/"2026-q1"/"Q1 2026", and the MUE
    tables' "Eff_01-01-2026". A month names the quarter that contains it.
    """
    match = _EFF_NUMERIC.search(name)
    if match:
        try:
            return _quarter_of(date(int(match.group(3)), int(match.group(1)), int(match.group(2))))
        except ValueError:
            pass
    match = _MONTH_YEAR.search(name)
    if match:
        return f"{match.group(2)}Q{(_MONTHS[match.group(1).lower()] - 1) // 3 + 1}"
    match = _YEAR_QUARTER.search(name)
    if match:
        return f"{match.group(1)}Q{match.group(2)}"
    match = _QUARTER_YEAR.search(name)
    if match:
        return f"{match.group(2)}Q{match.group(1)}"
    return None


@define(frozen=True)
class _Period:
    quarter: str | None = None
    effective: DateRange = field(factory=DateRange)
    source: str | None = None


def _from_quarter(quarter: str | None, source: str) -> _Period:
    if quarter is None:
        return _Period()
    start, end = quarter_bounds(quarter)
    return _Period(quarter, DateRange(start, end), source)


def _period(metadata: tuple[str, ...], path: Path) -> _Period:
    """The effective period: from an "Effective ... through ..." row, the title's
    month and year, or else the file name."""
    for text in metadata:
        match = _EFFECTIVE_RANGE.search(text)
        if match:
            start, end = _date(*match.groups()[:3]), _date(*match.groups()[3:])
            if start and end and start <= end:
                return _Period(_quarter_of(start), DateRange(start, end), "metadata")
    for text in metadata:
        match = _EFFECTIVE_DATE.search(text)
        if match:
            start = _date(*match.groups())
            if start:
                return _Period(_quarter_of(start), DateRange(start, quarter_bounds(_quarter_of(start))[1]), "metadata")
    if metadata:
        match = _MONTH_YEAR.search(metadata[0])
        if match:
            return _from_quarter(quarter_from_name(match.group(0)), "metadata")
    return _from_quarter(quarter_from_name(path.name), "file name")


def _mue_period(metadata: tuple[str, ...], path: Path) -> _Period:
    """MUE tables carry their effective date in the file name only."""
    match = _EFF_NUMERIC.search(path.name)
    if match:
        try:
            start = date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
        except ValueError:
            start = None
        if start:
            return _Period(_quarter_of(start), DateRange(start, None), "file name")
    period = _period(metadata, path)
    return _Period(period.quarter, DateRange(period.effective.effective_from, None), period.source)


# --------------------------------------------------------------------------- loaders


def _duplicate(path: Path, line: int, what: str) -> ReferenceFileError:
    return ReferenceFileError(path, f"line {line}: {what} is listed twice with different values")


def load_asp(path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES) -> AspFile:
    """The ASP pricing file's rows for ``codes`` (J9330 by default)."""
    path = Path(path)
    wanted = _codes(codes)
    with _Rows(path, _check_readable(path, "asp")) as rows:
        header = _header_or_error(rows, "asp")
        col = header.columns
        code_index = col["hcpcs code"]
        description, dosage, limit = col.get("short description"), col["hcpcs code dosage"], col["payment limit"]
        coinsurance, notes = col.get("co-insurance percentage", col.get("coinsurance percentage")), col.get("notes")
        found: dict[str, AspRow] = {}
        for line, code, row in _kept(rows, code_index, wanted):
            item = AspRow(
                hcpcs=code,
                short_description=_cell(row, description),
                dosage=_cell(row, dosage),
                payment_limit=_number(
                    _cell(row, limit), path=path, line=line, code=code, column="Payment Limit", required=False
                ),
                coinsurance_percentage=_number(
                    _cell(row, coinsurance),
                    path=path,
                    line=line,
                    code=code,
                    column="Co-insurance Percentage",
                    required=False,
                ),
                notes=_cell(row, notes),
            )
            if code in found and found[code] != item:
                raise _duplicate(path, line, code)
            found.setdefault(code, item)
    period = _period(header.metadata, path)
    return AspFile(path, period.quarter, period.effective, found, header.metadata, period.source)


_CROSSWALK_COLUMNS = (
    "short description",
    "labeler name",
    "drug name",
    "hcpcs dosage",
    "pkg size",
    "pkg qty",
    "billunits",
    "billunitspkg",
)


def load_crosswalk(path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES) -> Crosswalk:
    """The ASP NDC-HCPCS crosswalk's rows for ``codes``, keyed by 11-digit NDC."""
    path = Path(path)
    wanted = _codes(codes)
    with _Rows(path, _check_readable(path, "crosswalk")) as rows:
        header = _header_or_error(rows, "crosswalk")
        _require(header, path, _CROSSWALK_COLUMNS, "crosswalk")
        col = header.columns
        ndc_index = col.get("ndc2", col.get("ndc"))
        entries: list[CrosswalkRow] = []
        not_ndc: list[tuple[str, str]] = []
        seen: dict[tuple[str, str], CrosswalkRow] = {}
        for line, code, row in _kept(rows, col[header.code_column], wanted):
            listed = _cell(row, ndc_index)
            digits = ndc_codes.normalise(listed)
            if digits is None:
                not_ndc.append((code, listed))
                continue

            item = CrosswalkRow(
                hcpcs=code,
                ndc=digits,
                labeler=_cell(row, col["labeler name"]),
                drug_name=_cell(row, col["drug name"]),
                hcpcs_dosage=_cell(row, col["hcpcs dosage"]),
                pkg_size=_cell(row, col["pkg size"]),
                pkg_qty=_amount(row, col["pkg qty"], path=path, line=line, code=code, column="PKG QTY"),
                bill_units=_amount(row, col["billunits"], path=path, line=line, code=code, column="BILLUNITS"),
                bill_units_pkg=_amount(
                    row, col["billunitspkg"], path=path, line=line, code=code, column="BILLUNITSPKG"
                ),
                short_description=_cell(row, col["short description"]),
                ndc_as_listed=listed,
            )
            previous = seen.get((digits, code))
            if previous is not None:
                if previous != item:
                    raise _duplicate(path, line, f"NDC {listed} under {code}")
                continue
            seen[(digits, code)] = item
            entries.append(item)
    by_ndc: dict[str, CrosswalkRow] = {}
    for item in entries:
        by_ndc.setdefault(item.ndc, item)
    period = _period(header.metadata, path)
    # The code column keeps its published spelling, e.g. "_2026_CODE".
    code_column = header.raw[header.columns[header.code_column]].replace("\ufeff", "")
    return Crosswalk(
        path,
        period.quarter,
        period.effective,
        by_ndc,
        code_column,
        entries,
        not_ndc,
        header.metadata,
        period.source,
    )


def load_mue(path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES) -> MueTable:
    """An NCCI MUE table's rows for ``codes``; ``kind`` comes from the header."""
    path = Path(path)
    wanted = _codes(codes)
    with _Rows(path, _check_readable(path, "mue")) as rows:
        header = _header_or_error(rows, "mue")
        if header.mue_kind is None:
            raise ReferenceFileError(
                path,
                f"the MUE value column on line {header.line} names no setting this loader knows "
                "(expected Practitioner Services, Outpatient Hospital Services or DME Supplier Services)",
                expected="mue",
                found="mue",
            )
        col = header.columns
        value, mai = col[header.mue_value_column], col["mue adjudication indicator"]
        rationale = col.get("mue rationale")
        found: dict[str, MueRow] = {}
        for line, code, row in _kept(rows, col["hcpcs/cpt code"], wanted):
            indicator = re.match(r"\s*([123])(?!\d)", _cell(row, mai))
            if indicator is None:
                raise ReferenceFileError(
                    path, f"line {line}: {code} has an MUE Adjudication Indicator that is not 1, 2 or 3"
                )
            item = MueRow(
                hcpcs=code,
                value=_integer(_cell(row, value), path=path, line=line, code=code, column="MUE Values"),
                mai=int(indicator.group(1)),
                rationale=_cell(row, rationale),
            )
            if code in found and found[code] != item:
                raise _duplicate(path, line, code)
            found.setdefault(code, item)
    period = _mue_period(header.metadata, path)
    return MueTable(path, header.mue_kind, found, period.effective, period.quarter, header.metadata, period.source)


def sniff(path: str | Path) -> str:
    """Which CMS reference file ``path`` is: "asp", "crosswalk" or "mue".

    Reads only the leading rows. Raises ReferenceFileError for anything else,
    naming what the file looks like when it is another known CMS file.
    """
    path = Path(path)
    with _Rows(path, _check_readable(path, None)) as rows:
        header = _scan_header(rows)
    if header is None:
        raise ReferenceFileError(
            path,
            "expected a CMS ASP pricing file, ASP NDC-HCPCS crosswalk or NCCI MUE table, but no recognisable "
            f"CMS header row was found in the first {HEADER_SCAN_ROWS} rows",
        )
    if header.kind not in KINDS:
        raise ReferenceFileError(
            path,
            "expected a CMS ASP pricing file, ASP NDC-HCPCS crosswalk or NCCI MUE table, but found "
            f"{_DESCRIPTIONS[header.kind]}, which is not read here; its header starts on line {header.line}",
            found=header.kind,
        )
    return header.kind


_LOADERS = {"asp": load_asp, "crosswalk": load_crosswalk, "mue": load_mue}


def load(path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES) -> AspFile | Crosswalk | MueTable:
    """Load whichever CMS reference file ``path`` is (see ``sniff``)."""
    return _LOADERS[sniff(path)](path, codes)
