"""CSV input: the flat claim-line layout (j9330_rules.readers.flat) read from text.

The examples expressed as CSV (tests/fixtures/csv/examples.csv, written from examples/ with
flat.claim_to_rows plus an unknown ``batch`` column) must check exactly as the JSON examples do;
malformed files give one error per bad claim, naming rows and never a value (the fixtures put
the patient's name, Zebulon Quaxworth, into an unknown column and into a bad value).
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from j9330_rules.cli import main
from j9330_rules.model.structure import structure_claim
from j9330_rules.readers import Unreadable, detect, read_paths
from j9330_rules.readers.csv_lines import looks_like_csv, read_csv
from j9330_rules.readers.flat import CLAIM_COLUMNS, COLUMNS, LINE_COLUMNS, claim_to_rows, claims_from_rows
from tests.conftest import EXAMPLES, ROOT, check_items, make_claim

FIXTURES = ROOT / "tests" / "fixtures" / "csv"
DOC = ROOT / "docs" / "claim-formats-csv.md"
PHI = ("Zebulon", "Quaxworth")


def read_text(text: str, label: str = "in.csv") -> list:
    return list(read_csv(io.StringIO(text), label))


def read(name: str) -> list:
    path = FIXTURES / name
    return read_text(path.read_text(encoding="utf-8"), str(path))


check = check_items


def json_examples() -> list[dict]:
    claims = []
    for path in sorted(EXAMPLES.iterdir()):
        text = path.read_text()
        if path.suffix == ".ndjson":
            claims += [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            claims.append(json.loads(text))
    return claims


def to_csv(claims, extra: dict | None = None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, *(extra or {})], lineterminator="\n")
    writer.writeheader()
    for claim in claims:
        for row in claim_to_rows(claim):
            writer.writerow({**{k: "" if v is None else v for k, v in row.items()}, **(extra or {})})
    return out.getvalue()


def assert_no_phi(text: str) -> None:
    for word in PHI:
        assert word not in text


# ------------------------------------------------------------ equivalence with the JSON examples


def test_examples_as_csv_check_exactly_as_the_json_examples(editor):
    want_claims = json_examples()
    got_claims = read("examples.csv")
    assert [c["claim_id"] for c in got_claims] == [c["claim_id"] for c in want_claims]
    got, want = check(editor, got_claims), check(editor, want_claims)
    assert got == want
    # Not vacuous: the examples hold clean claims, typical errors and one invalid claim.
    assert sum(r.error is not None for r in got) == 1 and any(r.blocking for r in got)
    assert any(r.error is None and not r.blocking for r in got)


def test_examples_csv_is_the_examples_written_by_claim_to_rows():
    """The fixture is regenerated from examples/ here, so the two cannot drift apart."""
    assert (FIXTURES / "examples.csv").read_text() == to_csv(json_examples(), {"batch": "B-2026-03"})


def test_examples_as_csv_build_the_same_models():
    for got, want in zip(read("examples.csv"), json_examples(), strict=True):
        if want["claim_id"] == "EX-11-INVALID-INPUT":
            continue
        assert structure_claim(got) == structure_claim(want)


def test_unknown_columns_are_kept_on_the_claim():
    claim = read("examples.csv")[0]
    assert claim["batch"] == "B-2026-03"
    assert structure_claim(claim).extra["batch"] == "B-2026-03"


# ------------------------------------------------------------ malformed input


def test_malformed_file_gives_one_result_per_claim_and_no_phi(editor):
    items = read("malformed.csv")
    results = check(editor, items)
    assert [r.claim_id for r in results] == ["CSV-GOOD-1", None, "CSV-BAD-UNITS", "CSV-GOOD-2"]
    good, short, bad_units, good2 = results
    want = make_claim(claim_id="CSV-GOOD-1", patient_name="Zebulon Quaxworth")
    assert good == check(editor, [want])[0]
    assert short.error == f"{FIXTURES / 'malformed.csv'}: the header has 23 columns but row 6 has 19 cells"
    # A bad value is the converter's to report, with its path; the claim is still a claim.
    assert bad_units.error.startswith("$.lines[0].units: ")
    assert good2.error is None and not good2.blocking
    for result in results:
        assert_no_phi(result.error or "")
        assert_no_phi(" ".join(f.message for f in result.findings))


def test_no_claim_id_column_is_one_error_for_the_file():
    (item,) = read("no-claim-id.csv")
    assert isinstance(item, Unreadable)
    assert item.message == f"{FIXTURES / 'no-claim-id.csv'} row 1: the header has no claim_id column"


def test_unparseable_record_ends_the_file_with_one_error():
    (item,) = read("broken-quote.csv")
    assert isinstance(item, Unreadable)
    assert "row 2: not valid CSV (unexpected end of data); nothing from row 2 on was read" in item.message
    assert_no_phi(item.message)


def test_broken_record_inside_a_claim_takes_that_claim_with_it():
    text = to_csv([make_claim(claim_id="A"), make_claim(claim_id="B")])
    lines = text.splitlines(keepends=True)
    broken = "".join(lines[:6]) + 'B,"Zebulon Quaxworth\n'
    first, error = read_text(broken)
    assert first["claim_id"] == "A"
    assert error.message == "in.csv row 7: not valid CSV (unexpected end of data); nothing from row 5 on was read"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "in.csv: no header row"),
        ("\n\n", "in.csv: no header row"),
        ("claim_id,hcpcs,hcpcs\nA,J9330,J9330\n", "in.csv row 1: header columns 2 and 3 have the same name"),
        ("claim_id,,hcpcs\nA,x,J9330\n", "in.csv row 1: header column 2 has no name"),
    ],
)
def test_header_problems(text, message):
    assert [i.message for i in read_text(text)] == [message]


def test_header_only_is_no_claims_and_blank_lines_do_not_count():
    assert read_text("claim_id,hcpcs\n") == []
    text = "\ufeffclaim_id , hcpcs\n\nA,J9330\n\nA,96413,extra\n"
    (item,) = read_text(text)
    assert item.message == "in.csv: the header has 2 columns but row 3 has 3 cells"


def test_crlf_and_quoted_newlines_are_one_record():
    text = 'claim_id,hcpcs,note\r\nA,J9330,"two\r\nlines"\r\nA,96413,odd\u2028char\r\n'
    (claim,) = read_text(text)
    assert [line["hcpcs"] for line in claim["lines"]] == ["J9330", "96413"]
    assert claim["note"] == "two\r\nlines"


def test_rows_of_a_claim_must_be_adjacent():
    text = to_csv([make_claim(claim_id="A"), make_claim(claim_id="B")])
    header, *rows = text.splitlines(keepends=True)
    shuffled = header + rows[0] + rows[3] + rows[1]
    assert [c["claim_id"] for c in read_text(shuffled)] == ["A", "B", "A"]


# ------------------------------------------------------------ detection and CLI


def test_detect_csv_by_its_header():
    assert detect((FIXTURES / "examples.csv").read_text()[:4096]) == "csv"
    assert detect('"claim_id","hcpcs","units"\r\n') == "csv"
    assert detect("\ufeffhcpcs,claim_id\n") == "csv"
    assert detect("claim_id,units\nA,1\n") == "json"  # the header must name hcpcs too
    assert detect(json.dumps(make_claim())) == "json"
    assert not looks_like_csv('{"claim_id": "A", "hcpcs": "J9330"}')


def run(*args: str):
    return CliRunner().invoke(main, ["check", "--format", "json", *args], catch_exceptions=False)


@pytest.mark.parametrize("forced", [True, False])
def test_cli_reads_csv_forced_or_detected(forced):
    args = ["--input-format", "csv"] if forced else []
    got = json.loads(run(*args, str(FIXTURES / "examples.csv")).stdout)
    want = json.loads(run(str(EXAMPLES)).stdout)
    assert got == want


def test_cli_reads_the_csv_files_of_a_directory(tmp_path):
    (tmp_path / "a.csv").write_text(to_csv([make_claim(claim_id="CSV-DIR-A")]))
    (tmp_path / "b.json").write_text(json.dumps(make_claim(claim_id="JSON-DIR-B")))
    (tmp_path / "notes.txt").write_text("not a claim")
    results = json.loads(run(str(tmp_path)).stdout)
    assert [r["claim_id"] for r in results] == ["CSV-DIR-A", "JSON-DIR-B"]


def test_cli_malformed_csv_exits_1_without_phi():
    result = run("--input-format", "csv", str(FIXTURES / "malformed.csv"))
    assert result.exit_code == 1
    assert [r["claim_id"] for r in json.loads(result.stdout)] == ["CSV-GOOD-1", None, "CSV-BAD-UNITS", "CSV-GOOD-2"]
    assert_no_phi(result.output)


def test_read_paths_reports_a_csv_without_claim_id_when_forced():
    (item,) = read_paths([str(FIXTURES / "no-claim-id.csv")], "csv")
    assert "row 1: the header has no claim_id column" in item.message


# ------------------------------------------------------------ the documented layout


def test_doc_lists_every_column_in_order():
    columns = re.findall(r"^\| `([a-z_0-9]+)` \| `[a-z_.0-9]+` \|", DOC.read_text(), flags=re.M)
    assert columns == list(COLUMNS)
    for column, path in {**CLAIM_COLUMNS, **LINE_COLUMNS}.items():
        assert f"| `{column}` | `{'.'.join(path)}` |" in DOC.read_text()


# ------------------------------------------------------------ round trip


_MODIFIERS = st.lists(st.sampled_from(["JW", "JZ", "JG", "TB", "59", "KX"]), max_size=2, unique=True)
_UNITS = st.one_of(st.integers(0, 60), st.sampled_from(["20", "2.5", "-1", "twenty"]))


@st.composite
def claims(draw):
    diagnoses = draw(st.lists(st.sampled_from(["C64.1", "C64.2", "C50.911", "C79.9", "c641"]), min_size=0, max_size=3))
    institutional = draw(st.booleans())
    lines = []
    for number in range(1, draw(st.integers(1, 4)) + 1):
        hcpcs = draw(st.sampled_from(["J9330", "J9330", "96413", "J2405"]))
        line = {
            "line": number,
            "hcpcs": hcpcs,
            "modifiers": draw(_MODIFIERS),
            "units": draw(_UNITS),
            "service_date": draw(st.sampled_from(["2026-03-02", "2026-03-09", "20260302", "2022-01-03"])),
            "charge": draw(st.sampled_from(["2400.00", "600.00", "0", "12.345", None])),
            "dx_pointers": draw(st.lists(st.integers(1, max(len(diagnoses), 1) + 1), max_size=2)),
        }
        if hcpcs == "J9330":
            line.update(
                ndc=draw(st.sampled_from(["00008117901", "0008-1179-01", "1234-5678-90", None])),
                ndc_unit=draw(st.sampled_from(["UN", "ML", None])),
                ndc_quantity=draw(st.sampled_from(["1", "2", None])),
                dose_mg=draw(st.sampled_from(["20", "25", None])),
            )
            if draw(st.booleans()):
                line["documentation"] = {
                    key: value
                    for key, value in {
                        "lot": draw(st.sampled_from(["AB123", None])),
                        "expiration": draw(st.sampled_from(["2027-01-31", "2026-01-01", None])),
                        "route": draw(st.sampled_from(["IV", "IM", None])),
                    }.items()
                    if value is not None
                } or None
        if institutional:
            line["revenue_code"] = draw(st.sampled_from(["0636", "636", "0335", None]))
        lines.append(line)
    return make_claim(
        claim_id=draw(st.sampled_from(["RT-1", "RT-2"])),
        payer=draw(st.sampled_from(["medicare", "aetna", "bcbs", "cigna", "uhc"])),
        form="institutional" if institutional else "professional",
        type_of_bill="0131" if institutional else None,
        place_of_service=None if institutional else draw(st.sampled_from(["11", "22", "19"])),
        diagnoses=diagnoses,
        patient={"birth_date": draw(st.sampled_from(["1956-04-02", "2012-06-01"])), "sex": "F"},
        provider={
            "npi": "1234567893",
            "is_340b": draw(st.booleans()),
            "hospital_type": draw(st.sampled_from([None, "dsh", "critical_access", "childrens"])),
        },
        prior_authorization=draw(st.sampled_from([None, "PA-1"])),
        lines=lines,
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim=claims())
def test_round_trip_through_rows_and_csv_checks_identically(editor, claim):
    (want,) = editor.check_many([claim])
    (from_rows,) = claims_from_rows(claim_to_rows(claim))
    (from_csv,) = read_text(to_csv([claim]))
    assert list(editor.check_many([from_rows])) == [want]
    assert list(editor.check_many([from_csv])) == [want]
