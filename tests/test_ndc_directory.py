"""The FDA NDC Directory package file (--ndc-directory) in its published layout, and the edit it
allows (NDC_NOT_MARKETED), on both engines.

package.txt (FDA NDC Directory download, ndctext.zip) is tab-delimited with a header row:
PRODUCTID, PRODUCTNDC, NDCPACKAGECODE, PACKAGEDESCRIPTION, STARTMARKETINGDATE, ENDMARKETINGDATE
(YYYYMMDD, blank when open), NDC_EXCLUDE_FLAG, SAMPLE_PACKAGE; Windows-1252 text. The files here
are TEST FIXTURES written in tmp_path (their names say so): the NDCs are real temsirolimus
packages (Pfizer Torisel 0008-1179-01, Accord 16729-223-61, Gland 68083-202-01, Almaject
72611-785-02); every marketing date and the PRODUCTID suffixes are made-up fixture values.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from j9330_rules import Editor, ReferenceFileError
from j9330_rules.refdata.code_files import load_ndc_directory
from tests.conftest import ENGINE_NAMES, FIXTURE_ASP, FIXTURE_MUE, make_claim

HEADER = [
    "PRODUCTID",
    "PRODUCTNDC",
    "NDCPACKAGECODE",
    "PACKAGEDESCRIPTION",
    "STARTMARKETINGDATE",
    "ENDMARKETINGDATE",
    "NDC_EXCLUDE_FLAG",
    "SAMPLE_PACKAGE",
]
# (NDCPACKAGECODE, STARTMARKETINGDATE, ENDMARKETINGDATE): fixture dates, not FDA's.
PACKAGES = [
    ("0008-1179-01", "20070530", ""),  # 4-4-2, open-ended
    ("16729-223-61", "20190101", "20251231"),  # 5-3-2, ended
    ("68083-202-01", "20270101", ""),  # starts after the claims' dates
]
TORISEL, ACCORD, GLAND, ALMAJECT = "00008117901", "16729022361", "68083020201", "72611078502"


def package_text(rows, header=HEADER) -> str:
    lines = ["\t".join(header)]
    for code, start, end in rows:
        product = code.rsplit("-", 1)[0]
        cells = {
            "PRODUCTID": f"{product}_TEST-FIXTURE",
            "PRODUCTNDC": product,
            "NDCPACKAGECODE": code,
            "PACKAGEDESCRIPTION": "1 KIT in 1 CARTON (TEST FIXTURE) \u00ae",
            "STARTMARKETINGDATE": start,
            "ENDMARKETINGDATE": end,
            "NDC_EXCLUDE_FLAG": "N",
            "SAMPLE_PACKAGE": "N",
        }
        lines.append("\t".join(cells.get(column, "") for column in header))
    return "\r\n".join(lines) + "\r\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_bytes(text.encode("cp1252"))
    return path


@pytest.fixture(scope="module")
def package_file(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("ndc"), "package_TEST_FIXTURE.txt", package_text(PACKAGES))


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def loaded(package_file, engine) -> Editor:
    """The fixture ASP and MUE files too, so that a correct claim is clean."""
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, ndc_directory=package_file, engine=engine)


def claim(ndc: str = "00008-1179-01", day: str = "2026-03-02") -> dict:
    data = make_claim()
    for line in data["lines"]:
        line["service_date"] = day
        if line["hcpcs"] == "J9330":
            line["ndc"] = ndc
    return data


def marketed_findings(editor: Editor, data: dict) -> list:
    return [f for f in editor.check(data).findings if f.code == "NDC_NOT_MARKETED"]


# --- the loader ----------------------------------------------------------------------------------


def test_package_codes_are_normalised_to_the_11_digit_claim_form(package_file):
    directory = load_ndc_directory(package_file)
    assert set(directory.packages) == {TORISEL, ACCORD, GLAND}  # 4-4-2 and 5-3-2, padded to 5-4-2
    assert directory.packages[TORISEL].effective_from == dt.date(2007, 5, 30)
    assert directory.packages[TORISEL].effective_to is None


@pytest.mark.parametrize(
    ("code", "day", "marketed"),
    [
        (TORISEL, dt.date(2007, 5, 30), True),  # the first day
        (TORISEL, dt.date(2007, 5, 29), False),
        (ACCORD, dt.date(2025, 12, 31), True),  # the last day
        (ACCORD, dt.date(2026, 1, 1), False),
        (GLAND, dt.date(2026, 3, 2), False),
        (ALMAJECT, dt.date(2026, 3, 2), None),  # not listed: unknown, not "off the market"
    ],
)
def test_marketed_on_the_date_of_service(package_file, code, day, marketed):
    assert load_ndc_directory(package_file).marketed(code, day) is marketed


def test_columns_are_found_by_name_and_a_package_on_two_rows_keeps_its_widest_period(tmp_path):
    header = ["NDCPACKAGECODE", "ENDMARKETINGDATE", "STARTMARKETINGDATE", "PRODUCTID", "EXTRA"]
    rows = [("16729-223-61", "20190101", "20221231"), ("16729-223-61", "20210101", "20251231")]
    directory = load_ndc_directory(write(tmp_path, "package.txt", package_text(rows, header)))
    assert (directory.packages[ACCORD].effective_from, directory.packages[ACCORD].effective_to) == (
        dt.date(2019, 1, 1),
        dt.date(2025, 12, 31),
    )


def test_a_row_whose_code_is_not_an_ndc_is_passed_over(tmp_path):
    rows = [("0008-1179-01", "20070530", ""), ("not-an-ndc", "20070530", "")]
    assert set(load_ndc_directory(write(tmp_path, "package.txt", package_text(rows))).packages) == {TORISEL}


def test_the_published_zip_is_read(tmp_path):
    archive = tmp_path / "ndctext.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("product.txt", "PRODUCTID\tPRODUCTNDC\r\n")
        out.writestr("package.txt", package_text(PACKAGES).encode("cp1252"))
    assert load_ndc_directory(archive).marketed(TORISEL, dt.date(2026, 3, 2)) is True
    without = tmp_path / "other.zip"
    with zipfile.ZipFile(without, "w") as out:
        out.writestr("product.txt", "PRODUCTID\r\n")
    with pytest.raises(ReferenceFileError, match=r"the ZIP holds no NDC Directory package.txt \(product.txt\)"):
        load_ndc_directory(without)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (package_text(PACKAGES, HEADER[:3]), "line 1: not the NDC Directory package file"),
        (package_text(PACKAGES).replace("20190101", "2019-01-01"), "line 3: STARTMARKETINGDATE is not a YYYYMMDD"),
        (package_text(PACKAGES).replace("20251231", "12/31/2025"), "line 3: ENDMARKETINGDATE is not a YYYYMMDD"),
        (package_text(PACKAGES) + "0008-1179_X\t0008-1179\r\n", "line 5: fewer columns than the header"),
        (package_text([]), "lists no packages"),
    ],
)
def test_errors_name_the_file_and_line_never_its_content(tmp_path, text, problem):
    path = write(tmp_path, "package_TEST_FIXTURE.txt", text)
    with pytest.raises(ReferenceFileError, match=problem) as raised:
        load_ndc_directory(path)
    message = str(raised.value)
    assert "package_TEST_FIXTURE.txt" in message
    assert not any(value in message for value in ("2019-01-01", "12/31/2025", "0008-1179", "TEST FIXTURE)"))


# --- the edit ------------------------------------------------------------------------------------


def test_a_correctly_billed_claim_with_a_marketed_ndc_gets_no_finding(loaded):
    result = loaded.check(claim())
    assert marketed_findings(loaded, claim()) == []
    assert [f.code for f in result.findings if f.severity != "info"] == [] and not result.blocking


def test_an_ndc_past_its_end_marketing_date_warns_on_each_line(loaded):
    result = loaded.check(claim("16729-0223-61", day="2026-01-02"))
    findings = [f for f in result.findings if f.code == "NDC_NOT_MARKETED"]
    assert [(f.line, f.severity, f.carc, f.rarc, f.rule_id) for f in findings] == [
        (1, "warn", "16", "M119", "NAT-NDC-NOT-MARKETED"),
        (2, "warn", "16", "M119", "NAT-NDC-NOT-MARKETED"),
    ]
    assert not result.blocking  # a warning: the listing's dates can lag the market
    assert "16729" not in findings[0].message
    assert marketed_findings(loaded, claim("16729-0223-61", day="2025-12-31")) == []


def test_an_ndc_before_its_start_marketing_date_warns(loaded):
    assert [f.line for f in marketed_findings(loaded, claim("68083-0202-01"))] == [1, 2]
    assert marketed_findings(loaded, claim("68083-0202-01", day="2027-01-01")) == []


def test_an_ndc_the_directory_does_not_list_draws_nothing(loaded):
    """The directory lists current listings only (FDA publishes the others apart): absence proves nothing."""
    result = loaded.check(claim("72611-0785-02"))
    assert marketed_findings(loaded, claim("72611-0785-02")) == []
    assert not result.blocking


def test_an_invalid_ndc_is_ndc_invalids_alone(loaded):
    assert {f.code for f in loaded.check(claim("1234")).findings} >= {"NDC_INVALID"}
    assert marketed_findings(loaded, claim("1234")) == []


def test_without_the_directory_nothing_is_judged(engine):
    bare = Editor(engine=engine)
    assert "ndc_directory" in bare.reference.not_loaded
    assert marketed_findings(bare, claim("16729-0223-61", day="2026-01-02")) == []


def test_the_rule_carries_its_citation_dates_and_review():
    from tests.test_national_rules import NATIONAL

    (rule,) = [rule for rule in NATIONAL["rules"] if rule["id"] == "NAT-NDC-NOT-MARKETED"]
    assert rule["severity"] == "warn" and rule["reviewed"] == "2026-12-06" and rule["effective_from"]
    assert "STARTMARKETINGDATE" in rule["source"] and "ENDMARKETINGDATE" in rule["source"]


def test_refdata_show_lists_the_bundled_ndcs_marketing_dates(package_file):
    from click.testing import CliRunner

    from j9330_rules.cli import main

    shown = CliRunner().invoke(
        main, ["refdata", "show", "--ndc-directory", str(package_file)], catch_exceptions=False, terminal_width=250
    )
    assert shown.exit_code == 0
    assert "3 packages" in shown.output and TORISEL in shown.output and "2007-05-30" in shown.output
    assert ACCORD in shown.output and "2025-12-31" in shown.output  # the cell wraps
