"""The CMS ICD-10-CM code files (--icd10-file) in their published layouts, and the edits they
allow (DX_CODE_INVALID, DX_CODE_NOT_BILLABLE, and the notes of what a loaded file cannot judge),
on both engines.

The files are written here, in tmp_path, as TEST FIXTURES (the name of each says so): excerpts in
the published fixed-width layouts with real codes and titles. C64 is the category (a header, flag
0) whose billable codes are C64.1, C64.2 and C64.9. Z28.310 and Z28.311 were added by the April 1,
2022 update, which made Z28.3 a header. Layout (CMS icd10OrderFiles.pdf): order file columns
1-5 order number, 7-13 code without the dot, 15 the flag (1 valid for HIPAA-covered
transactions, 0 a header), 17-76 short and 78- long description; codes file: columns 1-7 the
code, 9- the description.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from j9330_rules import Editor, ReferenceFileError
from j9330_rules.refdata.code_files import load_icd10
from tests.conftest import ENGINE_NAMES, make_claim

KIDNEY = [
    ("C64", 0, "Malignant neoplasm of kidney, except renal pelvis"),
    ("C641", 1, "Malignant neoplasm of right kidney, except renal pelvis"),
    ("C642", 1, "Malignant neoplasm of left kidney, except renal pelvis"),
    ("C649", 1, "Malignant neoplasm of unspecified kidney, except renal pelvis"),
    ("C831", 0, "Mantle cell lymphoma"),
    ("C8310", 1, "Mantle cell lymphoma, unspecified site"),
]
FY2022_OCTOBER = [("Z283", 1, "Underimmunization status")]
FY2022_APRIL = [
    ("Z283", 0, "Underimmunization status"),
    ("Z2831", 0, "Underimmunization for COVID-19 status"),
    ("Z28310", 1, "Unvaccinated for COVID-19"),
    ("Z28311", 1, "Partially vaccinated for COVID-19"),
    ("Z2839", 1, "Other underimmunization status"),
]
NEW_CODES = {"DX_CODE_INVALID", "DX_CODE_NOT_BILLABLE"}
NOTES = {"NAT-DX-CODE-UNCONFIRMED", "NAT-DX-CODE-FILE-MISSING"}


def order_text(rows) -> str:
    """The order file's fixed-width lines (CRLF, as CMS ships them)."""
    return "".join(
        f"{number:05d} {code:<7} {flag} {title[:60]:<60} {title}\r\n"
        for number, (code, flag, title) in enumerate(rows, 1)
    )


def codes_text(rows) -> str:
    return "".join(f"{code:<7} {title}\r\n" for code, flag, title in rows if flag == 1)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, newline="")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("icd10")
    return {
        "order": write(where, "icd10cm_order_2026_TEST_FIXTURE.txt", order_text(KIDNEY)),
        "codes": write(where, "icd10cm_codes_2026_TEST_FIXTURE.txt", codes_text(KIDNEY)),
        "oct22": write(where, "icd10cm_order_2022_TEST_FIXTURE.txt", order_text(KIDNEY + FY2022_OCTOBER)),
        "apr22": write(where, "icd10cm-order-April-2022_TEST_FIXTURE.txt", order_text(KIDNEY + FY2022_APRIL)),
    }


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def engine(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def fy2026(files, engine) -> Editor:
    return Editor(icd10_file=files["order"], engine=engine)


@pytest.fixture(scope="module")
def fy2022(files, engine) -> Editor:
    """FY2022 with both releases loaded: October 1, 2021, and April 1, 2022."""
    return Editor(icd10_file=[files["oct22"], files["apr22"]], engine=engine)


def claim(diagnoses=("C64.1",), day="2026-03-02", pointers=None) -> dict:
    data = make_claim(diagnoses=list(diagnoses))
    for line in data["lines"]:
        line["service_date"] = day
        if pointers is not None:
            line["dx_pointers"] = list(pointers)
    return data


def found(editor: Editor, data: dict) -> list[tuple[str, int | None]]:
    return [(f.code, f.line) for f in editor.check(data).findings if f.code in NEW_CODES or f.rule_id in NOTES]


def notes(editor: Editor, data: dict) -> list[tuple[str, int | None]]:
    return [(f.rule_id, f.line) for f in editor.check(data).findings if f.rule_id in NOTES]


# --- the loader ----------------------------------------------------------------------------------


def test_the_order_file_gives_billable_codes_and_headers_for_its_fiscal_year(files):
    release = load_icd10(files["order"])
    assert (release.fiscal_year, release.release) == (2026, "october")
    assert (release.effective.effective_from, release.effective.effective_to) == (
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
    )
    assert {code: release.status(code) for code in ("C64.1", "c641", "C649", "C64", "C83.1", "C64.8")} == {
        "C64.1": "billable",
        "c641": "billable",
        "C649": "billable",
        "C64": "header",
        "C83.1": "header",
        "C64.8": "unknown",
    }


def test_the_codes_file_holds_billable_codes_only(files):
    release = load_icd10(files["codes"])
    assert release.status("C64.1") == "billable" and release.status("C8310") == "billable"
    assert release.status("C64") == "unknown"  # a header is not in the codes file at all


def test_the_published_zip_gives_the_order_file_and_passes_the_addenda_over(tmp_path, files):
    archive = tmp_path / "2026-code-descriptions-tabular-order.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("Code Descriptions/icd10OrderFiles.pdf", b"%PDF-1.4")
        out.writestr("Code Descriptions/icd10cm_codes_2026.txt", codes_text(KIDNEY))
        out.writestr("Code Descriptions/icd10cm_codes_addenda_2026.txt", "Add C641 addenda line\r\n")
        out.writestr("Code Descriptions/icd10cm_order_2026.txt", order_text(KIDNEY))
        out.writestr("Code Descriptions/icd10cm_order_addenda_2026.txt", "Add   00002 C641 addenda line\r\n")
    release = load_icd10(archive)
    assert release.status("C64") == "header"  # the order file, not the codes file, was read
    assert (release.fiscal_year, release.release) == (2026, "october")


def test_the_april_release_is_told_by_its_name_or_its_zip(tmp_path, files):
    cdc = load_icd10(files["apr22"])  # CDC: icd10cm-order-April-2022.txt
    assert (cdc.fiscal_year, cdc.release) == (2022, "april")
    assert (cdc.effective.effective_from, cdc.effective.effective_to) == (dt.date(2022, 4, 1), dt.date(2022, 9, 30))
    # CMS: the April ZIP holds a file named like the October one.
    archive = tmp_path / "april-1-2026-code-descriptions-in-tabular-order.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("Code Descriptions/icd10cm_order_2026.txt", order_text(KIDNEY))
    assert load_icd10(archive).release == "april"
    unzipped = write(
        tmp_path,
        "april-1-2026-code-descriptions-in-tabular-order/Code Descriptions/icd10cm_order_2026.txt",
        order_text(KIDNEY),
    )
    assert load_icd10(unzipped).release == "april"


def test_the_fiscal_year_and_release_can_be_given(tmp_path):
    path = write(tmp_path, "icd10cm_order_TEST_FIXTURE.txt", order_text(KIDNEY))
    with pytest.raises(ReferenceFileError, match="does not say the fiscal year"):
        load_icd10(path)
    given = load_icd10(path, fiscal_year=2026, release="april")
    assert given.effective.effective_from == dt.date(2026, 4, 1) and given.status("C64") == "header"
    with pytest.raises(ValueError, match="release is one of october, april"):
        load_icd10(path, fiscal_year=2026, release="july")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "icd10cm_order_2026.txt",
            order_text(KIDNEY[:2]) + "00003 C642    X Zebulon Quaxworth\r\n",
            "line 3: not an ICD-10-CM order",
        ),
        (
            "icd10cm_order_2026.txt",
            order_text(KIDNEY[:1]) + "C642    Zebulon Quaxworth\r\n",
            "line 2: not an ICD-10-CM order",
        ),
        ("icd10cm_codes_2026.txt", codes_text(KIDNEY) + "Zebulon Quaxworth\r\n", "line 5: not an ICD-10-CM codes"),
        ("icd10cm_codes_2026.txt", "\r\n", "holds no codes"),
    ],
)
def test_errors_name_the_file_and_line_never_its_content(tmp_path, name, text, problem):
    path = write(tmp_path, name, text)
    with pytest.raises(ReferenceFileError, match=problem) as raised:
        load_icd10(path)
    assert name in str(raised.value) and "Zebulon" not in str(raised.value)


def test_a_missing_file_is_refused_before_any_claim():
    with pytest.raises(FileNotFoundError, match="reference file not found"):
        Editor(icd10_file="no/such/icd10cm_order_2026.txt")


# --- the edits -----------------------------------------------------------------------------------


def test_a_correctly_billed_claim_gets_none_of_the_new_findings(fy2026):
    result = fy2026.check(claim())
    assert found(fy2026, claim()) == []
    assert [f.code for f in result.findings if f.severity != "info"] == []


def test_a_header_is_not_billable(fy2026):
    """C64 is flagged 0 in the order file: C64.1, C64.2 and C64.9 are the codes for claims."""
    findings = [f for f in fy2026.check(claim(["C64"])).findings if f.code in NEW_CODES]
    assert [(f.code, f.line, f.severity, f.carc, f.rarc) for f in findings] == [
        ("DX_CODE_NOT_BILLABLE", 1, "reject", "146", None),
        ("DX_CODE_NOT_BILLABLE", 2, "reject", "146", None),
    ]
    assert "Diagnosis 1 is an ICD-10-CM category" in findings[0].message and "C64" not in findings[0].message


def test_a_code_that_does_not_exist_is_invalid(fy2026):
    assert found(fy2026, claim(["C64.8"])) == [("DX_CODE_INVALID", 1), ("DX_CODE_INVALID", 2)]


def test_only_the_codes_the_file_proves_invalid_are_flagged(fy2026):
    # The lines point to diagnosis 1 only: the header at 2 is not theirs.
    assert found(fy2026, claim(["C64.1", "C64"])) == []
    # Pointing to both, the finding names the pointer of the one that is invalid.
    (finding, _) = [f for f in fy2026.check(claim(["C64.1", "C64"], pointers=[1, 2])).findings if f.code in NEW_CODES]
    assert "Diagnosis 2 " in finding.message
    # Mantle cell lymphoma: the billable C83.10 passes, its subcategory C83.1 does not.
    assert found(fy2026, claim(["C83.10"])) == []
    assert found(fy2026, claim(["C83.1"])) == [("DX_CODE_NOT_BILLABLE", 1), ("DX_CODE_NOT_BILLABLE", 2)]


def test_a_date_outside_the_files_fiscal_year_is_not_judged_and_says_so_once(fy2026):
    """FY2026 is 2025-10-01 to 2026-09-30: another year's codes are not the file's to judge."""
    for day in ("2025-09-30", "2026-10-01"):
        assert notes(fy2026, claim(["C64.8"], day=day)) == [("NAT-DX-CODE-FILE-MISSING", 1)]  # one per date
        assert [c for c, _ in found(fy2026, claim(["C64.8"], day=day))] == ["REFERENCE_DATA_MISSING"]
    finding = next(f for f in fy2026.check(claim(day="2026-10-01")).findings if f.rule_id in NOTES)
    assert finding.severity == "info" and "--icd10-file" in finding.message


def test_from_april_first_the_october_release_only_notes_what_it_cannot_prove(fy2026):
    """The April 1 release can add codes: the October release alone does not reject from April 1."""
    assert found(fy2026, claim(["C64.8"], day="2026-03-31")) == [("DX_CODE_INVALID", 1), ("DX_CODE_INVALID", 2)]
    april = fy2026.check(claim(["C64.8"], day="2026-04-01"))
    assert not april.blocking
    assert [(f.rule_id, f.severity, f.line) for f in april.findings if f.rule_id in NOTES] == [
        ("NAT-DX-CODE-UNCONFIRMED", "info", 1),
        ("NAT-DX-CODE-UNCONFIRMED", "info", 2),
    ]
    assert found(fy2026, claim(["C64"], day="2026-09-30")) == [
        ("REFERENCE_DATA_MISSING", 1),
        ("REFERENCE_DATA_MISSING", 2),
    ]
    assert found(fy2026, claim(day="2026-09-30")) == []  # a billable code draws nothing


def test_a_code_added_on_april_first_is_valid_from_that_day_only(fy2022):
    """Z28.310 came with the April 1, 2022 release, which also made Z28.3 a header."""
    assert found(fy2022, claim(["Z28.310"], day="2022-04-01")) == []
    assert found(fy2022, claim(["Z28.310"], day="2022-03-31")) == [("DX_CODE_INVALID", 1), ("DX_CODE_INVALID", 2)]
    assert found(fy2022, claim(["Z28.3"], day="2022-03-31")) == []
    assert found(fy2022, claim(["Z28.3"], day="2022-04-01")) == [
        ("DX_CODE_NOT_BILLABLE", 1),
        ("DX_CODE_NOT_BILLABLE", 2),
    ]


def test_the_october_release_alone_does_not_reject_an_april_code(files, engine):
    october = Editor(icd10_file=files["oct22"], engine=engine)
    result = october.check(claim(["Z28.310"], day="2022-05-02"))
    assert not [f for f in result.findings if f.code in NEW_CODES]
    assert [f.rule_id for f in result.findings if f.rule_id in NOTES] == ["NAT-DX-CODE-UNCONFIRMED"] * 2


def test_the_same_release_loaded_twice_judges_by_the_best_of_them(files, engine):
    """The order file and the codes file of one year: the header is still known as a header."""
    both = Editor(icd10_file=[files["codes"], files["order"]], engine=engine)
    assert found(both, claim(["C64"])) == [("DX_CODE_NOT_BILLABLE", 1), ("DX_CODE_NOT_BILLABLE", 2)]
    assert found(both, claim(["C64.2"])) == []


def test_without_a_file_nothing_is_judged_and_no_claim_is_told(engine):
    bare = Editor(engine=engine)
    assert "icd10" in bare.reference.not_loaded
    assert found(bare, claim(["C64"])) == []  # check says so once per run instead (test_code_files.py)


def test_the_new_rules_carry_citation_dates_and_review():
    from tests.test_national_rules import NATIONAL

    rules = {rule["id"]: rule for rule in NATIONAL["rules"]}
    for rule_id in ("NAT-DX-CODE-UNKNOWN", "NAT-DX-CODE-HEADER", *NOTES):
        rule = rules[rule_id]
        assert rule["source"].strip() and rule["effective_from"] == "2015-10-01" and rule["reviewed"] == "2026-12-06"
    assert "CARC 146" in rules["NAT-DX-CODE-UNKNOWN"]["source"]


def test_refdata_show_lists_the_loaded_release(files):
    from click.testing import CliRunner

    from j9330_rules.cli import main

    shown = CliRunner().invoke(main, ["refdata", "show", "--icd10-file", str(files["apr22"])], catch_exceptions=False)
    assert shown.exit_code == 0
    assert "FY2022 april release" in shown.output and "2022-04-01 to 2022-09-30" in shown.output
    assert shown.output.count("not loaded") == 5
