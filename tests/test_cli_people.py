"""The CLI as billing staff meet it: the table, the summary, settings files, empty input.

Each test runs the real command through click's runner with stdout and stderr kept apart,
so it checks what a pipe or a file would receive.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from j9330_rules.cli import EXIT_NO_CLAIMS, main
from tests.conftest import EXAMPLES, ROOT, make_claim

CMS = ROOT / "tests" / "fixtures" / "cms"
ASP = CMS / "asp_payment_limit_fixture_january_2026.csv"  # MADE-UP FIXTURE
MUE = CMS / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv"  # MADE-UP FIXTURE


@pytest.fixture
def run(monkeypatch, tmp_path):
    """The CLI in an empty folder with no J9330_RULES_* variables, so no settings leak in."""
    for name in ("ASP_FILE", "MUE_FILE", "CONFIG", "ENGINE", "HISTORY"):
        monkeypatch.delenv(f"J9330_RULES_{name}", raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(*args, input=None, env=None):
        return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


def _claims_file(tmp_path, *claims, name="claims.ndjson"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(c) + "\n" for c in claims), encoding="utf-8")
    return str(path)


def _blocks(text: str) -> list[str]:
    return [block for block in text.split("\n\n") if block.strip()]


# --- the table ------------------------------------------------------------------------------------


def test_claim_text_is_never_read_as_markup(run, tmp_path):
    claims = [make_claim(claim_id="CLM[bold]42[/bold]"), make_claim(claim_id="A[/x]")]
    result = run("check", "--fail-on", "never", _claims_file(tmp_path, *claims))
    assert result.exit_code == 0, result.stderr
    assert "CLM[bold]42[/bold]  medicare" in result.stdout
    assert "A[/x]  medicare" in result.stdout


def test_blocking_claims_come_first_and_run_notes_are_said_once(run):
    result = run("check", "--fail-on", "never", str(EXAMPLES))
    blocks = _blocks(result.stdout)
    assert blocks[0].startswith("Notes for the whole run")
    assert blocks[0].count("REFERENCE_DATA_MISSING") >= 1
    claims = [block for block in blocks[1:] if "  medicare  " in block.splitlines()[0]]
    outcomes = [block.splitlines()[0].split("  ")[2].split(" (")[0] for block in claims]
    order = ["blocking", "not checked", "review", "warn", "notes only", "accept"]
    assert outcomes == sorted(outcomes, key=order.index)
    assert outcomes[0] == "blocking" and len(claims) == 12
    # the run-wide note is in the header, not under any claim
    assert not any("REFERENCE_DATA_MISSING" in block for block in claims)
    # people's messages don't repeat the line or name Python arguments
    assert "Line 1:" not in result.stdout and "Editor(" not in result.stdout


def test_min_severity_hides_what_is_less_severe(run):
    result = run("check", "--fail-on", "never", "--min-severity", "deny", str(EXAMPLES))
    heads = [block.splitlines()[0] for block in _blocks(result.stdout) if "  medicare  " in block.splitlines()[0]]
    assert heads and all(" blocking" in head or " not checked" in head for head in heads)
    assert "warn" not in result.stdout.split("claims have nothing")[0].replace("--min-severity", "")
    assert "claims have nothing at or above deny: not shown." in result.stdout
    # the summary still counts every claim
    assert "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only" in result.stderr


def test_max_claims_bounds_the_table_and_says_how_to_see_the_rest(run):
    result = run("check", "--fail-on", "never", "--max-claims", "2", str(EXAMPLES))
    heads = [block.splitlines()[0] for block in _blocks(result.stdout) if "  medicare  " in block.splitlines()[0]]
    assert len(heads) == 2 and all("blocking" in head for head in heads)
    footer = " ".join(result.stdout.split())
    assert "Showing 2 of 12 claims" in footer
    assert "not shown: 4 blocking, 1 not checked, 2 warn, 3 notes only" in footer
    assert "--max-claims 0" in footer


def test_max_claims_zero_streams_every_claim_in_input_order(run, tmp_path):
    ids = [f"C{i}" for i in range(60)]
    path = _claims_file(tmp_path, *(make_claim(claim_id=i) for i in ids))
    result = run("check", "--fail-on", "never", "--max-claims", "0", path)
    heads = [b.splitlines()[0].split("  ")[0] for b in _blocks(result.stdout) if b.startswith("C")]
    assert heads == ids


def test_the_table_is_readable_at_80_columns(run):
    result = run("check", "--fail-on", "never", str(EXAMPLES), env={"COLUMNS": "80"})
    # a pipe gets a fixed width of 100 and no trailing padding
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert not any(line.endswith(" ") for line in lines)


# --- the summary ----------------------------------------------------------------------------------


def test_the_summary_counts_every_claim_and_goes_to_stderr_for_every_format(run):
    for fmt in ("table", "json", "ndjson", "csv", "x12-summary"):
        result = run("check", "--fail-on", "never", "--format", fmt, str(EXAMPLES))
        assert "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only" in result.stderr, fmt
        assert "12 claims" not in result.stdout, fmt


def test_statistics_count_findings_by_code_and_payer(run):
    result = run("check", "--fail-on", "never", "--format", "ndjson", "--statistics", str(EXAMPLES))
    assert "Findings by code" in result.stderr and "By payer" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    expected = sum(f["code"] == "JWJZ_MISSING" for r in rows for f in r["findings"])
    line = next(line for line in result.stderr.splitlines() if "JWJZ_MISSING" in line)
    assert line.split("│")[3].strip() == str(expected)


def test_quiet_writes_nothing_on_stderr(run):
    result = run("check", "-q", "--fail-on", "never", "--format", "ndjson", str(EXAMPLES))
    assert result.stderr == "" and len(result.stdout.splitlines()) == 12


def test_empty_input_is_a_usage_error_with_its_own_exit_code(run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("check", str(empty))
    assert result.exit_code == EXIT_NO_CLAIMS == 5
    assert "no claims in" in result.stderr and result.stdout == ""
    blank = tmp_path / "blank.ndjson"
    blank.write_text("\n\n", encoding="utf-8")
    assert run("check", "--format", "json", str(blank)).exit_code == EXIT_NO_CLAIMS
    assert run("check", "-", input="").exit_code == EXIT_NO_CLAIMS


def test_output_file(run, tmp_path):
    out = tmp_path / "out.csv"
    result = run("check", "--fail-on", "never", "--format", "csv", "-o", str(out), str(EXAMPLES))
    assert result.exit_code == 0 and result.stdout == ""
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len({row["claim_id"] for row in rows}) == 12


# --- settings -------------------------------------------------------------------------------------


def _ndjson_payments(result) -> list:
    return [json.loads(line)["payment"] for line in result.stdout.splitlines()]


def test_a_settings_file_loads_reference_files_and_is_named(run, tmp_path):
    (tmp_path / "j9330-rules.toml").write_text(f'asp-file = ["{ASP}"]\nmue_file = "{MUE}"\n', encoding="utf-8")
    claim = _claims_file(tmp_path, make_claim())
    result = run("check", "--format", "ndjson", claim)
    assert _ndjson_payments(result)[0]["allowed"] == "1053.43"  # from the made-up fixture
    assert f"settings: {tmp_path / 'j9330-rules.toml'}" in result.stderr
    bare = run("--no-config", "check", "--format", "ndjson", claim)
    assert _ndjson_payments(bare)[0] is None and "settings:" not in bare.stderr


def test_pyproject_tool_table_is_found_from_a_subfolder(run, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "x"\n\n[tool.j9330-rules]\nasp-file = "{ASP}"\n', encoding="utf-8"
    )
    sub = tmp_path / "claims" / "today"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = run("check", "--format", "ndjson", _claims_file(sub, make_claim()))
    assert _ndjson_payments(result)[0]["allowed"] == "1053.43"
    assert f"settings: {tmp_path / 'pyproject.toml'}" in result.stderr


def test_options_beat_environment_beats_file(run, tmp_path):
    # A second made-up ASP file: the fixture with J9330's limit changed from 42.137 to 40.000.
    other = tmp_path / "asp_other_fixture.csv"
    other.write_text(ASP.read_text(encoding="utf-8").replace("42.137", "40.000"), encoding="utf-8")
    (tmp_path / "j9330-rules.toml").write_text(f'asp-file = "{ASP}"\n', encoding="utf-8")
    claim = _claims_file(tmp_path, make_claim())  # 25 units
    from_file = run("check", "--format", "ndjson", claim)
    from_env = run("check", "--format", "ndjson", claim, env={"J9330_RULES_ASP_FILE": str(other)})
    from_option = run(
        "check", "--asp-file", str(ASP), "--format", "ndjson", claim, env={"J9330_RULES_ASP_FILE": str(other)}
    )
    assert [_ndjson_payments(r)[0]["allowed"] for r in (from_file, from_env, from_option)] == [
        "1053.43",
        "1000.00",
        "1053.43",
    ]


def test_a_bad_engine_in_a_named_settings_file_is_a_usage_error(run, tmp_path):
    (tmp_path / "bad.toml").write_text('engine = "fast"\n', encoding="utf-8")
    bad = run("--config", str(tmp_path / "bad.toml"), "check", str(EXAMPLES))
    assert bad.exit_code == 2 and "must be one of compiled, durable" in bad.stderr


def test_environment_variable_reference_file(run, tmp_path):
    claim = _claims_file(tmp_path, make_claim())
    result = run("check", "--format", "ndjson", claim, env={"J9330_RULES_ASP_FILE": str(ASP)})
    assert _ndjson_payments(result)[0]["allowed"] == "1053.43"


def test_a_settings_file_with_an_unknown_key_or_missing_file_is_a_usage_error(run, tmp_path):
    (tmp_path / "j9330-rules.toml").write_text('asp-files = "x.csv"\n', encoding="utf-8")
    result = run("check", str(EXAMPLES))
    assert result.exit_code == 2 and "unknown setting 'asp-files'" in result.stderr
    (tmp_path / "j9330-rules.toml").write_text('asp-file = "nowhere.csv"\n', encoding="utf-8")
    result = run("check", str(EXAMPLES))
    assert result.exit_code == 2 and "nowhere.csv, which is not a file" in result.stderr


# --- values that must not stop a run, and failures of the run itself ------------------------------


def test_a_lone_surrogate_in_a_claim_id_stops_no_writer(run, tmp_path):
    path = tmp_path / "odd.ndjson"
    path.write_text(
        json.dumps(make_claim(claim_id="\ud800")) + "\n" + json.dumps(make_claim(claim_id="AFTER")) + "\n",
        encoding="utf-8",
    )  # json.dumps writes the surrogate as \\ud800: valid JSON
    for fmt in ("table", "csv", "x12-summary", "json", "ndjson"):
        result = run("check", "--fail-on", "never", "--format", fmt, "--max-claims", "0", str(path))
        assert result.exit_code == 0, (fmt, result.stderr)
        assert "AFTER" in result.stdout or fmt == "x12-summary", fmt  # the later claim is not lost
        assert "2 claims" in result.stderr, fmt


def test_csv_cells_that_would_be_formulas_are_text(run, tmp_path):
    ids = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "ok"]
    path = _claims_file(tmp_path, *(make_claim(claim_id=i) for i in ids))
    for fmt in ("csv", "x12-summary"):
        result = run("check", "--fail-on", "never", "--format", fmt, path)
        cells = {row["claim_id"] for row in csv.DictReader(io.StringIO(result.stdout))}
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells), fmt
    rows = list(csv.DictReader(io.StringIO(run("check", "--format", "csv", "--fail-on", "never", path).stdout)))
    assert list(dict.fromkeys(r["claim_id"] for r in rows)) == ["'" + i for i in ids[:4]] + ["ok"]


def test_a_crash_is_exit_3_without_the_exception_text(monkeypatch, tmp_path, capsys):
    import j9330_rules.cli as cli

    def boom(*args, **kwargs):
        raise RuntimeError("MEMBER SMITH JOHN 1961-04-02")  # planted: must not be echoed
        yield

    monkeypatch.setattr(cli, "_results", boom)
    with pytest.raises(SystemExit) as exit_:
        cli.entry(["--no-config", "check", str(EXAMPLES)])
    assert exit_.value.code == cli.EXIT_RUN_FAILED == 3
    err = capsys.readouterr().err
    assert "internal error (RuntimeError at " in err and "SMITH" not in err


def test_usage_errors_and_blocking_keep_their_codes_through_the_entry_point(tmp_path):
    import j9330_rules.cli as cli

    with pytest.raises(SystemExit) as usage:
        cli.entry(["check", "/no/such/file"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit) as blocking:
        cli.entry(["--no-config", "check", "-q", str(EXAMPLES)])
    assert blocking.value.code == 1
    with pytest.raises(SystemExit) as clean:
        cli.entry(["--no-config", "check", "-q", "--fail-on", "never", str(EXAMPLES)])
    assert clean.value.code == 0


def test_ctrl_c_writes_the_results_so_far_and_exits_130(monkeypatch, tmp_path):
    import j9330_rules.cli as cli

    real = cli._results

    def interrupted(editor, items, as_of=None, workers=1, timeout=None):
        for n, result in enumerate(real(editor, items, as_of, workers, timeout)):
            if n == 3:
                raise KeyboardInterrupt
            yield result

    monkeypatch.setattr(cli, "_results", interrupted)
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exit_:
        cli.entry(["--no-config", "check", "--format", "json", "-o", str(out), str(EXAMPLES)])
    assert exit_.value.code == cli.EXIT_INTERRUPTED == 130
    assert len(json.loads(out.read_text(encoding="utf-8"))) == 3  # a whole JSON document
