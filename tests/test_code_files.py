"""The ICD-10-CM code files and the FDA NDC Directory as their publishers ship them, and the
edits they allow (DX_CODE_INVALID, DX_CODE_NOT_BILLABLE, NDC_NOT_MARKETED), on both engines.

The fixtures (tests/fixtures/codes) are TEST FIXTURES in the published layouts: real codes and
NDCs, made-up marketing dates.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest

from j9330_rules import Editor, ReferenceFileError
from j9330_rules.refdata.code_files import load_icd10, load_ndc_directory
from tests.conftest import ENGINE_NAMES, EXAMPLES, FIXTURES

CODES = FIXTURES / "codes"
ORDER = CODES / "icd10cm_order_2026_fixture.txt"
CODES_FILE = CODES / "icd10cm_codes_2026_fixture.txt"
PACKAGES = CODES / "package_fixture.txt"
CLEAN = json.loads((EXAMPLES / "01-clean-partial-kit.json").read_text())  # C64.1, NDC 00008-1179-01, 2026-03-02
NEW_CODES = {"DX_CODE_INVALID", "DX_CODE_NOT_BILLABLE", "NDC_NOT_MARKETED"}


@pytest.fixture(scope="module", params=ENGINE_NAMES)
def loaded(request) -> Editor:
    return Editor(icd10_file=ORDER, ndc_directory=PACKAGES, engine=request.param)


def claim(**changes) -> dict:
    data = json.loads(json.dumps(CLEAN))
    data.update(changes)
    return data


def on(day: str, **changes) -> dict:
    data = claim(**changes)
    for line in data["lines"]:
        line["service_date"] = day
    return data


def found(editor: Editor, data: dict) -> list[tuple[str, int | None]]:
    return [(f.code, f.line) for f in editor.check(data).findings if f.code in NEW_CODES]


# --- the loaders ----------------------------------------------------------------------------


def test_the_order_file_gives_billable_codes_and_headers_for_its_fiscal_year():
    codes = load_icd10(ORDER)
    assert (codes.effective.effective_from, codes.effective.effective_to) == (
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
    )
    assert [codes.status(c) for c in ("C64.1", "c641", "C64", "C64.8", "Z99")] == [
        "billable",
        "billable",
        "header",
        "unknown",
        "unknown",
    ]


def test_the_codes_file_lists_billable_codes_only():
    codes = load_icd10(CODES_FILE)
    assert codes.status("C641") == "billable" and codes.status("C64") == "unknown"


def test_the_published_zip_is_read(tmp_path):
    archive = tmp_path / "2026-code-descriptions-tabular-order.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("icd10OrderFiles.pdf", b"%PDF-1.4")
        out.write(ORDER, "icd10cm_order_2026.txt")
    assert load_icd10(archive).status("C64") == "header"
    ndc_zip = tmp_path / "ndctext.zip"
    with zipfile.ZipFile(ndc_zip, "w") as out:
        out.write(PACKAGES, "package.txt")
        out.writestr("product.txt", "PRODUCTID\n")
    assert load_ndc_directory(ndc_zip).marketed("00008117901", dt.date(2026, 3, 2)) is True


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("icd10cm_order_2026.txt", "00001 C64 X Malignant\n", "line 1: not an ICD-10-CM order file line"),
        ("icd10cm_order.txt", "00001 C64     0 Malignant\n", "does not say the fiscal year"),
        ("icd10cm_codes_2026.txt", "", "holds no codes"),
        ("icd10cm_codes_2026.txt", "Zebulon Quaxworth\n", "line 1: not an ICD-10-CM codes file line"),
    ],
)
def test_icd10_file_errors_name_the_file_and_line_never_the_content(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ReferenceFileError, match=problem) as raised:
        load_icd10(path)
    assert "Zebulon" not in str(raised.value) and name in str(raised.value)


def test_ndc_directory_dates_and_errors(tmp_path):
    directory = load_ndc_directory(PACKAGES)
    assert directory.marketed("16729022361", dt.date(2025, 12, 31)) is True
    assert directory.marketed("16729022361", dt.date(2026, 1, 1)) is False
    assert directory.marketed("65219020005", dt.date(2026, 3, 2)) is False  # starts 2027 in the fixture
    assert directory.marketed("72611078502", dt.date(2026, 3, 2)) is None  # not listed
    bad = tmp_path / "package.txt"
    bad.write_text("PRODUCTID\tNDCPACKAGECODE\n1\t0008-1179-01\n")
    with pytest.raises(ReferenceFileError, match="line 1: not the NDC Directory package file"):
        load_ndc_directory(bad)
    bad.write_text(PACKAGES.read_text().replace("20070530", "2007-05-30"))
    with pytest.raises(ReferenceFileError, match="line 2: STARTMARKETINGDATE is not a YYYYMMDD date"):
        load_ndc_directory(bad)


# --- the edits, against the files' own words ------------------------------------------------


def test_a_correctly_billed_claim_gets_none_of_the_new_findings(loaded):
    assert found(loaded, claim()) == []


def test_a_header_code_is_not_billable(loaded):
    """The order file flags C64 0 ("header"): C64.1, C64.2 and C64.9 are the codes for claims."""
    assert found(loaded, claim(diagnoses=["C64"])) == [("DX_CODE_NOT_BILLABLE", 1), ("DX_CODE_NOT_BILLABLE", 2)]
    (finding, _) = [f for f in loaded.check(claim(diagnoses=["C64"])).findings if f.code in NEW_CODES]
    assert finding.severity == "reject" and finding.carc == "146"
    assert "Diagnosis 1 is an ICD-10-CM category" in finding.message


def test_a_code_not_in_the_file_is_invalid(loaded):
    assert found(loaded, claim(diagnoses=["C64.8"])) == [("DX_CODE_INVALID", 1), ("DX_CODE_INVALID", 2)]


def test_only_the_pointed_diagnosis_is_judged(loaded):
    data = claim(diagnoses=["C64.1", "C64.8"])
    assert found(loaded, data) == []  # the lines point to diagnosis 1
    for line in data["lines"]:
        line["dx_pointers"] = [1, 2]
    assert {code for code, _ in found(loaded, data)} == {"DX_CODE_INVALID"}


def test_a_date_outside_the_files_fiscal_year_is_not_judged(loaded):
    """FY2026 is 2025-10-01 to 2026-09-30: a later date's codes are not the file's to judge."""
    assert found(loaded, on("2026-10-01", diagnoses=["C64.8"])) == []
    assert found(loaded, on("2026-03-31", diagnoses=["C64.8"])) != []
    # From April 1 the October release cannot prove a code invalid (tests/test_icd10_file.py).
    assert found(loaded, on("2026-09-30", diagnoses=["C64.8"])) == []


def test_an_ndc_past_its_end_marketing_date_warns(loaded):
    late = on("2026-01-02")
    for line in late["lines"]:
        line["ndc"] = "16729-0223-61"
    findings = [f for f in loaded.check(late).findings if f.code == "NDC_NOT_MARKETED"]
    assert [(f.line, f.severity, f.carc, f.rarc) for f in findings] == [
        (1, "warn", "16", "M119"),
        (2, "warn", "16", "M119"),
    ]
    early = on("2025-12-31")
    for line in early["lines"]:
        line["ndc"] = "16729-0223-61"
    assert found(loaded, early) == []


def test_an_ndc_the_directory_does_not_list_draws_nothing(loaded):
    data = claim()
    for line in data["lines"]:
        line["ndc"] = "72611-0785-02"
    assert found(loaded, data) == []


def test_the_rules_carry_their_contract():
    from tests.test_national_rules import CODE_FILE_RULES, CONTRACT, NATIONAL

    rules = {rule["id"]: rule for rule in NATIONAL["rules"] if rule["id"] in CODE_FILE_RULES}
    assert set(rules) == CODE_FILE_RULES
    for rule in rules.values():
        assert rule["severity"] == CONTRACT[rule["code"]][0] and rule["reviewed"] == "2026-12-06"
        assert rule["source"].strip() and rule["message"].strip()


def test_without_the_files_nothing_changes():
    bare = Editor()
    assert bare.reference.not_loaded[-2:] == ["icd10", "ndc_directory"]
    assert found(bare, claim(diagnoses=["C64"])) == []


def test_the_cli_says_once_in_a_terminal_which_code_files_are_not_loaded(tmp_path):
    """Under a pseudo-terminal (script): the note is on the screen once, the data in the file."""
    import shlex
    import shutil
    import subprocess
    import sys

    if shutil.which("script") is None:
        pytest.skip("util-linux script is not installed")
    out = tmp_path / "out.ndjson"

    def screen(*options: str) -> str:
        command = [sys.executable, "-m", "j9330_rules", "check", "--fail-on", "never", "--format", "ndjson", *options]
        shell = f"{shlex.join([*command, str(EXAMPLES)])} > {shlex.quote(str(out))}"
        return subprocess.run(["script", "-qec", shell, "/dev/null"], capture_output=True, text=True, check=True).stdout

    shown = screen()
    assert shown.count("--icd10-file") == 1 and shown.count("--ndc-directory") == 1
    lines = len(out.read_text().splitlines())
    assert lines >= 4 and "note:" not in out.read_text()
    assert "note:" not in screen("--icd10-file", str(ORDER), "--ndc-directory", str(PACKAGES))
    assert len(out.read_text().splitlines()) == lines
    assert "note:" not in screen("-q")
