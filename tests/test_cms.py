"""The CMS reference-file loaders (ASP pricing, ASP NDC-HCPCS crosswalk, NCCI MUE).

The fixtures in tests/fixtures/cms follow the published section 508 CSV layouts
(metadata rows, header names, quoting, trailing blank columns, the MUE tables'
multi-line notice and "HCPCS/<newline>CPT Code" header cell) but every number
in them is made up: they are TEST FIXTURES, not CMS values, and say so in their
metadata rows.
"""

from __future__ import annotations

import shutil
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from j9330_rules.refdata import cms
from j9330_rules.refdata.cms import ReferenceFileError

FIXTURES = Path(__file__).parent / "fixtures" / "cms"
ASP = FIXTURES / "asp_payment_limit_fixture_january_2026.csv"
CROSSWALK_2025 = FIXTURES / "asp_ndc_hcpcs_crosswalk_fixture_october_2025.csv"
CROSSWALK_2026 = FIXTURES / "asp_ndc_hcpcs_crosswalk_fixture_january_2026.csv"
MUE_PRACTITIONER = FIXTURES / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv"
MUE_OUTPATIENT = FIXTURES / "MCR_MUE_OutpatientHospitalServices_Eff_01-01-2026_fixture.csv"
MUE_DME = FIXTURES / "MCR_MUE_DMESupplierServices_Eff_01-01-2026_fixture.csv"
ALL_FIXTURES = [ASP, CROSSWALK_2025, CROSSWALK_2026, MUE_PRACTITIONER, MUE_OUTPATIENT, MUE_DME]
KIND_OF = {
    ASP: "asp",
    CROSSWALK_2025: "crosswalk",
    CROSSWALK_2026: "crosswalk",
    MUE_PRACTITIONER: "mue",
    MUE_OUTPATIENT: "mue",
    MUE_DME: "mue",
}
LOADERS = {"asp": cms.load_asp, "crosswalk": cms.load_crosswalk, "mue": cms.load_mue}


def _text(path: Path) -> str:
    return path.read_bytes().decode("cp1252")


def _write(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- fixtures themselves


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_says_it_is_a_fixture_not_cms_values(path):
    assert "fixture" in path.name.lower()
    loaded = LOADERS[KIND_OF[path]](path)
    metadata = " ".join(loaded.metadata)
    assert "TEST FIXTURE" in metadata
    assert "NOT" in metadata and "CMS value" in metadata


# --------------------------------------------------------------------------- ASP


def test_asp_loads_j9330_by_default_and_only_j9330():
    asp = cms.load_asp(ASP)
    assert set(asp.rows) == {"J9330"}  # J9331, J9035, 90371, ... are filtered out
    row = asp.rows["J9330"]
    assert row == cms.AspRow(
        hcpcs="J9330",
        short_description="Temsirolimus injection",
        dosage="1 MG",
        payment_limit=Decimal("42.137"),
        coinsurance_percentage=Decimal("20.000"),
        notes="",
    )
    assert isinstance(row.payment_limit, Decimal)
    assert asp.path == ASP


def test_asp_period_comes_from_the_effective_row():
    asp = cms.load_asp(ASP)
    assert asp.quarter == "2026Q1"
    assert (asp.effective_from, asp.effective_to) == (date(2026, 1, 1), date(2026, 3, 31))
    assert asp.period_source == "metadata"


def test_asp_money_with_dollar_sign_and_commas_and_na():
    asp = cms.load_asp(ASP, codes={"J9035", "A9606", "Q5121", "J9330"})
    assert set(asp.rows) == {"J9035", "A9606", "Q5121", "J9330"}
    assert asp.rows["J9035"].payment_limit == Decimal("1075.50")  # "$1,075.50"
    radium = asp.rows["A9606"]
    assert radium.payment_limit is None  # the file posts N/A and explains in Notes
    assert radium.notes.splitlines() == [
        "microCurie 100% AWP = $1.00 (fixture)",
        "microCurie 100% WAC = $2.00 (fixture)",
    ]
    avsola = asp.rows["Q5121"]
    assert avsola.short_description == "Inj. avsola, 10 mg"  # quoted, with a comma
    assert avsola.coinsurance_percentage == Decimal("18.500")


def test_codes_are_matched_without_case_and_a_single_code_string_is_accepted():
    assert set(cms.load_asp(ASP, codes="j9035").rows) == {"J9035"}
    assert set(cms.load_asp(ASP, codes=[" j9330 "]).rows) == {"J9330"}
    assert cms.load_asp(ASP, codes={"J0000"}).rows == {}
    with pytest.raises(ValueError, match="at least one"):
        cms.load_asp(ASP, codes=set())


def test_asp_older_layout_without_coinsurance(tmp_path):
    text = _text(ASP).replace("Payment Limit,Co-insurance Percentage,", "Payment Limit,")
    text = text.replace("42.137,20.000,", "42.137,")
    asp = cms.load_asp(_write(tmp_path / "older.csv", text))
    assert asp.rows["J9330"].payment_limit == Decimal("42.137")
    assert asp.rows["J9330"].coinsurance_percentage is None


# --------------------------------------------------------------------------- crosswalk


def test_crosswalk_rows_are_keyed_by_eleven_digit_ndc():
    xw = cms.load_crosswalk(CROSSWALK_2025)
    assert set(xw.rows) == {"00008117901", "68083020201", "33333033303"}
    assert {row.hcpcs for row in xw.entries} == {"J9330"}  # J9035, J7331, Q5105/6 filtered out
    torisel = xw.rows["00008117901"]
    assert torisel == cms.CrosswalkRow(
        hcpcs="J9330",
        ndc="00008117901",
        labeler="Wyeth Pharmaceuticals LLC",
        drug_name="Torisel",
        hcpcs_dosage="1 MG",
        pkg_size="1",
        pkg_qty=Decimal("1"),
        bill_units=Decimal("25"),
        bill_units_pkg=Decimal("25"),
        short_description="Temsirolimus injection",
        ndc_as_listed="00008-1179-01",
    )
    pack = xw.rows["33333033303"]
    assert (pack.pkg_size, pack.pkg_qty, pack.bill_units, pack.bill_units_pkg) == (
        "1.2",
        Decimal("3"),
        Decimal("25"),
        Decimal("75"),
    )
    assert pack.bill_units * pack.pkg_qty == pack.bill_units_pkg
    assert xw.for_ndc("0008-1179-01") == (torisel,)  # any form ndc.normalise accepts
    assert xw.for_ndc("not an ndc") == ()


def test_crosswalk_period_and_code_column():
    xw = cms.load_crosswalk(CROSSWALK_2025)
    assert xw.code_column == "_2025_CODE"
    assert xw.quarter == "2025Q4"
    assert (xw.effective_from, xw.effective_to) == (date(2025, 10, 1), date(2025, 12, 31))


def test_crosswalk_ids_that_are_not_ndcs_are_set_aside_not_guessed():
    xw = cms.load_crosswalk(CROSSWALK_2025, codes={"J7331"})
    assert xw.rows == {}
    assert xw.not_ndc == (("J7331", "123456789012"),)


def test_crosswalk_ndc_under_two_codes_keeps_both_entries():
    xw = cms.load_crosswalk(CROSSWALK_2025, codes={"Q5105", "Q5106"})
    assert [row.hcpcs for row in xw.for_ndc("22222022210")] == ["Q5105", "Q5106"]
    assert xw.rows["22222022210"].hcpcs == "Q5105"  # the first listed
    assert [row.bill_units_pkg for row in xw.entries] == [Decimal("200"), Decimal("20")]


def test_crosswalk_newer_layout_ndc_column_crlf_and_windows_1252():
    raw = CROSSWALK_2026.read_bytes()
    assert b"\r\n" in raw and "é".encode("cp1252") in raw  # the fixture really is CRLF + cp1252
    xw = cms.load_crosswalk(CROSSWALK_2026)
    assert xw.code_column == "_2026_CODE"
    assert xw.quarter == "2026Q1"
    assert set(xw.rows) == {"00008117901", "44444044401"}
    assert xw.rows["44444044401"].labeler == "Laboratoires Fixture Société"
    assert xw.rows["00008117901"].bill_units == Decimal("25")


@pytest.mark.parametrize("column", ["_2024_CODE", "2024_CODE", "_2027_CODE", "2031_code", "_2026_Code"])
def test_crosswalk_code_column_is_found_whatever_its_year(tmp_path, column):
    text = _text(CROSSWALK_2025).replace("_2025_CODE,", f"{column},")
    xw = cms.load_crosswalk(_write(tmp_path / "crosswalk.csv", text))
    assert xw.code_column == column
    assert set(xw.rows) == {"00008117901", "68083020201", "33333033303"}
    assert xw.quarter == "2025Q4"  # the column's year never dates the file


def test_crosswalk_missing_column_is_named(tmp_path):
    text = _text(CROSSWALK_2025).replace(",PKG QTY,", ",PACKAGE QUANTITY,")
    with pytest.raises(ReferenceFileError, match="'pkg qty'") as raised:
        cms.load_crosswalk(_write(tmp_path / "crosswalk.csv", text))
    assert "crosswalk.csv" in str(raised.value)


# --------------------------------------------------------------------------- MUE


@pytest.mark.parametrize(
    ("path", "kind", "value", "mai", "rationale"),
    [
        (MUE_PRACTITIONER, "practitioner", 77, 3, "Prescribing Information"),
        (MUE_OUTPATIENT, "outpatient_hospital", 66, 3, "Prescribing Information"),
        (MUE_DME, "dme", 0, 2, "Code Descriptor / CPT Instruction"),
    ],
    ids=["practitioner", "outpatient_hospital", "dme"],
)
def test_mue_each_kind(path, kind, value, mai, rationale):
    table = cms.load_mue(path)
    assert table.kind == kind
    assert set(table.rows) == {"J9330"}
    assert table.rows["J9330"] == cms.MueRow(hcpcs="J9330", value=value, mai=mai, rationale=rationale)
    assert isinstance(table.rows["J9330"].value, int)
    assert table.effective_from == date(2026, 1, 1)  # from "Eff_01-01-2026" in the file name
    assert table.quarter == "2026Q1"
    assert table.period_source == "file name"


def test_mue_line_edit_indicator_and_other_codes():
    table = cms.load_mue(MUE_PRACTITIONER, codes={"J9331", "96413"})
    assert table.rows["J9331"].mai == 1  # "1 Line Edit"
    assert table.rows["96413"] == cms.MueRow("96413", 1, 2, "CMS Policy")


def test_mue_notice_with_registered_sign_is_read_as_windows_1252():
    table = cms.load_mue(MUE_PRACTITIONER)
    assert "CPT\u00ae" in table.metadata[0]


def test_mue_without_a_date_in_its_name_has_no_effective_date(tmp_path):
    path = shutil.copy(MUE_DME, tmp_path / "dme_mue_fixture.csv")
    table = cms.load_mue(path)
    assert (table.effective_from, table.quarter, table.period_source) == (None, None, None)


def test_mue_bad_indicator_is_an_error(tmp_path):
    text = _text(MUE_DME).replace("J9330,0,2 Date", "J9330,0,7 Date")
    with pytest.raises(ReferenceFileError, match="line 9: J9330 has an MUE Adjudication Indicator"):
        cms.load_mue(_write(tmp_path / "MCR_MUE_DMESupplierServices_Eff_01-01-2026_fixture.csv", text))


def test_mue_unknown_setting_is_an_error(tmp_path):
    text = _text(MUE_DME).replace("DME Supplier Services MUE Values", "Ambulance Services MUE Values")
    with pytest.raises(ReferenceFileError, match="names no setting"):
        cms.load_mue(_write(tmp_path / "mue.csv", text))


# --------------------------------------------------------------------------- wrong kind

PAIRINGS = [
    (expected, path) for expected in ("asp", "crosswalk", "mue") for path in ALL_FIXTURES if KIND_OF[path] != expected
]


@pytest.mark.parametrize(("expected", "path"), PAIRINGS, ids=[f"{e}<-{p.stem}" for e, p in PAIRINGS])
def test_wrong_kind_is_a_clear_error_that_does_not_quote_the_file(expected, path):
    with pytest.raises(ReferenceFileError) as raised:
        LOADERS[expected](path)
    error = raised.value
    message = str(error)
    assert path.name in message
    assert error.path == path
    assert (error.expected, error.found) == (expected, KIND_OF[path])
    described = {"asp": "ASP pricing", "crosswalk": "NDC-HCPCS crosswalk", "mue": "MUE table"}
    found_at = message.index("but found")
    assert message.index("expected") < message.index(described[expected]) < found_at
    assert message.index(described[KIND_OF[path]], found_at) > found_at
    assert "header starts on line" in message
    for content in ("Temsirolimus", "42.137", "00008-1179-01", "Prescribing Information", "TEST FIXTURE"):
        assert content not in message


def test_wrong_kind_names_the_mue_setting():
    with pytest.raises(ReferenceFileError, match="MUE table for DME Supplier Services"):
        cms.load_asp(MUE_DME)


@pytest.mark.parametrize(
    ("header", "found"),
    [
        ("Drug Generic Name (Trade Name),Dosage,Payment Limit,Notes", "NOC"),
        ("Drug Generic Name,LABELER NAME,NDC or ALTERNATE ID,Drug Name,Dosage,PKG SIZE", "NOC NDC-HCPCS"),
        ("Column 1,Column 2,*=in existence prior to 1996,Effective Date,Deletion Date", "procedure-to-procedure"),
        ("HCPCS Code,Short Descriptor,SI,APC,Relative Weight,Payment Rate", "Addendum B"),
    ],
)
def test_other_cms_files_are_named(tmp_path, header, found):
    path = _write(tmp_path / "other.csv", f"Some title,,\n,,\n{header}\nX0001,a,b\n")
    with pytest.raises(ReferenceFileError, match=found):
        cms.sniff(path)
    with pytest.raises(ReferenceFileError, match=found):
        cms.load_asp(path)


def test_a_file_with_no_cms_header_is_refused_without_quoting_it(tmp_path):
    path = _write(tmp_path / "claims.csv", "member,name,dob\nM123,SECRET-PATIENT-NAME,1950-01-01\n" * 3)
    for call in (cms.sniff, cms.load_asp, cms.load_crosswalk, cms.load_mue):
        with pytest.raises(ReferenceFileError, match="no recognisable CMS header") as raised:
            call(path)
        assert "SECRET-PATIENT-NAME" not in str(raised.value) and "claims.csv" in str(raised.value)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("asp.xlsx", b"PK\x03\x04 workbook bytes", "Excel workbook cannot be opened"),
        ("asp.csv", b"PK\x03\x04 workbook bytes renamed", "Excel workbook"),
        ("asp.xls", b"\xd0\xcf\x11\xe0legacy", "Excel workbook"),
        ("asp.zip", b"PK\x03\x04 zip bytes", "ZIP archive cannot be opened"),
        ("asp.csv", b"", "empty"),
        ("asp.csv", b"HCPCS\x00Code\x00binary", "binary"),
    ],
)
def test_what_cannot_be_read_is_named(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReferenceFileError, match=match):
        cms.load_asp(path)
    with pytest.raises(ReferenceFileError, match=match):
        cms.sniff(path)


def test_a_missing_file_is_a_reference_file_error(tmp_path):
    with pytest.raises(ReferenceFileError, match="no such file"):
        cms.load_mue(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- header search and tolerance


@pytest.mark.parametrize("metadata_rows", [0, 1, 8, 20, 59])
def test_header_is_found_after_any_number_of_metadata_rows(tmp_path, metadata_rows):
    header_and_data = _text(ASP).split("\n", 8)[8]
    metadata = "".join(f"Metadata row {i} - TEST FIXTURE,,,\n" if i % 3 else ",,,\n" for i in range(metadata_rows))
    asp = cms.load_asp(_write(tmp_path / "asp.csv", metadata + header_and_data))
    assert asp.rows["J9330"].payment_limit == Decimal("42.137")
    assert len(asp.metadata) == sum(1 for i in range(metadata_rows) if i % 3)


def test_header_beyond_the_scan_window_is_not_found(tmp_path):
    header_and_data = _text(ASP).split("\n", 8)[8]
    path = _write(tmp_path / "asp.csv", "note,,\n" * cms.HEADER_SCAN_ROWS + header_and_data)
    with pytest.raises(ReferenceFileError, match=f"first {cms.HEADER_SCAN_ROWS} rows"):
        cms.load_asp(path)


@pytest.mark.parametrize(
    ("encoding", "prefix", "newline"),
    [
        ("utf-8", b"\xef\xbb\xbf", "\r\n"),  # BOM + CRLF, as Excel saves "CSV UTF-8"
        ("utf-8", b"", "\n"),
        ("cp1252", b"", "\r\n"),
        ("utf-16", b"", "\r\n"),  # Python's utf-16 codec writes its own BOM
    ],
    ids=["utf8-bom-crlf", "utf8", "cp1252-crlf", "utf16"],
)
@pytest.mark.parametrize("fixture", [ASP, CROSSWALK_2026, MUE_OUTPATIENT], ids=["asp", "crosswalk", "mue"])
def test_encodings_bom_and_line_endings(tmp_path, fixture, encoding, prefix, newline):
    text = _text(fixture).replace("\r\n", "\n").replace("\n", newline)
    path = tmp_path / fixture.name
    path.write_bytes(prefix + text.encode(encoding))
    kind = cms.sniff(path)
    assert kind == KIND_OF[fixture]
    loaded = LOADERS[kind](path)
    assert "J9330" in {row.hcpcs for row in loaded.rows.values()}
    if kind == "crosswalk":
        assert loaded.code_column == "_2026_CODE"  # no BOM left on the first header cell
        assert loaded.rows["44444044401"].labeler == "Laboratoires Fixture Société"
    if kind == "mue":
        assert "CPT\u00ae" in loaded.metadata[0]
        assert loaded.rows["J9330"].value == 66


def test_blank_rows_short_rows_and_spaces_in_cells_are_tolerated(tmp_path):
    text = _text(ASP).replace(
        "J9330,Temsirolimus injection,1 MG,42.137,",
        "\n,,,\nJ9\nJ9330 , Temsirolimus injection ,1 MG, 42.137 ,",
    )
    row = cms.load_asp(_write(tmp_path / "asp.csv", text)).rows["J9330"]
    assert (row.short_description, row.payment_limit) == ("Temsirolimus injection", Decimal("42.137"))


def test_a_value_that_is_not_a_number_names_the_line_not_the_value(tmp_path):
    text = _text(ASP).replace("J9330,Temsirolimus injection,1 MG,42.137,", "J9330,Temsirolimus injection,1 MG,4x2.1,")
    message = r"line 14: J9330 has a 'Payment Limit' value that is not a number"
    with pytest.raises(ReferenceFileError, match=message) as raised:
        cms.load_asp(_write(tmp_path / "asp.csv", text))
    assert "4x2.1" not in str(raised.value)


def test_missing_units_in_the_crosswalk_are_an_error(tmp_path):
    text = _text(CROSSWALK_2025).replace("Torisel,1 MG,1,1,25,25", "Torisel,1 MG,1,1,,25")
    with pytest.raises(ReferenceFileError, match="J9330 has no 'BILLUNITS' value"):
        cms.load_crosswalk(_write(tmp_path / "crosswalk.csv", text))


def test_conflicting_duplicates_are_an_error_but_repeats_are_not(tmp_path):
    line = "J9330,Temsirolimus injection,1 MG,42.137,20.000,,,,,,,,\n"
    repeated = _write(tmp_path / "repeat.csv", _text(ASP) + line)
    assert cms.load_asp(repeated).rows["J9330"].payment_limit == Decimal("42.137")
    conflicting = _write(tmp_path / "conflict.csv", _text(ASP) + line.replace("42.137", "43.000"))
    with pytest.raises(ReferenceFileError, match="J9330 is listed twice with different values"):
        cms.load_asp(conflicting)
    xw_line = "J9330,Temsirolimus injection,Wyeth Pharmaceuticals LLC,00008-1179-01,Torisel,1 MG,1,1,20,20\n"
    with pytest.raises(ReferenceFileError, match="NDC 00008-1179-01 under J9330 is listed twice"):
        cms.load_crosswalk(_write(tmp_path / "xw.csv", _text(CROSSWALK_2025) + xw_line))


def test_an_unbalanced_quote_is_a_reference_file_error(tmp_path):
    text = _text(ASP) + 'J9999,"An unclosed quote,1 MG,1.000\n' + ("x" * 100_000 + ",\n") * 3
    with pytest.raises(ReferenceFileError, match="not readable as CSV"):
        cms.load_asp(_write(tmp_path / "asp.csv", text))


# --------------------------------------------------------------------------- quarters


@pytest.mark.parametrize(
    ("name", "quarter"),
    [
        ("January 2026", "2026Q1"),
        ("section 508 version of January 2024 ASP Pricing File 121223.csv", "2024Q1"),
        ("section 508 version of October 2026 Medicare Part B Payment Limit File 091626.csv", "2026Q4"),
        ("april-2025-asp-pricing-file.zip", "2025Q2"),
        ("jul_2019_asp_pricing_file_updated_052920.zip", "2019Q3"),
        ("january-2025-asp-pricing-file-03-11-25-final-file.zip", "2025Q1"),
        ("October2026 crosswalk.csv", "2026Q4"),
        ("March 2026 correction.csv", "2026Q1"),
        ("medicare-ncci-2026-q4-practitioner-services-mue-table.zip", "2026Q4"),
        ("asp 2026Q2.csv", "2026Q2"),
        ("Q3 2025 asp.csv", "2025Q3"),
        ("MCR_MUE_PractitionerServices_Eff_04-01-2024.csv", "2024Q2"),
        ("summary 2026.csv", None),
        ("notes.csv", None),
        ("asp_pricing.csv", None),
    ],
)
def test_quarter_from_name(name, quarter):
    assert cms.quarter_from_name(name) == quarter


@pytest.mark.parametrize(
    ("quarter", "bounds"),
    [
        ("2026Q1", (date(2026, 1, 1), date(2026, 3, 31))),
        ("2024Q2", (date(2024, 4, 1), date(2024, 6, 30))),
        ("2025Q3", (date(2025, 7, 1), date(2025, 9, 30))),
        ("2026Q4", (date(2026, 10, 1), date(2026, 12, 31))),
    ],
)
def test_quarter_bounds(quarter, bounds):
    assert cms.quarter_bounds(quarter) == bounds


def test_quarter_bounds_refuses_other_text():
    with pytest.raises(ValueError):
        cms.quarter_bounds("2026-Q1")


def _without_effective_row(text: str) -> str:
    return "\n".join(line for line in text.split("\n") if "Effective" not in line)


def test_asp_period_falls_back_to_the_file_name(tmp_path):
    path = _write(
        tmp_path / "section 508 version of April 2026 Medicare Part B Payment Limit File fixture.csv",
        _without_effective_row(_text(ASP)),
    )
    asp = cms.load_asp(path)
    assert (asp.quarter, asp.effective_from, asp.effective_to) == ("2026Q2", date(2026, 4, 1), date(2026, 6, 30))
    assert asp.period_source == "file name"


def test_asp_with_no_period_anywhere(tmp_path):
    asp = cms.load_asp(_write(tmp_path / "asp_pricing.csv", _without_effective_row(_text(ASP))))
    assert (asp.quarter, asp.effective_from, asp.effective_to, asp.period_source) == (None, None, None, None)
    assert asp.rows["J9330"].payment_limit == Decimal("42.137")


def test_crosswalk_period_falls_back_to_the_title_row(tmp_path):
    text = _without_effective_row(_text(CROSSWALK_2025))
    xw = cms.load_crosswalk(_write(tmp_path / "crosswalk.csv", text))
    assert (xw.quarter, xw.effective_from, xw.effective_to) == ("2025Q4", date(2025, 10, 1), date(2025, 12, 31))
    assert xw.period_source == "metadata"


def test_a_mid_quarter_effective_range_is_kept_as_published(tmp_path):
    text = _text(ASP).replace(
        "Effective January 1, 2026 through March 31, 2026", "Effective February 15, 2026 through March 31, 2026"
    )
    asp = cms.load_asp(_write(tmp_path / "asp.csv", text))
    assert (asp.quarter, asp.effective_from, asp.effective_to) == ("2026Q1", date(2026, 2, 15), date(2026, 3, 31))


# --------------------------------------------------------------------------- sniff, load, models


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_sniff_and_load(path):
    assert cms.sniff(path) == KIND_OF[path]
    loaded = cms.load(path)
    assert isinstance(loaded, {"asp": cms.AspFile, "crosswalk": cms.Crosswalk, "mue": cms.MueTable}[KIND_OF[path]])
    assert loaded.path == path


def test_results_are_frozen_and_read_only():
    asp = cms.load_asp(ASP)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        asp.quarter = "2026Q2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        asp.rows["J9331"] = asp.rows["J9330"]  # type: ignore[index]
    assert asp == cms.load_asp(str(ASP))


# --------------------------------------------------------------------------- a national-size file

BIG_ROWS = 200_000
BIG_PEAK_BYTES = 20 * 1024 * 1024


def _big_file(tmp_path: Path, kind: str) -> Path:
    """A national-size file: BIG_ROWS rows, with the J9330 rows in the middle and at the end."""
    if kind == "asp":
        head = _text(ASP).split("HCPCS Code,Short")[0] + _text(ASP).split("\n")[8] + "\n"
        row = "C{n:04d},Fixture drug {n},1 MG,{n}.125,20.000,,,,,,,,\n"
        wanted = ["J9330,Temsirolimus injection,1 MG,42.137,20.000,,,,,,,,\n"]
    elif kind == "crosswalk":
        head = _text(CROSSWALK_2025).split("J7331,")[0]
        row = 'C{n:04d},Fixture drug,"Labeler {n}, Inc.",11111-{m:04d}-01,Fixture,1 MG,1,1,10,10\n'
        wanted = [
            "J9330,Temsirolimus injection,Wyeth Pharmaceuticals LLC,00008-1179-01,Torisel,1 MG,1,1,25,25\n",
            "J9330,Temsirolimus injection,Gland Pharma Limited,68083-0202-01,Temsirolimus,1 MG,1,1,25,25\n",
        ]
    else:
        head = _text(MUE_PRACTITIONER).split("96413,")[0]
        row = "{n:05d},{v},3 Date of Service Edit: Clinical,Clinical: Data\n"
        wanted = ["J9330,77,3 Date of Service Edit: Clinical,Prescribing Information\n"]
    path = tmp_path / f"big_{kind}_fixture.csv"
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(head)
        for n in range(BIG_ROWS):
            if n == BIG_ROWS // 2:
                out.write(wanted[0])
            out.write(row.format(n=n % 9000 + 1000, m=n % 10000 + 1, v=n % 7))
        out.writelines(wanted[1:] or wanted)  # the end of the file (a repeat of an identical row is fine)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["asp", "crosswalk", "mue"])
def test_a_national_size_file_streams(tmp_path, kind):
    path = _big_file(tmp_path, kind)
    assert path.stat().st_size > 5 * 1024 * 1024
    tracemalloc.start()
    try:
        loaded = LOADERS[kind](path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < BIG_PEAK_BYTES, f"peak {peak} bytes"
    assert peak < path.stat().st_size // 4, f"peak {peak} bytes: the file was not streamed"
    if kind == "asp":
        expected = cms.AspRow("J9330", "Temsirolimus injection", "1 MG", Decimal("42.137"), Decimal("20.000"), "")
        assert loaded.rows == {"J9330": expected}
    elif kind == "crosswalk":
        assert set(loaded.rows) == {"00008117901", "68083020201"}
        assert all(row.bill_units_pkg == Decimal("25") for row in loaded.rows.values())
    else:
        assert loaded.rows == {"J9330": cms.MueRow("J9330", 77, 3, "Prescribing Information")}
