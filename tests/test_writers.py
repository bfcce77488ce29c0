"""j9330_rules.writers.formats: each output format, parsed back, for a known claim."""

from __future__ import annotations

import csv
import io
import json

import pytest

from j9330_rules.model import SEVERITIES, Finding, Result
from j9330_rules.writers.formats import (
    CSV_COLUMNS,
    SEVERITY_GROUP,
    WRITERS,
    X12_COLUMNS,
    adjustment,
    write,
    write_csv,
    write_json,
    write_ndjson,
    write_x12_summary,
)
from j9330_rules.writers.serialise import result_to_dict
from tests.conftest import UNSOURCED, make_claim


def known_claim() -> dict:
    """A claim of the TEST FIXTURE unsourced payer: a claim-level note, and on line 1 a reject, two denies (one CARC) and two reviews.

    Line 1 bills 59 units with JZ for a 60 mg dose beside a 15-unit JW line.
    """
    claim = make_claim(claim_id="CLM-W", payer=UNSOURCED)
    claim["lines"][0].update(units=59, dose_mg="60", modifiers=["JZ"])
    claim["lines"][1].update(units=15)
    return claim


@pytest.fixture(scope="module")
def results(unsourced_editor) -> list[Result]:
    """The known claim, the clean example claim, and a claim that cannot be checked."""
    return list(
        unsourced_editor.check_many([known_claim(), make_claim(), make_claim(claim_id="CLM-E", payer="nosuch")])
    )


# (line, code, severity, carc, rarc, rule_id) of the known claim's findings, in result order.
KNOWN = [
    ("", "PAYER_POLICY_NOT_PROVIDED", "info", "", "", "HOST-PAYER-POLICY"),
    ("1", "JWJZ_CONFLICT", "reject", "4", "N519", "NAT-JWJZ-CONFLICT"),
    ("1", "UNITS_DOSE_MISMATCH", "deny", "16", "M53", "NAT-UNITS-DOSE"),
    ("1", "WASTE_ARITHMETIC", "deny", "16", "M53", "NAT-WASTE-KITS"),
    ("1", "DOSE_ABOVE_LABEL", "review", "153", "", "NAT-DOSE-LABEL"),
    ("1", "DOSE_ABOVE_MAX", "review", "153", "", "NAT-DOSE-MAX"),
    ("1", "REFERENCE_DATA_MISSING", "info", "", "", "NAT-FEE-SCHEDULE-MISSING"),
]
UNKNOWN_PAYER = (
    f"$.payer: unknown payer; the known payers are: aetna, bcbs, cigna, florida_blue, medicare, uhc, {UNSOURCED}"
)


def written(writer, results) -> str:
    out = io.StringIO()
    assert writer(results, out) == len(results)
    return out.getvalue()


def test_the_known_claim_is_what_the_tests_assume(results):
    known, clean, error = results
    assert [
        (str(f.line or ""), f.code, f.severity, f.carc or "", f.rarc or "", f.rule_id) for f in known.findings
    ] == KNOWN
    assert clean.findings == () and clean.error is None
    assert error.error == UNKNOWN_PAYER


def test_json_is_one_list_of_result_dicts(results):
    text = written(write_json, results)
    assert json.loads(text) == json.loads(json.dumps([result_to_dict(r) for r in results]))
    assert (
        text == json.dumps([result_to_dict(r) for r in results], indent=2) + "\n"
    )  # what check --format json always wrote


def test_ndjson_is_one_result_dict_per_line(results):
    lines = written(write_ndjson, results).splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(json.dumps(result_to_dict(r))) for r in results]
    first = json.loads(lines[0])
    assert first["claim_id"] == "CLM-W" and first["disposition"] == "return_to_provider"
    assert [(f["code"], f["carc"]) for f in first["findings"]][:2] == [
        ("PAYER_POLICY_NOT_PROVIDED", None),
        ("JWJZ_CONFLICT", "4"),
    ]


def test_csv_one_row_per_finding_then_clean_and_error_rows(results):
    rows = list(csv.DictReader(io.StringIO(written(write_csv, results))))
    assert tuple(rows[0]) == CSV_COLUMNS
    known = results[0]
    expected = [
        {
            "claim_id": "CLM-W",
            "payer": UNSOURCED,
            "line": line,
            "code": code,
            "severity": severity,
            "carc": carc,
            "rarc": rarc,
            "message": finding.message,
            "rule_id": rule_id,
            "source": finding.source or "",
        }
        for (line, code, severity, carc, rarc, rule_id), finding in zip(KNOWN, known.findings)
    ]
    expected += [
        {
            "claim_id": "CLM-0001",
            "payer": "medicare",
            "line": "",
            "code": "CLEAN",
            "severity": "",
            "carc": "",
            "rarc": "",
            "message": "",
            "rule_id": "",
            "source": "",
        },
        {
            "claim_id": "CLM-E",
            "payer": "nosuch",
            "line": "",
            "code": "ERROR",
            "severity": "error",
            "carc": "",
            "rarc": "",
            "message": UNKNOWN_PAYER,
            "rule_id": "",
            "source": "",
        },
    ]
    assert rows == expected
    assert (
        rows[0]["message"]
        == "No sourced TEST FIXTURE unsourced payer policy for J9330 is loaded; only the national rules were applied."
    )


def test_csv_carries_the_rarc(editor):
    claim = make_claim(claim_id="CLM-R")
    claim["lines"][0]["units"] = 0
    rows = list(csv.DictReader(io.StringIO(written(write_csv, [editor.check(claim)]))))
    assert [(r["line"], r["code"], r["severity"], r["carc"], r["rarc"]) for r in rows] == [
        ("1", "UNITS_INVALID", "reject", "16", "M53")
    ]


def test_x12_summary_one_row_per_line_with_findings_plus_claim_level(results):
    rows = list(csv.DictReader(io.StringIO(written(write_x12_summary, results))))
    assert tuple(rows[0]) == X12_COLUMNS
    assert rows == [
        # Claim level first (loop 2100): an info note adjusts nothing.
        {
            "claim_id": "CLM-W",
            "payer": UNSOURCED,
            "level": "claim",
            "line": "",
            "disposition": "return_to_provider",
            "adjustments": "",
            "remarks": "",
            "edits": "PAYER_POLICY_NOT_PROVIDED",
            "error": "",
        },
        # CO-4 (reject), CO-16 once for both denies, OA-153 once for both reviews; each remark once.
        {
            "claim_id": "CLM-W",
            "payer": UNSOURCED,
            "level": "line",
            "line": "1",
            "disposition": "return_to_provider",
            "adjustments": "CO-4;CO-16;OA-153",
            "remarks": "N519;M53",
            "edits": "JWJZ_CONFLICT;UNITS_DOSE_MISMATCH;WASTE_ARITHMETIC;DOSE_ABOVE_LABEL;DOSE_ABOVE_MAX;REFERENCE_DATA_MISSING",
            "error": "",
        },
        # The clean claim has no rows; the unchecked claim one.
        {
            "claim_id": "CLM-E",
            "payer": "nosuch",
            "level": "claim",
            "line": "",
            "disposition": "not_checked",
            "adjustments": "",
            "remarks": "",
            "edits": "ERROR",
            "error": UNKNOWN_PAYER,
        },
    ]


def test_x12_summary_lists_remarks_once_and_keeps_lines_apart(editor):
    claim = make_claim(claim_id="CLM-N")
    claim["lines"][0]["ndc"] = "123"  # NDC_INVALID 16/M119 on line 1
    claim["lines"][1]["ndc"] = "123"  # and on line 2
    claim["lines"][0]["units"] = 0  # UNITS_INVALID 16/M53 on line 1
    rows = list(csv.DictReader(io.StringIO(written(write_x12_summary, [editor.check(claim)]))))
    by_line = {row["line"]: row for row in rows}
    assert set(by_line) == {"1", "2"}
    assert by_line["1"]["adjustments"] == "CO-16" and set(by_line["1"]["remarks"].split(";")) == {"M53", "M119"}
    assert by_line["2"]["adjustments"] == "CO-16" and by_line["2"]["remarks"] == "M119"


def test_severity_group_mapping():
    assert set(SEVERITY_GROUP) == set(SEVERITIES)
    assert SEVERITY_GROUP == {"reject": "CO", "deny": "CO", "review": "OA", "warn": None, "info": None}
    assert "PR" not in SEVERITY_GROUP.values()

    def finding(severity, carc):
        return Finding(code="X", severity=severity, line=1, message="", carc=carc)

    assert adjustment(finding("reject", "4")) == "CO-4"
    assert adjustment(finding("deny", "16")) == "CO-16"
    assert adjustment(finding("review", "119")) == "OA-119"
    assert adjustment(finding("warn", "4")) is None  # payable: no adjustment
    assert adjustment(finding("deny", None)) is None  # no reason code, no adjustment


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "x12-summary"])
def test_streaming_formats_write_each_result_before_the_next_is_checked(results, fmt):
    out = io.StringIO()
    seen = []

    def stream():
        for result in results:
            seen.append(out.getvalue())
            yield result

    write(fmt, stream(), out)
    assert "CLM-W" not in seen[0] and "CLM-W" in seen[1]


def test_write_names_every_format_and_refuses_others(results):
    assert set(WRITERS) == {"json", "ndjson", "csv", "x12-summary"}
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        write("xml", results, io.StringIO())


@pytest.mark.parametrize("count", [1, 2, 3])
def test_json_streamed_is_the_indented_dump_of_the_whole_list(results, count):
    chosen = results[:count]
    assert written(write_json, chosen) == json.dumps([result_to_dict(r) for r in chosen], indent=2) + "\n"


def test_empty_input():
    assert written(write_json, []) == "[]\n"
    assert written(write_ndjson, []) == ""
    assert written(write_csv, []) == ",".join(CSV_COLUMNS) + "\n"
    assert written(write_x12_summary, []) == ",".join(X12_COLUMNS) + "\n"
