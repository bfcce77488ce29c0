"""The CLI's check formats (csv, x12-summary), check --payer, explain and units."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from j9330_rules.cli import main
from j9330_rules.rules.catalogue import catalogue
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, make_claim

REFERENCE = ["--asp-file", str(FIXTURE_ASP), *(arg for path in FIXTURE_MUE for arg in ("--mue-file", str(path)))]


@pytest.fixture
def run():
    def invoke(*args, input=None):
        return CliRunner().invoke(main, [str(arg) for arg in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def claims_file(tmp_path):
    def write(*claims):
        path = tmp_path / "claims.json"
        path.write_text(json.dumps(list(claims)))
        return path

    return write


def table_rows(output: str) -> list[list[str]]:
    """The body rows of the rich tables in ``output``, as stripped cells."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines() if line.startswith("│")]


# --- check --format csv / x12-summary -----------------------------------------------------------


def test_check_csv(run, claims_file):
    bad = make_claim(claim_id="BAD")
    bad["lines"][0]["units"] = 0
    result = run("check", "--format", "csv", *REFERENCE, claims_file(make_claim(), bad))
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [
        (r["claim_id"], r["payer"], r["line"], r["code"], r["severity"], r["carc"], r["rarc"], r["rule_id"])
        for r in rows
    ] == [
        ("CLM-0001", "medicare", "", "CLEAN", "", "", "", ""),
        ("BAD", "medicare", "1", "UNITS_INVALID", "reject", "16", "M53", "NAT-UNITS-INVALID"),
    ]


def test_check_x12_summary(run, claims_file):
    bad = make_claim(claim_id="BAD")
    bad["lines"][0]["units"] = 0
    result = run("check", "--format", "x12-summary", *REFERENCE, claims_file(make_claim(), bad))
    assert result.exit_code == 1
    assert list(csv.DictReader(io.StringIO(result.stdout))) == [
        {
            "claim_id": "BAD",
            "payer": "medicare",
            "level": "line",
            "line": "1",
            "disposition": "return_to_provider",
            "adjustments": "CO-16",
            "remarks": "M53",
            "edits": "UNITS_INVALID",
            "error": "",
        },
    ]


def test_check_fail_on_applies_to_every_format(run, claims_file):
    claim = make_claim()
    claim["lines"][0]["documentation"]["route"] = "IM"  # DOC_INCOMPLETE, a warning
    path = claims_file(claim)
    for fmt in ("csv", "x12-summary", "json", "ndjson"):
        assert run("check", "--format", fmt, *REFERENCE, path).exit_code == 0
        assert run("check", "--format", fmt, "--fail-on", "warn", *REFERENCE, path).exit_code == 1


# --- check --payer --------------------------------------------------------------------------------


def test_payer_overrides_every_claims_payer(run, claims_file):
    path = claims_file(make_claim(claim_id="A"), make_claim(claim_id="B", payer="aetna"))
    out = json.loads(run("check", "--format", "json", *REFERENCE, path).stdout)
    assert [r["payer"] for r in out] == ["medicare", "aetna"]
    result = run("check", "--format", "json", "--payer", "cigna", *REFERENCE, path)
    out = json.loads(result.stdout)
    assert [r["payer"] for r in out] == ["cigna", "cigna"]
    assert all({f["payer"] for f in r["findings"]} == {"cigna"} for r in out)
    assert all("PRIOR_AUTH_MISSING" in {f["code"] for f in r["findings"]} for r in out)  # Cigna's policy applies
    assert result.exit_code == 0


def test_unknown_payer_makes_each_claim_an_error_result(run, claims_file):
    result = run(
        "check",
        "--format",
        "ndjson",
        "--payer",
        "nosuch",
        *REFERENCE,
        claims_file(make_claim(claim_id="A"), make_claim(claim_id="B")),
    )
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["claim_id"], r["payer"]) for r in out] == [("A", "nosuch"), ("B", "nosuch")]
    assert all(
        r["error"].startswith(
            "$.payer: unknown payer; the known payers are: aetna, bcbs, cigna, florida_blue, medicare, uhc"
        )
        for r in out
    )


def test_payer_leaves_unreadable_input_unreadable(run):
    result = run(
        "check", "--format", "ndjson", "--payer", "aetna", "-", input=json.dumps(make_claim()) + "\n{not json\n"
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["payer"] == "aetna" and out[0]["error"] is None
    assert out[1]["payer"] is None and "not valid JSON" in out[1]["error"]


# --- explain --------------------------------------------------------------------------------------


def explained(run, code) -> tuple[str, dict[str, list[str]]]:
    result = run("explain", code)
    assert result.exit_code == 0, result.output
    rules: dict[str, list[str]] = {}
    for payer, rule_id, *_ in table_rows(result.output):
        rules.setdefault(payer, []).append(rule_id)
    return result.output, rules


def test_explain_jwjz_missing_every_payer(run, editor):
    output, rules = explained(run, "JWJZ_MISSING")
    entry = catalogue()["JWJZ_MISSING"]
    assert f"JWJZ_MISSING: {entry.meaning}" in " ".join(output.split())
    assert "Default severity: reject" in output and "CARC: 16" in output and "RARC: N822" in output
    assert rules == {payer: ["NAT-JWJZ-MISSING"] for payer in editor.payers}
    assert "medicare sets its severity to warn 2023-07-01 to 2023-09-30" in output


def test_explain_units_over_mue_medicare_only(run, editor):
    output, rules = explained(run, "UNITS_OVER_MUE")
    assert rules == {"medicare": ["MCR-MUE"]}
    assert "CARC: 151" in output and "RARC: N362" in output and "Default severity: deny" in output
    others = ", ".join(sorted(set(editor.payers) - {"medicare"}))
    assert f"No rule raises UNITS_OVER_MUE for: {others}" in output


def test_explain_several_rules_and_case(run, editor):
    _, rules = explained(run, "waste_arithmetic")
    assert rules == {payer: ["NAT-WASTE-KITS", "NAT-WASTE-UNOPENED"] for payer in editor.payers}
    _, rules = explained(run, "REFERENCE_DATA_MISSING")
    code_file_notes = ["NAT-DX-CODE-UNCONFIRMED", "NAT-DX-CODE-FILE-MISSING"]  # only with --icd10-file loaded
    assert rules["medicare"] == [
        *code_file_notes,
        "NAT-NDC-UNCONFIRMED",
        "NAT-FEE-SCHEDULE-MISSING",
        "MCR-MUE-MISSING",
        "MCR-ASP-MISSING",
    ]
    assert rules["aetna"] == [*code_file_notes, "NAT-NDC-UNCONFIRMED", "NAT-FEE-SCHEDULE-MISSING"]


def test_explain_host_findings(run, editor):
    _, rules = explained(run, "PAYER_POLICY_NOT_PROVIDED")
    unsourced = sorted(name for name, payer in editor.payers.items() if not payer.policy_sourced)
    assert unsourced == []  # every built-in payer has a sourced policy (issue 10)
    assert rules == {}
    _, rules = explained(run, "PLUGIN_FAILED")
    assert rules == {payer: ["HOST-PLUGIN"] for payer in editor.payers}


def test_explain_unknown_code_exits_two_with_the_codes(run):
    result = run("explain", "NOT_A_CODE")
    assert result.exit_code == 2
    assert "unknown edit code 'NOT_A_CODE'" in result.output
    assert all(code in result.output for code in catalogue())


# --- units ----------------------------------------------------------------------------------------


def units_json(run, *args) -> dict:
    result = run("units", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("dose", "kits", "administered", "discarded", "bill"),
    [
        ("15", 1, 15, 10, ["J9330 x15", "J9330-JW x10"]),
        ("25", 1, 25, 0, ["J9330-JZ x25"]),
        ("12.5", 1, 13, 12, ["J9330 x13", "J9330-JW x12"]),  # administered rounds up, discarded down
        ("60", 3, 60, 15, ["J9330 x60", "J9330-JW x15"]),
        ("50", 2, 50, 0, ["J9330-JZ x50"]),
        ("24.5", 1, 25, 0, ["J9330-JZ x25"]),
    ],
)
def test_units(run, dose, kits, administered, discarded, bill):
    data = units_json(run, "--dose", dose)
    assert data["dose_mg"] == dose and data["kit_mg"] == 25
    assert (data["kits"], data["administered_units"], data["discarded_units"]) == (kits, administered, discarded)
    assert [line["bill"] for line in data["lines"]] == bill
    assert sum(line["units"] for line in data["lines"]) == administered + discarded
    table = run("units", "--dose", dose)
    assert table.exit_code == 0
    cells = {row[0]: row[1] for row in table_rows(table.output) if row[0]}
    assert cells["Administered units"] == str(administered)
    assert cells["Discarded units (JW)"] == str(discarded)
    assert cells["Kits opened"].startswith(f"{kits} x 25 mg")
    assert all(text in table.output for text in bill)


def test_units_json_lines():
    result = CliRunner().invoke(main, ["units", "--dose", "15", "--format", "json"])
    assert json.loads(result.stdout)["lines"] == [
        {"hcpcs": "J9330", "modifiers": [], "units": 15, "bill": "J9330 x15"},
        {"hcpcs": "J9330", "modifiers": ["JW"], "units": 10, "bill": "J9330-JW x10"},
    ]


def test_units_fractional_dose_says_how_it_rounds(run):
    assert "round the dose up" in run("units", "--dose", "12.5").output
    assert "round the dose up" not in run("units", "--dose", "15").output


def test_units_kits_that_hold_the_dose_exactly(run):
    data = units_json(run, "--dose", "60", "--kits", "3")
    assert (data["kits"], data["discarded_units"]) == (3, 15)
    data = units_json(run, "--dose", "25", "--kits", "1")
    assert [line["bill"] for line in data["lines"]] == ["J9330-JZ x25"]


def test_units_too_few_kits(run):
    result = run("units", "--dose", "60", "--kits", "2")
    assert result.exit_code == 2
    assert "2 kit(s) of 25 mg hold 50 mg, less than the 60 mg dose; it needs 3" in result.output


def test_units_too_many_kits_is_not_waste(run):
    result = run("units", "--dose", "15", "--kits", "2")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "1 of the 2 kits would be whole and unopened" in text
    assert "A whole unopened kit is not waste" in text
    assert "Bill the waste of the 1 kit(s) opened: 10 unit(s)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dose", "0"], "above 0"),
        (["--dose", "-5"], "above 0"),
        (["--dose", "nan"], "above 0"),
        (["--dose", "Infinity"], "above 0"),
        (["--dose", "ten"], "'ten' is not a number of milligrams"),
        (["--dose", "1e9"], "at most"),
        (["--dose", "15", "--kits", "0"], "--kits"),
        ([], "Missing option '--dose'"),
    ],
)
def test_units_usage_errors(run, args, message):
    result = run("units", *args)
    assert result.exit_code == 2
    assert message in result.output
