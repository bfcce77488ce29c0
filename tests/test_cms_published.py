"""The CMS loaders on files as CMS publishes them: the ZIP, and xlsx alone or inside it.

Two sources. The real October 2025 extracts in shared/samples (third-party data: read in place,
never copied into the repo; the tests skip when they are absent), and the repo's own TEST
FIXTURE CSVs. ZIPs and workbooks are built in tmp_path from their bytes and rows, so every
value asserted is one the CSV holds.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from j9330_rules.refdata import cms
from j9330_rules.refdata.cms import ReferenceFileError
from j9330_rules.refdata.reference import ReferenceData
from tests.test_cms import ASP, CROSSWALK_2025, MUE_DME, MUE_OUTPATIENT, MUE_PRACTITIONER
from tests.test_cms import CROSSWALK_2026 as CROSSWALK

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
REAL_ASP = SAMPLES / "cms" / "asp_pricing_october_2025_extract.csv"
REAL_CROSSWALK = SAMPLES / "cms" / "asp_ndc_hcpcs_crosswalk_october_2025_extract.csv"
# The real J9330 values in those extracts.
REAL_LIMIT = Decimal("26.712")
REAL_NDCS = ["00008-1179-01", "16729-0223-61", "65219-0200-05", "72611-0785-02"]
REAL_PERIOD = (date(2025, 10, 1), date(2025, 12, 31))


ALL_FIXTURES = [ASP, CROSSWALK, CROSSWALK_2025]
ALL_FIXTURES += [MUE_PRACTITIONER, MUE_OUTPATIENT, MUE_DME]
LOADERS = {"asp": cms.load_asp, "crosswalk": cms.load_crosswalk, "mue": cms.load_mue}
#: The members CMS ships beside the tables; their bytes here are placeholders.
EXTRAS = {"Readme.pdf": b"%PDF-1.4\n% placeholder, not a CMS document\n", "readme.txt": b"placeholder readme\n"}

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")
_EFFECTIVE = re.compile(r"\s*Effective (\w+ \d{1,2}, \d{4}) through (\w+ \d{1,2}, \d{4})\s*")


# --------------------------------------------------------------------------- helpers


def _rows(path: Path) -> list[list[str]]:
    """The CSV's rows, decoded as the loaders decode them."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    return list(csv.reader(io.StringIO(text, newline="")))


def _cell(text: str, noise: bool) -> object:
    """A CSV cell as a workbook holds it: numbers as numbers (NDCs, with their hyphens, stay text)."""
    if text == "":
        return None
    if not _NUMBER.fullmatch(text):
        return text
    if "." not in text:
        return int(text)
    value = float(text)
    # A formula's float is often a bit off the shown value, e.g. 26.712000000000003.
    return math.nextafter(value, math.inf) if noise else value


def _write_xlsx(rows: list[list[str]], path: Path, *, noise: bool = False, date_cells: bool = False) -> Path:
    """An xlsx of ``rows``; ``date_cells`` writes the "Effective ... through ..." row as real dates."""
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        text = " ".join(cell for cell in row if cell.strip())
        match = _EFFECTIVE.fullmatch(text) if date_cells else None
        if match:
            start, end = (datetime.strptime(day, "%B %d, %Y").date() for day in match.groups())
            sheet.append(["Effective", start, "through", end])
        else:
            sheet.append([_cell(cell, noise) for cell in row])
    book.save(path)
    return path


def _xlsx_from(csv_path: Path, tmp_path: Path, **options: bool) -> Path:
    pytest.importorskip("python_calamine")
    return _write_xlsx(_rows(csv_path), tmp_path / f"{csv_path.stem}.xlsx", **options)


def _zip(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content.read_bytes() if isinstance(content, Path) else content)
    return path


def _fake_xlsx() -> bytes:
    """The parts that make a ZIP an xlsx container: enough to be told apart from a plain ZIP."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def _same(loaded, expected) -> None:
    """Two loads of one table agree on everything but where they came from."""
    assert loaded.rows == expected.rows
    assert loaded.metadata == expected.metadata
    assert loaded.effective == expected.effective
    assert loaded.quarter == expected.quarter
    if isinstance(expected, cms.Crosswalk):
        assert loaded.entries == expected.entries
        assert loaded.code_column == expected.code_column
    if isinstance(expected, cms.MueTable):
        assert loaded.kind == expected.kind


# --------------------------------------------------------------------------- the real extracts


@pytest.fixture
def real() -> tuple[Path, Path]:
    if not (REAL_ASP.is_file() and REAL_CROSSWALK.is_file()):
        pytest.skip(f"the real CMS extracts are not in {SAMPLES}")
    return REAL_ASP, REAL_CROSSWALK


def _real_asp(asp: cms.AspFile) -> None:
    row = asp.rows["J9330"]
    assert (row.payment_limit, row.dosage) == (REAL_LIMIT, "1 MG")
    assert str(row.payment_limit) == "26.712"
    assert (asp.effective_from, asp.effective_to) == REAL_PERIOD
    assert (asp.quarter, asp.period_source) == ("2025Q4", "metadata")


def _real_crosswalk(crosswalk: cms.Crosswalk) -> None:
    assert sorted(row.ndc_as_listed for row in crosswalk.entries) == REAL_NDCS
    assert {row.hcpcs for row in crosswalk.entries} == {"J9330"}
    assert all(row.bill_units == Decimal(25) for row in crosswalk.entries)
    assert all(str(row.bill_units) == "25" for row in crosswalk.entries)
    assert (crosswalk.effective_from, crosswalk.effective_to) == REAL_PERIOD
    assert crosswalk.code_column == "_2025_CODE"


def test_real_extracts_as_csv(real):
    asp_path, crosswalk_path = real
    asp, crosswalk = cms.load_asp(asp_path), cms.load_crosswalk(crosswalk_path)
    _real_asp(asp)
    _real_crosswalk(crosswalk)
    assert asp.member is None and crosswalk.member is None
    assert (cms.sniff(asp_path), cms.sniff(crosswalk_path)) == ("asp", "crosswalk")


def test_real_extracts_in_a_published_zip(real, tmp_path):
    asp_path, crosswalk_path = real
    archive = _zip(
        tmp_path / "october-2025.zip", {**EXTRAS, asp_path.name: asp_path, crosswalk_path.name: crosswalk_path}
    )
    asp, crosswalk = cms.load_asp(archive), cms.load_crosswalk(archive)
    _real_asp(asp)
    _real_crosswalk(crosswalk)
    assert (asp.path, asp.member) == (archive, asp_path.name)
    assert crosswalk.member == crosswalk_path.name
    _same(asp, cms.load_asp(asp_path))
    _same(crosswalk, cms.load_crosswalk(crosswalk_path))
    # Each in its own ZIP, as the loader is usually given it.
    alone = _zip(tmp_path / "asp.zip", {**EXTRAS, asp_path.name: asp_path})
    assert cms.sniff(alone) == "asp"
    _real_asp(cms.load(alone))


@pytest.mark.parametrize(
    "options",
    [{}, {"noise": True}, {"date_cells": True}, {"noise": True, "date_cells": True}],
    ids=["plain", "float-noise", "date-cells", "both"],
)
def test_real_extracts_as_xlsx(real, tmp_path, options):
    asp_path, crosswalk_path = real
    asp_xlsx, crosswalk_xlsx = (
        _xlsx_from(asp_path, tmp_path, **options),
        _xlsx_from(crosswalk_path, tmp_path, **options),
    )
    asp, crosswalk = cms.load_asp(asp_xlsx), cms.load_crosswalk(crosswalk_xlsx)
    _real_asp(asp)
    _real_crosswalk(crosswalk)
    # The same metadata rows as the CSV: the xlsx cells feed the same scanning.
    _same(asp, cms.load_asp(asp_path))
    _same(crosswalk, cms.load_crosswalk(crosswalk_path))
    assert (cms.sniff(asp_xlsx), cms.sniff(crosswalk_xlsx)) == ("asp", "crosswalk")


def test_real_extracts_as_xlsx_in_a_zip_and_csv_preferred(real, tmp_path):
    asp_path, _ = real
    workbook = _xlsx_from(asp_path, tmp_path, noise=True)
    only_xlsx = _zip(tmp_path / "xlsx-only.zip", {**EXTRAS, workbook.name: workbook})
    asp = cms.load_asp(only_xlsx)
    _real_asp(asp)
    assert asp.member == workbook.name
    both = _zip(tmp_path / "both.zip", {workbook.name: workbook, **EXTRAS, asp_path.name: asp_path})
    assert cms.load_asp(both).member == asp_path.name  # the CSV, though the workbook comes first


def test_real_extracts_through_reference_data(real, tmp_path):
    asp_path, crosswalk_path = real
    archive = _zip(tmp_path / "asp.zip", {**EXTRAS, asp_path.name: asp_path})
    data = ReferenceData.load({}, asp_file=archive, crosswalk_file=_xlsx_from(crosswalk_path, tmp_path))
    limit, file = data.asp_limit(date(2025, 11, 3))
    assert (limit, file.member) == (REAL_LIMIT, asp_path.name)
    assert data.asp_limit(date(2026, 1, 2)) is None  # outside the effective period
    assert sorted(row.ndc_as_listed for row in data.crosswalk_for(date(2025, 11, 3)).entries) == REAL_NDCS


# --------------------------------------------------------------------------- repo fixtures: xlsx


@pytest.mark.parametrize("fixture", ALL_FIXTURES, ids=lambda p: p.name)
def test_fixture_as_xlsx_reads_as_its_csv(tmp_path, fixture):
    expected = cms.load(fixture)
    workbook = _xlsx_from(fixture, tmp_path, noise=True, date_cells=True)
    loaded = cms.load(workbook)
    _same(loaded, expected)
    assert loaded.path == workbook and loaded.member is None


def test_xlsx_sheet_with_the_table_is_found_after_a_readme_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    pytest.importorskip("python_calamine")
    book = openpyxl.Workbook()
    book.active.title = "Readme"
    book.active.append(["TEST FIXTURE readme sheet: no table here"])
    data = book.create_sheet("Data")
    for row in _rows(ASP):
        data.append([_cell(cell, False) for cell in row])
    book.save(tmp_path / "asp_january_2026.xlsx")
    _same(cms.load_asp(tmp_path / "asp_january_2026.xlsx"), cms.load_asp(ASP))


def test_xlsx_header_line_is_the_sheet_row(tmp_path):
    workbook = _xlsx_from(MUE_PRACTITIONER, tmp_path)
    with pytest.raises(
        ReferenceFileError, match=r"found an NCCI MUE table for Practitioner Services; its header starts on line 2"
    ):
        cms.load_asp(workbook)


def test_damaged_xlsx(tmp_path):
    pytest.importorskip("python_calamine")
    path = tmp_path / "asp.xlsx"
    path.write_bytes(_fake_xlsx())  # the container, without the parts a workbook needs
    with pytest.raises(ReferenceFileError, match="this xlsx workbook cannot be read") as raised:
        cms.load_asp(path)
    assert raised.value.found == "xlsx"


# --------------------------------------------------------------------------- repo fixtures: ZIP and MUE


def test_mue_zip_as_published(tmp_path):
    archive = _zip(
        tmp_path / "medicare-ncci-2026-q1-practitioner-services-mue-table.zip",
        {**EXTRAS, MUE_PRACTITIONER.name: MUE_PRACTITIONER},
    )
    table = cms.load_mue(archive)
    _same(table, cms.load_mue(MUE_PRACTITIONER))
    assert (table.kind, table.effective_from, table.period_source) == ("practitioner", date(2026, 1, 1), "file name")
    assert (table.path, table.member) == (archive, MUE_PRACTITIONER.name)
    assert cms.sniff(archive) == "mue"


def test_mue_period_falls_back_to_the_zip_name(tmp_path):
    archive = _zip(tmp_path / "MCR_MUE_PractitionerServices_Eff_04-01-2026.zip", {"table.csv": MUE_PRACTITIONER})
    table = cms.load_mue(archive)
    assert (table.effective_from, table.quarter, table.period_source) == (date(2026, 4, 1), "2026Q2", "file name")


def test_mue_xlsx_in_a_zip(tmp_path):
    workbook = _xlsx_from(MUE_OUTPATIENT, tmp_path)
    archive = _zip(tmp_path / "outpatient.zip", {**EXTRAS, f"tables/{workbook.name}": workbook})
    table = cms.load_mue(archive)
    _same(table, cms.load_mue(MUE_OUTPATIENT))
    assert table.member == f"tables/{workbook.name}"


def test_zip_with_several_mue_tables_names_them_and_member_picks_one(tmp_path):
    members = {**EXTRAS, MUE_PRACTITIONER.name: MUE_PRACTITIONER, MUE_OUTPATIENT.name: MUE_OUTPATIENT}
    archive = _zip(tmp_path / "mue.zip", members)
    with pytest.raises(ReferenceFileError, match="holds more than one") as raised:
        cms.load_mue(archive)
    message = str(raised.value)
    assert MUE_PRACTITIONER.name in message and "Practitioner Services" in message
    assert MUE_OUTPATIENT.name in message and "Outpatient Hospital Services" in message
    assert "member=" in message and raised.value.found == "zip"
    # ReferenceData takes one table per path, so it refuses the ZIP the same way.
    with pytest.raises(ReferenceFileError, match="holds more than one"):
        ReferenceData.load({}, mue_file=archive)
    assert cms.sniff(archive) == "mue"
    with pytest.raises(ReferenceFileError, match="holds more than one"):
        cms.load(archive)
    for fixture, kind in ((MUE_PRACTITIONER, "practitioner"), (MUE_OUTPATIENT, "outpatient_hospital")):
        table = cms.load_mue(archive, member=fixture.name)
        assert (table.kind, table.member) == (kind, fixture.name)
        _same(table, cms.load_mue(fixture))
    assert cms.load(archive, member=MUE_OUTPATIENT.name).kind == "outpatient_hospital"


def test_zip_member_of_the_asked_kind_is_picked(tmp_path):
    archive = _zip(tmp_path / "mixed.zip", {MUE_DME.name: MUE_DME, ASP.name: ASP, CROSSWALK.name: CROSSWALK})
    assert cms.load_asp(archive).member == ASP.name
    assert cms.load_crosswalk(archive).member == CROSSWALK.name
    assert cms.load_mue(archive).kind == "dme"
    with pytest.raises(ReferenceFileError, match="more than one, of different kinds"):
        cms.sniff(archive)


def test_member_in_a_folder_may_be_named_by_its_file_name(tmp_path):
    archive = _zip(tmp_path / "asp.zip", {"January 2026/" + ASP.name: ASP, "January 2026/" + CROSSWALK.name: CROSSWALK})
    assert cms.load_asp(archive, member=ASP.name).member == "January 2026/" + ASP.name


# --------------------------------------------------------------------------- error paths


def test_zip_without_a_table(tmp_path):
    archive = _zip(tmp_path / "asp.zip", EXTRAS)
    for load in (cms.load_asp, cms.load_crosswalk, cms.load_mue, cms.sniff):
        with pytest.raises(
            ReferenceFileError, match=re.escape("holds no CSV or xlsx file; it holds 'Readme.pdf', 'readme.txt'")
        ):
            load(archive)
    empty = _zip(tmp_path / "empty.zip", {})
    with pytest.raises(ReferenceFileError, match="holds no CSV or xlsx file; it holds nothing"):
        cms.load_asp(empty)


def test_zip_whose_tables_are_of_another_kind(tmp_path):
    archive = _zip(tmp_path / "mue.zip", {**EXTRAS, MUE_PRACTITIONER.name: MUE_PRACTITIONER, MUE_DME.name: MUE_DME})
    with pytest.raises(ReferenceFileError, match="no CSV or xlsx file in this ZIP is one") as raised:
        cms.load_asp(archive)
    message = str(raised.value)
    assert f"'{MUE_PRACTITIONER.name}' is an NCCI MUE table for Practitioner Services" in message
    assert f"'{MUE_DME.name}' is an NCCI MUE table for DME Supplier Services" in message


def test_lone_member_of_another_kind_is_named_in_the_error(tmp_path):
    archive = _zip(tmp_path / "mue.zip", {**EXTRAS, MUE_PRACTITIONER.name: MUE_PRACTITIONER})
    with pytest.raises(ReferenceFileError, match="but found an NCCI MUE table") as raised:
        cms.load_asp(archive)
    assert raised.value.path == archive / MUE_PRACTITIONER.name  # archive.zip/member, as zipfile.Path spells it
    assert raised.value.found == "mue"


def test_member_argument_errors(tmp_path):
    archive = _zip(tmp_path / "asp.zip", {**EXTRAS, ASP.name: ASP})
    with pytest.raises(ReferenceFileError, match=re.escape("has no member 'other.csv'; it holds 'Readme.pdf'")):
        cms.load_asp(archive, member="other.csv")
    with pytest.raises(ReferenceFileError, match=re.escape("'Readme.pdf' is neither CSV nor xlsx")):
        cms.load_asp(archive, member="Readme.pdf")
    with pytest.raises(ReferenceFileError, match="not a ZIP archive"):
        cms.load_asp(ASP, member=ASP.name)


def test_damaged_zip(tmp_path):
    whole = _zip(tmp_path / "whole.zip", {**EXTRAS, ASP.name: ASP}).read_bytes()
    damaged = tmp_path / "asp.zip"
    damaged.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReferenceFileError, match="ZIP archive cannot be opened: it is damaged or incomplete") as raised:
        cms.load_asp(damaged)
    assert raised.value.found == "zip"


def test_legacy_xls_is_refused(tmp_path):
    path = tmp_path / "asp.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100))
    with pytest.raises(ReferenceFileError, match="legacy or binary Excel workbook") as raised:
        cms.load_asp(path)
    assert raised.value.found == "excel"


@pytest.fixture
def no_calamine(monkeypatch):
    """As if the xlsx extra were not installed: importing python_calamine fails."""
    monkeypatch.setitem(sys.modules, "python_calamine", None)


def test_xlsx_without_the_extra_says_how_to_install_it(tmp_path, no_calamine):
    path = tmp_path / "asp.xlsx"
    path.write_bytes(_fake_xlsx())
    for load in (cms.load_asp, cms.sniff):
        with pytest.raises(ReferenceFileError, match=re.escape("pip install 'j9330-rules[xlsx]'")) as raised:
            load(path)
        assert raised.value.found == "xlsx"
    archive = _zip(tmp_path / "asp.zip", {**EXTRAS, "asp.xlsx": path, "other.xlsx": path})
    with pytest.raises(ReferenceFileError, match=re.escape("pip install 'j9330-rules[xlsx]'")):
        cms.load_asp(archive)


def test_zip_with_a_csv_needs_no_xlsx_reader(tmp_path, no_calamine):
    archive = _zip(tmp_path / "asp.zip", {"asp.xlsx": _fake_xlsx(), **EXTRAS, ASP.name: ASP})
    _same(cms.load_asp(archive), cms.load_asp(ASP))
