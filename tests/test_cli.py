"""The command line: formats, inputs, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from j9330_rules.cli import main
from tests.conftest import EXAMPLES, make_claim


@pytest.fixture
def run():
    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_examples_cover_a_clean_claim_and_typical_errors(run):
    result = run("check", "--format", "json", str(EXAMPLES))
    assert result.exit_code == 1
    results = json.loads(result.stdout)
    by_id = {r["claim_id"]: r for r in results}
    clean = by_id["EX-01-PARTIAL-KIT"]
    # No reference files are loaded: the only findings say so, plainly.
    assert {(f["code"], f["severity"]) for f in clean["findings"]} == {("REFERENCE_DATA_MISSING", "info")}
    assert not clean["blocking"]
    found = {f["code"] for r in results for f in r["findings"]}
    assert {"JWJZ_MISSING", "WASTE_ARITHMETIC", "NDC_INVALID", "DX_NOT_COVERED", "JWJZ_CONFLICT"} <= found
    assert sum(r["error"] is not None for r in results) == 1


def test_engine_option_chooses_the_engine_and_both_give_the_same_output(run):
    outputs = {}
    for engine in ("compiled", "durable"):
        result = run("check", "--format", "json", "--engine", engine, str(EXAMPLES))
        assert result.exit_code == 1
        outputs[engine] = json.loads(result.stdout)
    assert outputs["compiled"] == outputs["durable"]  # findings, payment and audit evidence alike
    assert any(r["findings"] for r in outputs["compiled"])
    assert run("check", "--engine", "rete", str(EXAMPLES)).exit_code == 2


def test_clean_claim_exits_zero_and_table_says_clean(run, tmp_path):
    path = tmp_path / "clean.json"
    path.write_text(json.dumps(make_claim()))
    cms = Path(__file__).resolve().parent / "fixtures" / "cms"
    result = run(
        "check",
        "--asp-file",
        str(cms / "asp_payment_limit_fixture_january_2026.csv"),
        "--mue-file",
        str(cms / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv"),
        str(path),
    )
    assert result.exit_code == 0
    assert "CLM-0001  medicare  accept" in result.stdout and "no findings" in result.stdout
    assert "1 claim: 1 accept" in result.stderr  # the summary is not data: stdout stays clean


def test_fail_on_never_and_review(run, tmp_path):
    claim = make_claim()
    claim["lines"][0]["documentation"]["route"] = "IM"  # DOC_INCOMPLETE, a warning
    path = tmp_path / "warn.json"
    path.write_text(json.dumps(claim))
    assert run("check", str(path)).exit_code == 0
    assert run("check", "--fail-on", "warn", str(path)).exit_code == 1
    assert run("check", "--fail-on", "never", str(EXAMPLES)).exit_code == 0


def test_ndjson_from_stdin_one_result_per_line_even_for_garbage(run):
    lines = [json.dumps(make_claim(claim_id="A")), "{not json", json.dumps(make_claim(claim_id="B")), "[1, 2"]
    result = run("check", "--format", "ndjson", "-", input="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["claim_id"] for r in out] == ["A", None, "B", None]
    assert "<stdin> line 2: not valid JSON" in out[1]["error"]
    assert result.exit_code == 1


def test_a_json_list_is_many_claims(run, tmp_path):
    path = tmp_path / "many.json"
    path.write_text(json.dumps([make_claim(claim_id=str(i)) for i in range(3)]))
    out = json.loads(run("check", "--format", "json", str(path)).stdout)
    assert [r["claim_id"] for r in out] == ["0", "1", "2"]


def test_a_broken_json_document_is_one_unreadable_input(run, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(make_claim(), indent=2)[:-5])
    out = json.loads(run("check", "--format", "json", str(path)).stdout)
    assert len(out) == 1 and "not valid JSON" in out[0]["error"]


def test_usage_errors_exit_two(run):
    assert run("check", "/no/such/file.json").exit_code == 2
    assert run("check", "--format", "xml", str(EXAMPLES)).exit_code == 2
    assert run("check").exit_code == 2


def test_plugins_lists_plugins_and_payers(run):
    result = run("plugins")
    assert result.exit_code == 0
    assert "medicare" in result.output and "Medicare Part B" in result.output and "national" in result.output


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "j9330_rules",
            "check",
            "--format",
            "ndjson",
            str(EXAMPLES / "01-clean-partial-kit.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["claim_id"] == "EX-01-PARTIAL-KIT"


CMS_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cms"


def test_refdata_show_says_what_is_not_loaded(run):
    result = run("refdata", "show")
    assert result.exit_code == 0
    assert "kit_mg" in result.output and "00008117901" in result.output
    assert result.output.count("not loaded") == 6 and "--asp-file" in result.output and "--icd10-file" in result.output


def test_refdata_show_lists_the_j9330_rows_of_loaded_files(run):
    result = run(
        "refdata",
        "show",
        "--asp-file",
        str(CMS_FIXTURES / "asp_payment_limit_fixture_january_2026.csv"),
        "--mue-file",
        str(CMS_FIXTURES / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv"),
    )
    assert "42.137" in result.output and "MUE 77 (MAI 3)" in result.output and "2026-01-01" in result.output


def test_a_wrong_kind_of_file_is_a_usage_error(run):
    result = run(
        "check",
        "--asp-file",
        str(CMS_FIXTURES / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv"),
        str(EXAMPLES),
    )
    assert result.exit_code == 2 and "MUE" in result.output


def test_check_with_reference_files_and_history(run, tmp_path):
    history = tmp_path / "h.sqlite"
    claim = make_claim()
    claim["patient"]["member_id"] = "M-1"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(claim))
    args = [
        "check",
        "--format",
        "json",
        "--asp-file",
        str(CMS_FIXTURES / "asp_payment_limit_fixture_january_2026.csv"),
        "--history",
        str(history),
        str(path),
    ]
    first = json.loads(run(*args).stdout)[0]
    assert first["payment"]["allowed"] == "1053.43"
    claim["claim_id"] = "CLM-0002"
    claim["lines"] = [dict(line, service_date="2026-03-05") for line in claim["lines"]]
    path.write_text(json.dumps(claim))
    second = json.loads(run(*args).stdout)[0]
    assert "FREQUENCY" in {f["code"] for f in second["findings"]}
