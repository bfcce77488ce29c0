"""Loaders for the CMS reference files: ASP payment limits, the ASP NDC-HCPCS
crosswalk and the NCCI MUE tables.

The details (how it works, and why) are in docs/internals.md, "CMS file loaders".
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
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
    #: The file read inside the ZIP ``path``; None when ``path`` itself was read.
    member: str | None = None


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
    member: str | None = None

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
    member: str | None = None


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

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_OTHER_EXCEL_SUFFIXES = {".xls", ".xlsb"}
#: How to get the optional xlsx reader; the error for an xlsx without it says this.
XLSX_INSTALL = "pip install 'j9330-rules[xlsx]'"


@define(frozen=True)
class _Source:
    """What a loader reads: a CSV or xlsx file, alone or as one member of a ZIP."""

    path: Path
    format: str  # "csv" or "xlsx"
    member: str | None = None
    encoding: str = "utf-8-sig"

    @property
    def label(self) -> Path:
        """What errors name: the file, or ``archive.zip/member`` as ``zipfile.Path`` spells it."""
        return self.path / self.member if self.member else self.path

    @property
    def names(self) -> tuple[Path, ...]:
        """The names a period may be read from, most specific first: the member's, then the file's."""
        return (Path(self.member), self.path) if self.member else (self.path,)


def _want(expected: str | None) -> str:
    return f"expected {_DESCRIPTIONS[expected]}" if expected else "expected a CMS reference file"


def _text_encoding(head: bytes, label: Path, expected: str | None) -> str:
    """The encoding to read CSV text starting with ``head`` in, or an error for what is not CSV text."""
    want = _want(expected)
    if not head:
        raise ReferenceFileError(label, f"{want}, but the file is empty", expected=expected, found="empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise ReferenceFileError(
            label, f"{want}, but the file is binary, not CSV text", expected=expected, found="binary"
        )
    return "utf-8-sig"


def _not_xlsx(path: Path, expected: str | None) -> ReferenceFileError:
    return ReferenceFileError(
        path,
        f"{_want(expected)}, but this is a legacy or binary Excel workbook (.xls or .xlsb, or a password-protected "
        "workbook); CSV, xlsx and the published ZIP are read: save it as xlsx or CSV",
        expected=expected,
        found="excel",
    )


def _source(path: Path, expected: str | None, member: str | None) -> _Source:
    """What to read for ``path``: the CSV itself, the xlsx itself, or the right member of a ZIP."""
    want = _want(expected)
    if not path.is_file():
        raise ReferenceFileError(path, f"{want}, but there is no such file", expected=expected, found="missing")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        raise ReferenceFileError(path, f"{want}, but the file is empty", expected=expected, found="empty")
    suffix = path.suffix.lower()
    if head.startswith(_OLE_MAGIC) or (suffix in _OTHER_EXCEL_SUFFIXES and not head.startswith(_ZIP_MAGIC)):
        raise _not_xlsx(path, expected)
    if head.startswith(_ZIP_MAGIC) or suffix == ".zip" or suffix in _XLSX_SUFFIXES:
        return _container(path, suffix, expected, member)
    if member is not None:
        raise ReferenceFileError(path, f"{want} in a ZIP (member {member!r}), but this is not a ZIP archive")
    return _Source(path, "csv", encoding=_text_encoding(head, path, expected))


def _container(path: Path, suffix: str, expected: str | None, member: str | None) -> _Source:
    """An xlsx workbook (itself a ZIP) or a published ZIP: the workbook, or the member to read."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        what = {".zip": "ZIP archive"}.get(suffix, "Excel workbook" if suffix in _XLSX_SUFFIXES else "")
        what = what or "ZIP archive or Excel workbook (it starts like one)"
        raise ReferenceFileError(
            path,
            f"{_want(expected)}, but this {what} cannot be opened: it is damaged or incomplete; download it again",
            expected=expected,
            found="zip" if what == "ZIP archive" else "excel",
        ) from None
    with archive:
        if "xl/workbook.bin" in archive.namelist():
            raise _not_xlsx(path, expected)
        if "xl/workbook.xml" in archive.namelist():
            if member is not None:
                raise ReferenceFileError(
                    path, f"{_want(expected)} in a ZIP (member {member!r}), but this is an xlsx workbook"
                )
            return _Source(path, "xlsx")
        return _member(path, archive, expected, member)


def _member_format(name: str) -> str | None:
    """ "csv" or "xlsx" for a member worth reading; None for PDFs, readmes, folders and OS litter."""
    base = name.rsplit("/", 1)[-1]
    if name.endswith("/") or name.startswith("__MACOSX/") or base.startswith(("._", "~$")):
        return None
    suffix = Path(base).suffix.lower()
    return "csv" if suffix == ".csv" else "xlsx" if suffix in _XLSX_SUFFIXES else None


def _listing(names: list[str]) -> str:
    if not names:
        return "nothing"
    shown = ", ".join(repr(name) for name in names[:12])
    return shown + (f" and {len(names) - 12} more" if len(names) > 12 else "")


def _member_source(path: Path, archive: zipfile.ZipFile, name: str, fmt: str, expected: str | None) -> _Source:
    if fmt == "xlsx":
        return _Source(path, "xlsx", name)
    try:
        with archive.open(name) as handle:
            head = handle.read(4096)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as error:
        raise ReferenceFileError(
            path / name, f"{_want(expected)}, but this ZIP member cannot be read ({type(error).__name__})"
        ) from None
    return _Source(path, "csv", name, _text_encoding(head, path / name, expected))


def _what(header: _Header | None) -> str:
    if header is None:
        return "a file with no recognisable CMS header"
    found = _DESCRIPTIONS[header.kind]
    if header.kind == "mue" and header.mue_kind:
        found += f" for {_MUE_KIND_NAMES[header.mue_kind]}"
    return found


def _member(path: Path, archive: zipfile.ZipFile, expected: str | None, member: str | None) -> _Source:
    """The member of a published ZIP to read.

    CSV members are preferred to xlsx ones (CMS ships both of a table); PDFs and readmes are
    ignored. A lone candidate is read as it is; among several, the one whose header is of the
    expected kind. Several of that kind (two MUE settings, say) are not guessed between: the
    error names them, and ``member=`` picks one.
    """
    want = _want(expected)
    listed = [info.filename for info in archive.infolist() if not info.is_dir()]
    if member is not None:
        # A member in a folder may be named by its file name alone.
        member = next((name for name in listed if name == member), None) or next(
            (name for name in listed if name.rsplit("/", 1)[-1] == member), member
        )
        if member not in listed:
            raise ReferenceFileError(
                path, f"{want}, but this ZIP has no member {member!r}; it holds {_listing(listed)}", expected=expected
            )
        fmt = _member_format(member)
        if fmt is None:
            raise ReferenceFileError(
                path, f"{want}, but the member {member!r} is neither CSV nor xlsx", expected=expected
            )
        return _member_source(path, archive, member, fmt, expected)
    tiers = [[name for name in listed if _member_format(name) == fmt] for fmt in ("csv", "xlsx")]
    candidates = tiers[0] + tiers[1]
    if not candidates:
        raise ReferenceFileError(
            path,
            f"{want}, but this ZIP holds no CSV or xlsx file; it holds {_listing(listed)}",
            expected=expected,
            found="zip",
        )
    if len(candidates) == 1:
        return _member_source(path, archive, candidates[0], _member_format(candidates[0]) or "csv", expected)
    scanned: list[tuple[str, str]] = []
    for fmt, tier in zip(("csv", "xlsx"), tiers):
        if fmt == "xlsx" and tier:
            _calamine(path, expected)  # its absence is the error, not "not readable"
        matches: list[tuple[_Source, _Header]] = []
        for name in tier:
            try:
                source = _member_source(path, archive, name, fmt, expected)
                with _open(source, expected) as rows:
                    header = _scan_header(rows)
            except ReferenceFileError:
                scanned.append((name, "not readable"))
                continue
            scanned.append((name, _what(header)))
            if header is not None and (header.kind == expected if expected else header.kind in KINDS):
                matches.append((source, header))
        if len(matches) == 1 or (expected is None and len({found.kind for _, found in matches}) == 1):
            return matches[0][0]
        if matches:
            several = "; ".join(f"{source.member!r} ({_what(header)})" for source, header in matches)
            raise ReferenceFileError(
                path,
                f"{want}, but this ZIP holds more than one{'' if expected else ', of different kinds'}: "
                f"{several}. Give each as its own file, as CMS publishes them, or name one with member=",
                expected=expected,
                found="zip",
            )
    found = "; ".join(f"{name!r} is {what}" for name, what in scanned)
    raise ReferenceFileError(
        path, f"{want}, but no CSV or xlsx file in this ZIP is one: {found}", expected=expected, found="zip"
    )


class _Rows:
    """A CSV reader over a file or ZIP member that turns parse failures into ReferenceFileError."""

    def __init__(self, source: _Source):
        self.path = source.label
        errors = _FALLBACK_ERRORS if source.encoding == "utf-8-sig" else "strict"
        self._archive: zipfile.ZipFile | None = None
        if source.member is None:
            self._handle = open(source.path, encoding=source.encoding, errors=errors, newline="")  # noqa: SIM115 (closed by close())
        else:
            self._archive = zipfile.ZipFile(source.path)
            try:
                binary = self._archive.open(source.member)
            except BaseException:
                self._archive.close()
                raise
            self._handle = io.TextIOWrapper(binary, encoding=source.encoding, errors=errors, newline="")
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
        except (zipfile.BadZipFile, EOFError) as error:
            raise ReferenceFileError(
                self.path, f"the ZIP member is damaged near line {self._reader.line_num + 1} ({type(error).__name__})"
            ) from None

    def close(self) -> None:
        self._handle.close()
        if self._archive is not None:
            self._archive.close()

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _long_date(day: date) -> str:
    return f"{_MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def _xlsx_text(value: Any) -> str:
    """A worksheet cell as the section 508 CSV writes it, so both feed the same scanning.

    Numbers get at most 15 significant digits, as Excel shows them (26.712, not the float's
    26.712000000000003), never an exponent; whole numbers have no ".0"; dates read as the CSV's
    metadata rows do ("October 1, 2025"), which the period patterns expect.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        text = format(Decimal(format(value, ".15g")), "f")
        return "0" if text in {"-0", "-0.0"} else text
    if isinstance(value, datetime):
        if value.time() == time():
            return _long_date(value.date())
        return f"{_long_date(value.date())} {value.time().isoformat()}"
    if isinstance(value, date):
        return _long_date(value)
    return str(value)


def _calamine(label: Path, expected: str | None) -> Any:
    """python-calamine's CalamineWorkbook, or an error saying how to install the optional reader."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        raise ReferenceFileError(
            label,
            f"{_want(expected)}, but this is an xlsx workbook, and reading xlsx needs the optional "
            f"python-calamine package: {XLSX_INSTALL} (or give the CSV)",
            expected=expected,
            found="xlsx",
        ) from None
    return CalamineWorkbook


class _SheetRows:
    """One worksheet's rows as _Rows gives a CSV's: lists of str; ``line`` is the 1-based row number."""

    def __init__(self, label: Path, rows: list[list[Any]]):
        self.path = label
        self._rows = rows
        self._index = 0

    @property
    def line(self) -> int:
        return self._index

    def __iter__(self) -> Iterator[list[str]]:
        return self

    def __next__(self) -> list[str]:
        if self._index >= len(self._rows):
            raise StopIteration
        row = self._rows[self._index]
        self._index += 1
        return [_xlsx_text(value) for value in row]

    def close(self) -> None:
        pass

    def __enter__(self) -> _SheetRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _workbook(source: _Source, expected: str | None) -> _SheetRows:
    """The sheet to read: the first whose header is of the expected kind, else the first with a
    CMS header, else the first. Unlike a CSV, the workbook is read into memory whole."""
    workbook = _calamine(source.label, expected)
    try:
        if source.member is None:
            with source.path.open("rb") as handle:
                book = workbook.from_filelike(handle)
        else:
            with zipfile.ZipFile(source.path) as archive:
                book = workbook.from_filelike(io.BytesIO(archive.read(source.member)))
        sheets = [
            book.get_sheet_by_index(index).to_python(skip_empty_area=False) for index in range(len(book.sheet_names))
        ]
    except Exception as error:  # calamine has its own error types for each way a workbook is damaged
        raise ReferenceFileError(
            source.label,
            f"{_want(expected)}, but this xlsx workbook cannot be read ({type(error).__name__})",
            expected=expected,
            found="xlsx",
        ) from None
    fallback: list[list[Any]] | None = None
    for rows in sheets:
        header = _scan_header(_SheetRows(source.label, rows))
        if header is None:
            continue
        if header.kind == expected or (expected is None and header.kind in KINDS):
            return _SheetRows(source.label, rows)
        fallback = rows if fallback is None else fallback
    if fallback is None:
        fallback = sheets[0] if sheets else []
    return _SheetRows(source.label, fallback)


def _open(source: _Source, expected: str | None) -> _Rows | _SheetRows:
    return _workbook(source, expected) if source.format == "xlsx" else _Rows(source)


def _scan_header(rows: _Rows | _SheetRows) -> _Header | None:
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


def _header_or_error(rows: _Rows | _SheetRows, expected: str) -> _Header:
    header = _scan_header(rows)
    if header is None:
        raise ReferenceFileError(
            rows.path,
            f"expected {_DESCRIPTIONS[expected]} ({_EXPECTED_HEADERS[expected]}), but no recognisable CMS header "
            f"row was found in the first {HEADER_SCAN_ROWS} rows; "
            + (
                "is this the right workbook?"
                if isinstance(rows, _SheetRows)
                else "is this the section 508 CSV of the right file?"
            ),
            expected=expected,
            found=None,
        )
    if header.kind != expected:
        found = _what(header)
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


def _kept(rows: _Rows | _SheetRows, code_index: int, codes: frozenset[str]) -> Iterator[tuple[int, str, list[str]]]:
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


def _period_of(
    period: Callable[[tuple[str, ...], Path], _Period], metadata: tuple[str, ...], source: _Source
) -> _Period:
    """The period from the metadata or, failing that, the ZIP member's name and then the file's."""
    found = _Period()
    for name in source.names:
        found = period(metadata, name)
        if found.source is not None:
            return found
    return found


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


def load_asp(path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES, *, member: str | None = None) -> AspFile:
    """The ASP pricing file's rows for ``codes`` (J9330 by default).

    ``path`` is the CSV, the xlsx or the published ZIP; ``member`` names the file inside a ZIP
    when it holds more than one of this kind.
    """
    wanted = _codes(codes)
    source = _source(Path(path), "asp", member)
    path = source.label  # what errors name
    with _open(source, "asp") as rows:
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
    period = _period_of(_period, header.metadata, source)
    return AspFile(source.path, period.quarter, period.effective, found, header.metadata, period.source, source.member)


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


def load_crosswalk(
    path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES, *, member: str | None = None
) -> Crosswalk:
    """The ASP NDC-HCPCS crosswalk's rows for ``codes``, keyed by 11-digit NDC (CSV, xlsx or ZIP, as ``load_asp``)."""
    wanted = _codes(codes)
    source = _source(Path(path), "crosswalk", member)
    path = source.label
    with _open(source, "crosswalk") as rows:
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
    period = _period_of(_period, header.metadata, source)
    # The code column keeps its published spelling, e.g. "_2026_CODE".
    code_column = header.raw[header.columns[header.code_column]].replace("\ufeff", "")
    return Crosswalk(
        source.path,
        period.quarter,
        period.effective,
        by_ndc,
        code_column,
        entries,
        not_ndc,
        header.metadata,
        period.source,
        source.member,
    )


def load_mue(path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES, *, member: str | None = None) -> MueTable:
    """An NCCI MUE table's rows for ``codes``; ``kind`` comes from the header.

    One table per call, as ``ReferenceData`` expects one per path: a ZIP holding several
    settings' tables is an error naming them unless ``member`` picks one.
    """
    wanted = _codes(codes)
    source = _source(Path(path), "mue", member)
    path = source.label
    with _open(source, "mue") as rows:
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
    period = _period_of(_mue_period, header.metadata, source)
    return MueTable(
        source.path,
        header.mue_kind,
        found,
        period.effective,
        period.quarter,
        header.metadata,
        period.source,
        source.member,
    )


def sniff(path: str | Path, *, member: str | None = None) -> str:
    """Which CMS reference file ``path`` (CSV, xlsx or ZIP) is: "asp", "crosswalk" or "mue".

    Reads only the leading rows. Raises ReferenceFileError for anything else,
    naming what the file looks like when it is another known CMS file.
    """
    source = _source(Path(path), None, member)
    path = source.label
    with _open(source, None) as rows:
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


def load(
    path: str | Path, codes: Iterable[str] | str = DEFAULT_CODES, *, member: str | None = None
) -> AspFile | Crosswalk | MueTable:
    """Load whichever CMS reference file ``path`` is (see ``sniff``)."""
    return _LOADERS[sniff(path, member=member)](path, codes, member=member)
