"""Results (the batch view) and check_frame (pandas in, findings out)."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys

import pytest

from j9330_rules import Result, Results, check_frame
from j9330_rules.readers import read_paths
from j9330_rules.readers.flat import claim_to_rows
from j9330_rules.writers.rows import FINDING_COLUMNS
from tests.conftest import EXAMPLES, make_claim

try:
    import pandas as pd
except ImportError:  # the optional extra is missing: only the tests of that case run
    pd = None

needs_pandas = pytest.mark.skipif(pd is None, reason="pandas is not installed: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def example_claims() -> list[dict]:
    claims = list(read_paths([str(EXAMPLES)]))
    assert claims and all(isinstance(claim, dict) for claim in claims)
    return claims


def _frame(claims) -> pd.DataFrame:
    return pd.DataFrame([row for claim in claims for row in claim_to_rows(claim)])


def _by_claim(frame: pd.DataFrame) -> dict:
    """Findings per claim as plain tuples (order of claims ignored, order within a claim kept)."""
    out: dict = {}
    for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
        out.setdefault(row.claim_id, []).append(tuple(row))
    return out


# -- check_frame ---------------------------------------------------------------------------


@needs_pandas
def test_check_frame_matches_checking_the_json_claims(editor, example_claims):
    expected = editor.check_all(example_claims).to_pandas()
    got = check_frame(_frame(example_claims), editor)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.columns) == list(FINDING_COLUMNS)
    # Every example claim is there, the invalid one with its error.
    assert list(dict.fromkeys(got.claim_id)) == [claim["claim_id"] for claim in example_claims]
    invalid = got[got.claim_id == "EX-11-INVALID-INPUT"]
    assert len(invalid) == 1 and invalid.disposition.item() == "not_checked"
    assert invalid.error.item().startswith("$.lines[0].units")
    assert {"JWJZ_MISSING", "WASTE_ARITHMETIC", "NDC_INVALID"} <= set(got.code.dropna())


@needs_pandas
def test_typed_columns_read_as_the_json_does(editor, example_claims):
    """pandas' own types: dates as datetime64, whole numbers as floats with gaps, numpy ints."""
    claims = [c for c in example_claims if c["claim_id"] != "EX-11-INVALID-INPUT"]
    frame = _frame(claims)
    frame["service_date"] = pd.to_datetime(frame["service_date"])
    frame["units"] = frame["units"].astype(float)
    extra = pd.DataFrame([{"claim_id": "EXTRA", "payer": "medicare", "line": 1.0, "hcpcs": "96413"}])
    frame = pd.concat([frame.astype({"provider_is_340b": object}), extra], ignore_index=True)
    assert frame["line"].dtype == float and frame["units"].isna().any()  # as pandas makes gappy int columns
    expected = editor.check_all(
        [*claims, {"claim_id": "EXTRA", "payer": "medicare", "lines": [{"line": 1, "hcpcs": "96413"}]}]
    )
    pd.testing.assert_frame_equal(check_frame(frame, editor), expected.to_pandas())


@needs_pandas
def test_rows_of_a_claim_need_not_be_adjacent(editor, example_claims):
    claims = example_claims[:4]
    frame = _frame(claims)
    interleaved = frame.sort_values("line", kind="stable")  # every claim's line 1, then every line 2, ...
    ids = list(interleaved.claim_id)
    runs = sum(1 for a, b in itertools.pairwise(ids) if a != b) + 1
    assert runs > len(set(ids))  # really interleaved: some claim's rows are apart
    got = check_frame(interleaved, editor)
    assert list(dict.fromkeys(got.claim_id)) == list(dict.fromkeys(ids))  # first-appearance order
    assert not got.error.notna().any()  # no claim was split into duplicates or lost a line
    assert _by_claim(got) == _by_claim(editor.check_all(claims).to_pandas())


@needs_pandas
def test_shuffled_frame_gives_the_same_findings(editor, example_claims):
    frame = _frame(example_claims).sample(frac=1, random_state=7)
    got, expected = _by_claim(check_frame(frame, editor)), _by_claim(editor.check_all(example_claims).to_pandas())
    # A claim's lines keep their row order, so an error's JSON path indexes the shuffled lines.
    (bad,) = got.pop("EX-11-INVALID-INPUT")
    expected.pop("EX-11-INVALID-INPUT")
    assert got == expected
    assert bad[FINDING_COLUMNS.index("disposition")] == "not_checked"
    assert "units: expected a number" in bad[FINDING_COLUMNS.index("error")]


@needs_pandas
def test_rows_without_a_claim_id_are_not_merged(editor):
    rows = list(claim_to_rows(make_claim()))
    frame = pd.DataFrame([{**rows[0], "claim_id": None}, {**rows[1], "claim_id": float("nan")}, *rows])
    got = check_frame(frame, editor)
    assert got.claim_id.isna().sum() == 2 and (got[got.claim_id.isna()].disposition == "not_checked").all()
    clean = got[got.claim_id == "CLM-0001"]
    assert len(clean) == 1 and clean.code.item() is None and clean.disposition.item() == "accept"


@needs_pandas
def test_check_frame_refuses_what_is_not_the_flat_layout(editor):
    with pytest.raises(ValueError, match="claim_id"):
        check_frame(pd.DataFrame({"id": ["a"], "hcpcs": ["J9330"]}), editor)
    with pytest.raises(TypeError, match="DataFrame"):
        check_frame([{"claim_id": "a"}], editor)


@needs_pandas
def test_check_frame_passes_as_of(editor):
    frame = pd.DataFrame(list(claim_to_rows(make_claim())))
    import datetime as dt

    assert check_frame(frame, editor, as_of=dt.date(2026, 3, 2)).disposition.tolist() == ["accept"]


# -- Results -------------------------------------------------------------------------------


def test_check_all_is_check_many_collected(editor, example_claims):
    results = editor.check_all(example_claims)
    assert isinstance(results, Results)
    assert list(results) == list(editor.check_many(example_claims))
    assert len(results) == 12 and results[0].claim_id == "EX-01-PARTIAL-KIT"
    assert isinstance(results[1:3], Results) and len(results[1:3]) == 2
    assert results.blocking


def test_summary_counts_as_the_cli_does(bare_editor, example_claims):
    results = bare_editor.check_all(example_claims)
    counts = results.counts
    assert counts == {
        "claims": 12,
        "blocking": 6,
        "not_checked": 1,
        "review": 0,
        "warn": 2,
        "notes_only": 3,
        "accept": 0,
    }
    assert sum(counts.values()) == 2 * counts["claims"]  # every claim has exactly one outcome
    assert results.summary == "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only"
    text = repr(results)
    assert text.startswith("Results(12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only)")
    assert "EX-03-JZ-MISSING (medicare): return_to_provider" in text
    assert "EX-11-INVALID-INPUT (medicare): not_checked, error: $.lines[0].units" in text
    assert repr(Results()) == "Results(0 claims)"


def test_the_cli_prints_the_summary_results_give():
    from click.testing import CliRunner

    from j9330_rules import Editor
    from j9330_rules.cli import main

    shown = CliRunner().invoke(main, ["check", "--fail-on", "never", str(EXAMPLES)]).stderr
    expected = Editor().check_all(list(read_paths([EXAMPLES]))).summary
    assert expected.startswith("12 claims: ")
    assert expected in " ".join(shown.split())


def test_every_view_projects_the_same_finding_rows(bare_editor, example_claims):
    """CSV, the HTML and to_pandas() are projections of writers/rows.py's rows."""
    import csv
    import io
    import re

    from j9330_rules.writers.formats import write_csv
    from j9330_rules.writers.html import result_table
    from j9330_rules.writers.rows import finding_rows

    results = bare_editor.check_all(example_claims)
    rows = list(finding_rows(results))
    out = io.StringIO()
    write_csv(results, out)
    written = list(csv.DictReader(io.StringIO(out.getvalue())))
    shown = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in result_table(results).split("<tr>")[2:]]
    assert len(rows) == len(written) == len(shown) == len(results.to_pandas())
    for row, line, cells in zip(rows, written, shown):
        code = "ERROR" if row["error"] else row["code"] or "CLEAN"
        assert (line["claim_id"], line["code"], line["line"]) == (row["claim_id"] or "", code, str(row["line"] or ""))
        assert (cells[0], cells[3], cells[4]) == (row["claim_id"], line["line"], code)


def test_the_table_shows_every_finding_but_the_run_notes(bare_editor, example_claims):
    """The terminal table says run-wide notes once; every other finding is under its claim."""
    from rich.console import Console

    from j9330_rules.writers.table import RUN_NOTE_CODES, TableWriter

    results = bare_editor.check_all(example_claims)
    console = Console(width=200, record=True, file=io.StringIO())
    writer = TableWriter(console)
    for result in results:
        writer.add(result)
    writer.close()
    text = console.export_text()
    blocks = text.split("\n\n")
    for result in results:
        block = next(b for b in blocks if b.startswith(result.claim_id + "  "))
        for finding in result.findings:
            if finding.code in RUN_NOTE_CODES and finding.severity == "info":
                assert f"({finding.code})" not in block
            else:
                assert finding.code in block, (result.claim_id, finding.code)
    notes = text.split("\n\n")[0]
    assert notes.startswith("Notes for the whole run")
    assert notes.count("REFERENCE_DATA_MISSING") >= 1


def test_html_escapes_claim_values(editor):
    hostile = "<script>alert(1)</script>"
    results = editor.check_all([make_claim(claim_id=hostile), make_claim(claim_id="ok & <b>")])
    assert [r.claim_id for r in results] == [hostile, "ok & <b>"]
    shown = results._repr_html_()
    assert "<script" not in shown and "<b>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "ok &amp; &lt;b&gt;" in shown
    assert "2 claims: 2 accept" in shown
    assert "<table>" in shown


def test_html_is_capped_for_large_batches():
    results = Results(Result(f"C{i}", "medicare") for i in range(Results.html_limit + 5))
    shown = results._repr_html_()
    assert f"C{Results.html_limit - 1}<" in shown and f"C{Results.html_limit}<" not in shown
    assert f"Showing the first {Results.html_limit} of {Results.html_limit + 5} claims" in shown


def test_results_hold_only_results():
    with pytest.raises(TypeError, match="Result"):
        Results([{"claim_id": "a"}])


@needs_pandas
def test_to_pandas_has_every_claim():
    frame = Results([Result("clean", "medicare"), Result("bad", None, error="$.payer: unknown payer")]).to_pandas()
    assert list(frame.columns) == list(FINDING_COLUMNS)
    assert frame.code.tolist() == [None, None] and frame.line.isna().all()
    assert frame.disposition.tolist() == ["accept", "not_checked"]
    assert frame.error.tolist() == [None, "$.payer: unknown payer"]
    assert str(frame.line.dtype) == "Int64"
    assert list(Results().to_pandas().columns) == list(FINDING_COLUMNS)


@needs_pandas
def test_to_pandas_line_dispositions(bare_editor, example_claims):
    frame = bare_editor.check_all(example_claims).to_pandas()
    row = frame[(frame.claim_id == "EX-06-DX-NOT-COVERED") & (frame.code == "DX_NOT_COVERED")].iloc[0]
    assert (row.severity, row.carc, row.disposition, row.line_disposition) == ("deny", "11", "deny_lines", "deny")


# -- pandas is optional --------------------------------------------------------------------


def test_without_pandas_the_error_says_what_to_install(monkeypatch, editor):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    results = Results([Result("a", "medicare")])
    with pytest.raises(ImportError, match=r"pip install 'j9330-rules\[pandas\]'"):
        results.to_pandas()
    with pytest.raises(ImportError, match=r"pip install 'j9330-rules\[pandas\]'"):
        check_frame(object(), editor)
    # Everything else still works.
    assert "1 claim: 1 accept" in results._repr_html_()


def test_importing_the_package_does_not_import_pandas():
    code = "import sys, j9330_rules; j9330_rules.Results; j9330_rules.check_frame; assert 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
