"""The national report: generated from the loaded plugins, every fact with its source."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from j9330_rules import Editor, Payer
from j9330_rules.cli import main
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin
from j9330_rules.report.overview import TOPIC_PARAMETERS, render_html, render_markdown, summarise
from j9330_rules.rules.specs import ALL_PAYERS
from tests.conftest import FIXTURE_ASP, FIXTURES, UNSOURCED, unsourced_plugin

FIXTURE_FEES = FIXTURES / "fees" / "contract_fee_schedule_fixture.csv"
AS_OF = dt.date(2026, 3, 2)
# 25 units x the fixture rates (made-up prices), rounded half-up to the cent.
EXPECTED = {"medicare": Decimal("1053.43"), "aetna": Decimal("1280.75"), "bcbs": Decimal("25.13")}


# --- helpers ----------------------------------------------------------------------------------


def unescape(markdown: str) -> str:
    """CommonMark backslash escapes undone, so spec text can be looked for verbatim."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def _section(markdown: str, start: int) -> str:
    end = markdown.find("\n## ", start + 1)
    return markdown[start:] if end < 0 else markdown[start:end]


def payer_section(markdown: str, name: str) -> str:
    match = re.search(rf"^## .*\(`{re.escape(name)}`\)$", markdown, re.MULTILINE)
    assert match, f"no section for payer {name}"
    return _section(markdown, match.start())


def national_section(markdown: str) -> str:
    start = markdown.find("\n## National rules")
    assert start >= 0, "no national section"
    return _section(markdown, start)


def value_tokens(value) -> list[str]:
    if isinstance(value, bool):
        return ["`true`" if value else "`false`"]
    if isinstance(value, (list, tuple)):
        return [f"`{item}`" for item in value] or ["(none)"]
    return [f"`{value}`"]


def date_tokens(effective) -> list[str]:
    return [str(day) for day in (effective.effective_from, effective.effective_to) if day is not None]


def assert_row(section: str, *needles: str, what: str) -> None:
    """Some one table row (one Markdown line) holds every needle: the value sits beside its source."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert any(all(needle in line for needle in needles) for line in lines), f"{what}: no row with {needles}"


class StrictParser(HTMLParser):
    """Fails on a close tag that does not match the open one; collects the chart's bars."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "source", "area", "base"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[str] = []
        self.bars: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "rect" and "bar" in (attributes.get("class") or "").split():
            self.bars.append(attributes)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_html(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


@pytest.fixture(scope="module")
def priced_editor() -> Editor:
    return Editor(asp_file=FIXTURE_ASP, fee_schedule=FIXTURE_FEES)


@pytest.fixture(scope="module")
def markdown(bare_editor) -> str:
    return unescape(render_markdown(summarise(bare_editor, AS_OF)))


# --- (1) drift: the report says what the loaded specs say -------------------------------------


def test_every_parameter_code_set_override_and_rule_of_every_spec_is_in_the_report(bare_editor, markdown):
    national = national_section(markdown)
    assert bare_editor.payers, "no payers loaded"
    for name, policy in bare_editor.policies.items():
        section = payer_section(markdown, name)
        for spec in policy.specs:
            where, label = (national, "national") if ALL_PAYERS in spec.applies_to else (section, name)
            for parameter, periods in spec.parameters.items():
                for period in periods:
                    assert_row(
                        where,
                        f"`{parameter}`",
                        period.source,
                        *value_tokens(period.value),
                        *date_tokens(period.effective),
                        what=f"{label} parameter {parameter}",
                    )
            for set_name, code_set in spec.code_sets.items():
                assert_row(
                    where,
                    f"`{set_name}`",
                    code_set.source,
                    *(f"`{c}`" for c in code_set.codes),
                    what=f"{label} code set {set_name}",
                )
            for override in spec.severity_overrides:
                assert_row(
                    where,
                    f"`{override.code}`",
                    override.severity,
                    override.source,
                    *date_tokens(override.effective),
                    what=f"{label} severity override {override.code}",
                )
            for rule in spec.rules:
                assert_row(
                    where,
                    f"`{rule.id}`",
                    f"`{rule.code}`",
                    rule.severity,
                    rule.source,
                    *date_tokens(rule.effective),
                    what=f"{label} rule {rule.id}",
                )
        # What the payer's claims are checked against, national defaults included, sits in its own section.
        for parameter in TOPIC_PARAMETERS:
            for period in policy.parameters.get(parameter, ()):
                assert_row(
                    section,
                    f"`{parameter}`",
                    period.source,
                    *value_tokens(period.value),
                    *date_tokens(period.effective),
                    what=f"{name} {parameter}",
                )
        covered = policy.code_sets.get("covered_diagnoses")
        if covered is not None:
            assert_row(
                section,
                "`covered_diagnoses`",
                covered.source,
                *(f"`{c}`" for c in covered.codes),
                what=f"{name} covered indications",
            )


def test_every_rule_id_of_every_spec_appears(bare_editor, markdown):
    ids = [rule.id for spec in bare_editor.registry.specs for rule in spec.rules]
    assert ids
    missing = [rule_id for rule_id in ids if f"`{rule_id}`" not in markdown]
    assert missing == []


def test_payers_are_sorted_by_name_and_each_has_the_sections(bare_editor, markdown):
    positions = [markdown.index(payer_section(markdown, name)) for name in sorted(bare_editor.payers)]
    assert positions == sorted(positions)
    for name in bare_editor.payers:
        section = payer_section(markdown, name)
        for heading in (
            "Covered indications",
            "Authorization",
            "Modifier requirements",
            "Unit limits",
            "Age criteria",
            "Reimbursement basis",
            "Payer-specific rules",
            "Not provided",
        ):
            assert f"\n### {heading}\n" in section, f"{name}: no {heading}"


def test_medicare_reports_its_mue_rule_and_whether_a_table_is_loaded(bare_editor, editor):
    bare = payer_section(unescape(render_markdown(summarise(bare_editor, AS_OF))), "medicare")
    assert_row(bare, "`MCR-MUE`", "`UNITS_OVER_MUE`", what="MUE rule")
    assert_row(bare, "CMS MUE table, practitioner", "| no |", what="MUE not loaded")
    loaded = payer_section(unescape(render_markdown(summarise(editor, AS_OF))), "medicare")
    assert_row(loaded, "CMS MUE table, practitioner", "| yes |", "MCR_MUE_PractitionerServices", what="MUE loaded")


def test_a_new_payer_plugin_is_reported_from_its_own_spec(tmp_path):
    """Nothing about a payer is written in the report: a third party's plugin shows up as it states itself."""
    spec = tmp_path / "acme.yaml"
    spec.write_text(
        """
ruleset: acme
version: "2026.1.0"
title: Acme J9330 policy
applies_to: [acme]
parameters:
  ndc_required:
    - value: true
      effective_from: "2025-01-01"
      source: "Acme drug policy, section 2 (test citation)"
  units_limit:
    - value: 100
      source: "Acme drug policy, section 3 (test citation)"
  units_limit_days:
    - value: 28
      source: "Acme drug policy, section 3b (test citation)"
code_sets:
  covered_diagnoses:
    field: diagnosis
    codes: ["C64*"]
    source: "Acme drug policy, covered indications (test citation)"
rules:
  - id: ACME-UNITS-CAP
    code: UNITS_OVER_POLICY_LIMIT
    severity: deny
    fact: date
    when: {$gt: {total_units: 50}}
    message: "Line $line: $total_units units on one date; Acme allows 50."
    source: "Acme drug policy, section 4 (test citation)"
    effective_from: "2025-01-01"
""",
        encoding="utf-8",
    )
    hostile = 'Acme <b>Health</b> & Co | "Test"'
    plugin = SpecPayerPlugin(Payer(name="acme", display_name=hostile, policy_sourced=True), spec)
    editor = Editor(plugins=[plugin])
    report = summarise(editor, AS_OF)
    raw = render_markdown(report)
    markdown = unescape(raw)
    section = payer_section(markdown, "acme")
    assert hostile in section
    assert_row(section, "`units_limit`", "`100`", "section 3 (test citation)", what="unit limit")
    assert_row(section, "`units_limit_days`", "`28`", "section 3b (test citation)", what="unit limit window")
    assert_row(section, "`ndc_required`", "`true`", "2025-01-01", "section 2 (test citation)", what="other parameter")
    assert_row(
        section, "`ACME-UNITS-CAP`", "`UNITS_OVER_POLICY_LIMIT`", "deny", "section 4 (test citation)", what="rule"
    )
    # Markdown: the display name cannot open a tag or a table cell.
    assert "<b>" not in raw
    _tables_are_rectangular(raw)
    # HTML: escaped, and still well formed.
    page = render_html(report)
    assert "<b>Health" not in page
    assert "Acme &lt;b&gt;Health&lt;/b&gt; &amp; Co" in page
    parsed = parse_html(page)
    assert hostile in "".join(parsed.text)


def _tables_are_rectangular(markdown: str) -> None:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    tables = 0
    width = cells = None
    for token in tokens:
        if token.type == "table_open":
            tables += 1
            width = None
        elif token.type == "tr_open":
            cells = 0
        elif token.type in ("th_open", "td_open"):
            cells += 1
        elif token.type == "tr_close":
            width = cells if width is None else width
            assert cells == width, "a table row has a different number of cells"
    assert tables > 0


def test_markdown_tables_are_well_formed(bare_editor):
    _tables_are_rectangular(render_markdown(summarise(bare_editor, AS_OF)))


# --- (2) payers without a sourced policy --------------------------------------------------------


def test_an_unsourced_payer_is_reported_as_not_provided():
    """Every built-in payer is sourced; a third party's payer without a policy (TEST FIXTURE) is not."""
    editor = Editor(plugins=[unsourced_plugin()])
    name = UNSOURCED
    payer = editor.payers[name]
    assert not payer.policy_sourced
    section = payer_section(render_markdown(summarise(editor, AS_OF)), name)
    assert f"- Policy: not provided: {payer.note}" in section
    assert "Not restricted by a sourced policy" in section
    not_provided = section[section.index("### Not provided") :]
    assert "- Sourced payer policy: not provided" in not_provided
    summary = next(p for p in summarise(editor, AS_OF).payers if p.name == name)
    assert summary.covered is None and summary.rules == ()
    assert summary.benchmark.allowed is None


def test_sourced_payers_are_not_reported_as_unsourced(bare_editor, markdown):
    for name, payer in bare_editor.payers.items():
        if payer.policy_sourced:
            section = payer_section(markdown, name)
            assert "- Policy: sourced" in section
            assert "Sourced payer policy" not in section


def test_files_not_loaded_are_listed(bare_editor, markdown):
    medicare = payer_section(markdown, "medicare")
    not_provided = medicare[medicare.index("### Not provided") :]
    assert "CMS ASP payment limit file" in not_provided and "--asp-file" in not_provided
    assert "--mue-file" in not_provided
    aetna = payer_section(markdown, "aetna")
    assert "--fee-schedule" in aetna[aetna.index("### Not provided") :]


# --- (3) the benchmark and the HTML page -------------------------------------------------------


def test_benchmark_goes_through_the_editor(priced_editor):
    report = summarise(priced_editor, AS_OF)
    amounts = {b.payer: b.allowed for b in report.benchmarks}
    assert {name: amount for name, amount in amounts.items() if amount is not None} == EXPECTED
    for benchmark in report.benchmarks:
        if benchmark.allowed is None:
            assert benchmark.reason
        else:
            assert benchmark.units == 25 and benchmark.source and benchmark.basis


def test_html_renders_with_one_bar_per_priced_payer(priced_editor):
    page = render_html(summarise(priced_editor, AS_OF))
    parsed = parse_html(page)
    assert parsed.tags.count("svg") == 1
    assert sorted(bar["data-payer"] for bar in parsed.bars) == sorted(EXPECTED)
    svg = page[page.index("<svg") : page.index("</svg>")]
    for amount in EXPECTED.values():
        assert f"${amount:,.2f}" in svg
    for name in set(priced_editor.payers) - set(EXPECTED):
        display = priced_editor.payers[name].display_name
        assert f"{display}: no benchmark: " in "".join(parsed.text)
    # Self-contained: nothing fetched from elsewhere.
    assert not {"script", "link", "img", "iframe"} & set(parsed.tags)
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "url(" not in page and "@import" not in page


def test_markdown_carries_the_benchmark_too(priced_editor):
    markdown = render_markdown(summarise(priced_editor, AS_OF))
    for amount in EXPECTED.values():
        assert f"${amount:,.2f}" in markdown
    assert "no benchmark: " in markdown


def test_no_prices_loaded_means_no_bars(bare_editor):
    parsed = parse_html(render_html(summarise(bare_editor, AS_OF)))
    assert parsed.bars == []
    assert "no benchmark: " in "".join(parsed.text)


# --- (4) the command --------------------------------------------------------------------------


@pytest.fixture
def run():
    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


def test_cli_writes_markdown(run, tmp_path: Path):
    out = tmp_path / "report.md"
    result = run("report", "--format", "md", "--out", out, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# J9330")
    assert "## National rules" in text


def test_cli_writes_html_with_the_benchmark(run, tmp_path: Path):
    out = tmp_path / "report.html"
    result = run(
        "report",
        "--format",
        "html",
        "--out",
        out,
        "--as-of",
        AS_OF,
        "--asp-file",
        FIXTURE_ASP,
        "--fee-schedule",
        FIXTURE_FEES,
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    parsed = parse_html(page)
    assert len(parsed.bars) == len(EXPECTED)
    for amount in EXPECTED.values():
        assert f"${amount:,.2f}" in page


def test_cli_prints_to_stdout_without_out(run):
    result = run("report", "--as-of", AS_OF)
    assert result.exit_code == 0
    assert result.output.startswith("# J9330")
    assert f"As of {AS_OF}" in result.output


def test_cli_as_of_defaults_to_today_and_rejects_bad_dates(run):
    assert f"As of {dt.date.today()}" in run("report").output
    assert run("report", "--as-of", "02/03/2026").exit_code == 2


# --- (5) the publication: the seed overview's sections, from the same specs ---------------------

SEED_SECTIONS = (
    "1. Summary and overview",
    "2. Billing code overview",
    "3. Clinical and coding specifications",
    "4. Payer coverage patterns",
    "5. Reimbursement benchmarks",
    "6. Common billing errors",
    "7. Documentation requirements",
    "8. Data not available",
)


def _matrix(markdown: str) -> dict[str, dict[str, str]]:
    section = _section(markdown, markdown.index("## 4. Payer coverage patterns"))
    lines = [line for line in section.splitlines() if line.startswith("|")]
    headers = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(headers):
            break  # the next table (sources)
        name = re.search(r"\(`([a-z_]+)`\)$", cells[0]).group(1)
        rows[name] = dict(zip(headers[1:], cells[1:]))
    return rows


def test_the_report_has_the_seed_sections_in_order(markdown):
    positions = [markdown.index(f"\n## {title}\n") for title in SEED_SECTIONS]
    assert positions == sorted(positions)
    assert markdown.index("\n## 8. Data not available") < markdown.index("\n## Payer policies in detail")


def test_the_matrix_says_what_each_payers_policy_says(bare_editor, markdown):
    matrix = _matrix(markdown)
    assert sorted(matrix) == sorted(bare_editor.payers)
    for name, policy in bare_editor.policies.items():
        own = {n for s in policy.specs if ALL_PAYERS not in s.applies_to for n in s.parameters}
        values = policy.parameters_on(AS_OF)
        row = matrix[name]
        for column, parameter in (("Prior authorization", "prior_auth_required"), ("JW/JZ", "jwjz_required")):
            if parameter not in own:
                assert row[column] == "not stated (not enforced)", (name, column)
            else:
                assert row[column].startswith("required" if values[parameter] else "not required"), (name, column)
        if "adults_only" in own:
            assert row["Age"] == ("18 or older" if values["adults_only"] else "no age limit"), name
        if values.get("units_limit") is not None:
            assert f"{values['units_limit']} units per {values['units_limit_days']} days" in row["Unit limits"]
        covered = next(
            (s.code_sets["covered_diagnoses"] for s in policy.specs if "covered_diagnoses" in s.code_sets), None
        )
        if covered is not None:
            first = covered.codes[0]
            assert row["Covered indications"].startswith(first.rstrip("*")), name


def test_the_matrix_on_the_sources_own_words(markdown):
    """Spot checks against the policies' text, as the specs cite it."""
    matrix = _matrix(markdown)
    assert matrix["florida_blue"]["Unit limits"] == "25 units per 7 days"  # VP-0166: '25 billable units every 7 days'
    assert matrix["florida_blue"]["Age"] == "18 or older"  # VP-0166: 'at least 18 years of age'
    assert matrix["bcbs"]["Prior authorization"] == "required; 12-month authorization"  # 'Authorization of 12 months'
    assert matrix["medicare"]["JW/JZ"] == "required"  # JZ required from 2023-07-01
    assert matrix["medicare"]["Prior authorization"] == "not stated (not enforced)"


def test_the_modifier_table_reads_who_requires_each_from_the_specs(bare_editor, markdown):
    section = _section(markdown, markdown.index("## 3. Clinical"))
    required = sorted(n for n, p in bare_editor.policies.items() if p.parameters_on(AS_OF)["jwjz_required"])
    for modifier in ("JW", "JZ"):
        assert_row(section, f"`{modifier}`", f"required: {', '.join(required)};", what=modifier)
    for modifier in ("JG", "TB", "PO", "PN", "ER"):
        assert_row(section, f"`{modifier}`", what=modifier)
    assert_row(section, "`JW`", "Drug amount discarded/not administered to any patient", what="JW descriptor")


def test_common_errors_come_from_the_catalogue_and_the_rules_in_force(bare_editor, markdown):
    from j9330_rules.rules.catalogue import catalogue

    section = _section(markdown, markdown.index("## 6. Common billing errors"))
    codes = catalogue()
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows
    for line in rows:
        code = re.match(r"\| `([A-Z0-9_]+)`", line).group(1)
        assert codes[code].severity in ("reject", "deny", "warn") and codes[code].meaning in line
    # JWJZ_MISSING's rule reads jwjz_required, which only Medicare's spec sets on this date
    assert_row(section, "`JWJZ_MISSING`", "| medicare |", what="JWJZ_MISSING raised for")
    assert_row(section, "`UNITS_INVALID`", "| all payers |", what="UNITS_INVALID raised for")


def test_asp_by_quarter_lists_every_loaded_asp_file(tmp_path):
    from tests.conftest import CMS

    april = tmp_path / "asp_payment_limit_fixture_april_2026.csv"  # MADE-UP: the fixture, another limit
    text = FIXTURE_ASP.read_text(encoding="utf-8").replace("42.137", "43.001")
    text = text.replace(
        "Effective January 1, 2026 through March 31, 2026", "Effective April 1, 2026 through June 30, 2026"
    )
    april.write_text(text, encoding="utf-8")
    editor = Editor(asp_file=[FIXTURE_ASP, april], fee_schedule=FIXTURE_FEES)
    markdown = unescape(render_markdown(summarise(editor, AS_OF)))
    section = _section(markdown, markdown.index("### CMS ASP payment limit by quarter"))
    assert_row(section, "2026-01-01 to 2026-03-31", "$42.137", "$1,053.43", what="Q1")
    assert_row(section, "2026-04-01 to 2026-06-30", "$43.001", "$1,075.03", what="Q2")  # 25 x 43.001 = 1075.025
    fees = _section(markdown, markdown.index("### Contract fee schedules"))
    assert_row(fees, "`aetna`", "$51.23", "$1,280.75", what="aetna fee")
    assert CMS.is_dir()


def test_data_not_available_is_said(markdown):
    asp = _section(markdown, markdown.index("### CMS ASP payment limit by quarter"))
    assert "data not available: no CMS ASP pricing file is loaded" in asp
    missing = _section(markdown, markdown.index("## 8. Data not available"))
    assert "CMS MUE table: not loaded (--mue-file)" in missing


def test_the_national_default_is_explained_once(markdown):
    assert markdown.count("fills the dates") == 1
    assert "(national default)" in markdown


def test_json_carries_the_same_facts(priced_editor):
    import json

    from j9330_rules.report.overview import render_json

    report = summarise(priced_editor, AS_OF)
    data = json.loads(render_json(report))
    assert data["schema"] == "j9330-rules/report/1" and data["as_of"] == str(AS_OF)
    allowed = {b["payer"]: b["allowed"] for b in (p["benchmark"] for p in data["payers"]) if b["allowed"]}
    assert allowed == {name: str(amount) for name, amount in EXPECTED.items()}
    matrix = {row["payer"]: [c["text"] for c in row["cells"]] for row in data["publication"]["matrix"]}
    assert matrix == {row.payer: [c.text for c in row.cells] for row in report.publication.matrix}
    assert data["publication"]["asp_quarters"][0]["limit"] == "42.137"


def test_cli_writes_json(run, tmp_path: Path):
    import json

    out = tmp_path / "report.json"
    result = run("report", "--format", "json", "--as-of", AS_OF, "-o", out)
    assert result.exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["publication"]["matrix"]


@pytest.mark.parametrize(
    ("top", "ticks"),
    [("1280.75", [0, 500, 1000, 1500]), ("25.13", [0, 10, 20, 30]), ("1053.43", [0, 500, 1000, 1500]), ("0", [0])],
)
def test_chart_ticks_are_round_and_cover_the_largest_amount(top, ticks):
    from j9330_rules.report.overview import axis_ticks

    assert axis_ticks(Decimal(top)) == [Decimal(t) for t in ticks]


def test_every_descriptive_fact_carries_its_source_and_review_date():
    from j9330_rules.report.publication import descriptive_facts

    facts = descriptive_facts()
    entries = [facts["billing_code"], *facts["clinical"], *facts["sites_of_service"], *facts["modifiers"]]
    entries += facts["documentation"]
    for entry in entries:
        assert entry["source"].strip() and dt.date.fromisoformat(entry["reviewed"]) <= dt.date(2026, 12, 6), entry
