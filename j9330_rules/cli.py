"""The ``j9330-rules`` command line.

stdout carries the data (the table, or a machine format) and nothing else; progress, notes and
the summary go to stderr, whether or not it is a terminal. Exit codes: 0 when nothing blocks;
1 when a finding blocks (by default a reject or deny; see ``--fail-on``) or a claim could not be
checked; 2 for usage errors (a bad option, file or setting); 3 when the run itself failed (a bug:
the message names the exception type and where, never claim values); 5 when the input holds no
claims; 130 when interrupted (the results checked so far are written).
Settings come from the command line, then ``J9330_RULES_*`` variables, then the nearest
``j9330-rules.toml`` or ``pyproject.toml`` ``[tool.j9330-rules]`` (docs/cli.md).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs
import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Column, Table
from rich.text import Text

from j9330_rules.config import find_settings_file, read_settings_file
from j9330_rules.editor import Editor
from j9330_rules.errors import ConfigError, EngineUnavailable, PayerMapError, SpecError
from j9330_rules.findings import HOST_FINDINGS
from j9330_rules.history import HistoryError
from j9330_rules.model import Claim, Result
from j9330_rules.model.disposition import SEVERITIES
from j9330_rules.model.tally import Tally
from j9330_rules.plugins.manager import collect, plugin_manager
from j9330_rules.readers import INPUT_FORMATS, Unreadable, estimate_claims, read_paths
from j9330_rules.refdata.cms import ReferenceFileError
from j9330_rules.rules.policy import merge
from j9330_rules.writers.formats import WRITERS
from j9330_rules.writers.table import TableWriter, TrimmedLines, statistics_tables

EXIT_CLEAN, EXIT_BLOCKING, EXIT_USAGE, EXIT_RUN_FAILED, EXIT_NO_CLAIMS = 0, 1, 2, 3, 5
EXIT_INTERRUPTED = 130  # as a shell reports SIGINT
FAIL_LEVELS = ("reject", "deny", "review", "warn")  # most severe first


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="j9330-rules")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="J9330_RULES_CONFIG",
    help="Settings file (TOML); default: the nearest j9330-rules.toml, or pyproject.toml with [tool.j9330-rules], "
    "from the current directory up.",
)
@click.option("--no-config", is_flag=True, help="Read no settings file.")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None, no_config: bool) -> None:
    """Check claims that bill HCPCS J9330 (temsirolimus, 1 mg)."""
    settings = None
    if not no_config:
        try:
            path = config_file or find_settings_file()
            settings = read_settings_file(path) if path else None
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from None
    ctx.obj = settings
    if settings is not None:  # command-line options and J9330_RULES_* variables win over the file
        values = {name: list(v) if isinstance(v, tuple) else v for name, v in settings.values.items()}
        ctx.default_map = {"check": values, "report": values, "refdata": {"show": values}, "serve": values}


def _settings_note(err: Console) -> None:
    """Say which settings file was read, so a run is never shaped by a file nobody sees."""
    settings = click.get_current_context().find_root().obj
    if settings is not None:
        err.print(Text(f"settings: {settings.path}", "dim"), soft_wrap=True)


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


#: ``--allow-overlay``: for every command that builds an Editor, and for ``plugins``, which lists them.
ALLOW_OVERLAY = click.option(
    "--allow-overlay",
    "allow_overlays",
    multiple=True,
    metavar="PLUGIN",
    envvar="J9330_RULES_ALLOW_OVERLAY",
    help="Let PLUGIN's specs change payers another plugin serves (refused otherwise; recorded in each result's audit).",
)


def reference_options(command):
    """The reference-file options shared by every command that builds an Editor."""
    options = [
        click.option(
            "--asp-file",
            type=_FILE,
            multiple=True,
            envvar="J9330_RULES_ASP_FILE",
            help="CMS ASP payment limit file (CSV, xlsx or the published ZIP); repeat for several quarters.",
        ),
        click.option(
            "--crosswalk-file",
            type=_FILE,
            multiple=True,
            envvar="J9330_RULES_CROSSWALK_FILE",
            help="CMS ASP NDC-HCPCS crosswalk (CSV, xlsx or the published ZIP).",
        ),
        click.option(
            "--mue-file",
            type=_FILE,
            multiple=True,
            envvar="J9330_RULES_MUE_FILE",
            help="CMS MUE table, practitioner and/or outpatient hospital (CSV, xlsx or the published ZIP).",
        ),
        click.option(
            "--fee-schedule",
            type=_FILE,
            multiple=True,
            envvar="J9330_RULES_FEE_SCHEDULE",
            help="Contract fee schedule CSV (payer, hcpcs, rate_per_unit, effective_from, effective_to).",
        ),
        click.option(
            "--icd10-file",
            type=_FILE,
            multiple=True,
            envvar="J9330_RULES_ICD10_FILE",
            help="CMS ICD-10-CM order or codes file (icd10cm_order_2026.txt, or its ZIP); repeat for several fiscal years "
            "and for the April 1 release.",
        ),
        click.option(
            "--ndc-directory",
            type=_FILE,
            multiple=True,
            envvar="J9330_RULES_NDC_DIRECTORY",
            help="FDA NDC Directory package.txt (or ndctext.zip): flags NDCs not marketed on the date of service.",
        ),
        ALLOW_OVERLAY,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def editor_options(command):
    """Everything an Editor is built from, for the commands that check claims (check, serve):
    the reference files, then history, overrides, payer map and engine."""
    options = [
        click.option(
            "--history",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar="J9330_RULES_HISTORY",
            help="SQLite claim history (created if absent) for FREQUENCY and unit-limit edits.",
        ),
        click.option(
            "--overrides",
            type=_FILE,
            envvar="J9330_RULES_OVERRIDES",
            help="Suppressions and severity overrides (TOML or YAML); see docs/overrides.md.",
        ),
        click.option(
            "--payer-map",
            type=_FILE,
            envvar="J9330_RULES_PAYER_MAP",
            help="Map payer IDs and names on the claims (837 NM1*PR, FHIR insurer or Coverage.payor) onto payers: "
            "CSV or TOML; see docs/payer-map.md.",
        ),
        click.option(
            "--engine",
            type=click.Choice(["compiled", "durable"]),
            default="compiled",
            show_default=True,
            envvar="J9330_RULES_ENGINE",
            help="compiled: the specs as Python predicates; durable: the durable-rules C core they are tested "
            "against. Same findings.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return reference_options(command)


def _editor(**options) -> Editor:
    try:
        return Editor(**options)
    except (
        SpecError,
        EngineUnavailable,
        FileNotFoundError,
        ReferenceFileError,
        HistoryError,
        PayerMapError,
        ConfigError,
    ) as exc:
        raise click.UsageError(str(exc)) from None


def _results(editor: Editor, items: Iterable, as_of=None, workers: int = 1, timeout=None) -> Iterator[Result]:
    if workers > 1:
        yield from _results_in_workers(editor, items, as_of, workers, timeout)
        return
    for item in items:
        if isinstance(item, Unreadable):
            yield Result(None, None, error=item.message)
        else:
            yield from editor.check_many([item], as_of=as_of)


def _results_in_workers(editor: Editor, items: Iterable, as_of, workers: int, timeout) -> Iterator[Result]:
    """``--workers``: check_many in worker processes, in input order. An unreadable record
    holds its place as None (which fails fast) and gets its reader's message back."""
    unreadable: dict[int, Unreadable] = {}

    def claims() -> Iterator:
        for position, item in enumerate(items):
            if isinstance(item, Unreadable):
                unreadable[position] = item
                item = None
            yield item

    for position, result in enumerate(editor.check_many(claims(), as_of=as_of, workers=workers, timeout=timeout)):
        item = unreadable.pop(position, None)
        yield result if item is None else Result(None, None, error=item.message)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", *WRITERS]),
    default="table",
    show_default=True,
    help="table for people; json, ndjson, csv (one row per finding) or x12-summary (835-style adjustments per line) for programs.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the results to FILE instead of standard output.",
)
@editor_options
@click.option(
    "--fail-on",
    type=click.Choice([*FAIL_LEVELS, "never"]),
    default="deny",
    show_default=True,
    help="Exit 1 when a finding is this severe or more (or a claim cannot be checked); 'never' always exits 0.",
)
@click.option(
    "--min-severity",
    type=click.Choice(SEVERITIES[::-1]),
    default="info",
    show_default=True,
    help="table: hide findings less severe than this (the machine formats keep every finding).",
)
@click.option(
    "--max-claims",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    metavar="N",
    help="table: show the N claims that most need attention, blocking first; 0 shows every claim in input order.",
)
@click.option(
    "--statistics", is_flag=True, help="After the summary, count the findings by code and the claims by payer (stderr)."
)
@click.option(
    "--input-format",
    type=click.Choice(["auto", *INPUT_FORMATS]),
    default="auto",
    show_default=True,
    help="Force the input format instead of detecting it.",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Choose rules by this processing date instead of each line's date of service.",
)
@click.option("-q", "--quiet", is_flag=True, help="Nothing on stderr but errors: no progress, notes or summary.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Check in N worker processes (results stay in input order); 1 checks in this process.",
)
@click.option(
    "--timeout",
    metavar="SECONDS",
    type=click.FloatRange(min=0, min_open=True),
    help="With --workers: how long a worker may take per claim before it is stopped (default 300); a claim that "
    "takes as long again, alone, gets an error result.",
)
@click.option(
    "--payer",
    metavar="NAME",
    help="Check every claim as this payer's, whatever the claim says (an unknown payer makes each claim an error result).",
)
def check(
    files,
    fmt,
    output,
    fail_on,
    min_severity,
    max_claims,
    statistics,
    quiet,
    input_format,
    as_of,
    payer,
    workers,
    timeout,
    **options,
) -> None:
    """Check the claims in FILES (JSON, a JSON list, NDJSON, CSV, X12 837 or FHIR; a directory; - for stdin)."""
    for name in files:
        if name != "-" and not Path(name).exists():
            raise click.UsageError(f"no such file or directory: {name}")
    if timeout is not None and workers == 1:
        raise click.UsageError("--timeout needs --workers 2 or more: a check in this process cannot be stopped")
    editor = _editor(**options)
    err = Console(stderr=True, highlight=False)
    if not quiet:
        _settings_note(err)
    notes = _code_files_not_loaded(editor)
    if fmt != "table" and not quiet and err.is_terminal:  # the table says them in its notes
        for note in notes:
            err.print(Text(f"note: {note}", "dim"), soft_wrap=True)
    run = _Run(editor, err, quiet, fail_on)
    claims = read_paths(files, None if input_format == "auto" else input_format)
    if payer is not None:
        claims = _with_payer(claims, payer)
    with _destination(output) as stream:
        results = run.results(files, claims, as_of.date() if as_of else None, workers, timeout)
        if fmt == "table":
            table = TableWriter(_table_console(stream), min_severity=min_severity, max_claims=max_claims, notes=notes)
            for result in results:
                table.add(result)
            table.close()  # after the stream, so the progress bar is gone
        else:
            WRITERS[fmt](results, stream)  # streams where the format allows
    counts = run.counts
    if run.interrupted:
        click.echo(f"\ninterrupted: the results of {counts.claims:,} claims are written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if run.stopped is not None:
        click.echo(
            f"the run stopped after {counts.claims:,} claims, whose results are written: {run.stopped}. "
            "No later claim was checked without its history.",
            err=True,
        )
        sys.exit(EXIT_RUN_FAILED)
    if counts.claims == 0:
        raise _no_claims(files)
    if not quiet:
        err.print(Text(counts.line(), "bold"), soft_wrap=True)
        if statistics:
            for table in statistics_tables(counts):
                err.print(table)
    sys.exit(EXIT_BLOCKING if run.failing else EXIT_CLEAN)


class _Run:
    """Reads, checks and counts as results pass, with progress on stderr when it is a terminal."""

    def __init__(self, editor: Editor, err: Console, quiet: bool, fail_on: str):
        self.editor, self.err, self.quiet, self.fail_on = editor, err, quiet, fail_on
        self.counts = Tally()
        self.failing = False
        self.stopped: HistoryError | None = None
        self.interrupted = False

    def results(self, files, claims: Iterable, as_of, workers: int, timeout: float | None) -> Iterator[Result]:
        """The results, counted as they pass; the progress bar lives as long as the stream."""
        progress = Progress(
            TextColumn("checking"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=self.err,
            disable=self.quiet or not self.err.is_terminal,
            transient=True,
            redirect_stdout=False,  # stdout carries the data: never the live display's
            redirect_stderr=False,
        )
        with progress:
            task = progress.add_task("claims", total=None if progress.disable else estimate_claims(files))
            try:
                yield from self._counted(progress, task, _results(self.editor, claims, as_of, workers, timeout))
            except HistoryError as exc:
                self.stopped = exc  # the writers end cleanly with the results so far
            except KeyboardInterrupt:
                self.interrupted = True  # Ctrl-C: likewise, then exit 130

    def _counted(self, progress: Progress, task, results: Iterator[Result]) -> Iterator[Result]:
        for result in results:
            self.counts.add(result)
            self.failing = self.failing or _fails(result, self.fail_on)
            total = progress.tasks[0].total
            progress.update(task, advance=1, total=None if total is None else max(total, self.counts.claims))
            yield result


class _RateColumn(ProgressColumn):
    """Claims per second, so a billing manager can tell a slow run from a stuck one."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} claims/s", "cyan")


@contextlib.contextmanager
def _destination(output: Path | None):
    """stdout, or ``-o FILE`` (opened only once the options are known good)."""
    if output is None:
        yield sys.stdout
        return
    try:
        stream = output.open("w", encoding="utf-8", newline="", errors="backslashreplace")
    except OSError as exc:
        raise click.UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    with stream:
        yield stream


def _table_console(stream) -> Console:
    console = Console(file=stream, soft_wrap=False, highlight=False)
    if console.is_terminal:
        return console
    # files and pipes: a fixed width, so the same run gives the same file, and no padding
    return Console(file=TrimmedLines(stream), soft_wrap=False, highlight=False, width=100)


class NoClaims(click.ClickException):
    """No claims in the input: its own exit code, as pytest's "no tests ran" has."""

    exit_code = EXIT_NO_CLAIMS


def _no_claims(files) -> NoClaims:
    named = ", ".join("standard input" if name == "-" else name for name in files)
    return NoClaims(
        f"no claims in {named}: a directory contributes its .json, .ndjson, .jsonl, .csv, .x12, .edi and .837 files"
    )


_CODE_FILES = {
    "icd10": "diagnoses are checked by pattern, not against the ICD-10-CM code file (--icd10-file)",
    "ndc_directory": "NDCs are not checked against the FDA NDC Directory (--ndc-directory)",
}


def _code_files_not_loaded(editor: Editor) -> list[str]:
    """Which optional code files are not loaded, and the option that loads them: said once per run."""
    return [_CODE_FILES[kind] for kind in editor.reference.not_loaded if kind in _CODE_FILES]


def _with_payer(items: Iterable, payer: str) -> Iterator:
    """The claims with their payer replaced (``--payer``); unreadable input passes through."""
    for item in items:
        if isinstance(item, dict):
            item = {**item, "payer": payer}
        elif isinstance(item, Claim):
            item = attrs.evolve(item, payer=payer)
        yield item


def _console() -> Console:
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console.width = 160  # files and pipes: one row per line where it fits
    return console


def _fails(result: Result, fail_on: str) -> bool:
    if fail_on == "never":
        return False
    worst = FAIL_LEVELS.index(fail_on)
    return result.error is not None or any(
        f.severity in FAIL_LEVELS and FAIL_LEVELS.index(f.severity) <= worst for f in result.findings
    )


@main.command()
@ALLOW_OVERLAY
def plugins(allow_overlays) -> None:
    """List the loaded plugins and the payers they serve; a plugin that fails is listed as failed."""
    manager, registry = plugin_manager()
    collect(manager, registry, strict=False, allow_overlays=allow_overlays)  # an invalid spec is listed, not fatal
    console = _console()
    failed = {failure.plugin for failure in registry.failures}
    fold = {"overflow": "fold"}  # a plugin or hook name is shown whole at any width, never cut with …
    table = Table(Column("Plugin", **fold), "Version", Column("Hooks", **fold), "Status", title="Plugins")
    for info in registry.plugins():
        status = "[red]failed[/red]" if info.name in failed else "ok"
        table.add_row(escape(info.name), info.version or "-", ", ".join(info.hooks) or "-", status)
    console.print(table)
    payers = Table("Payer", "Name", "Plugin", "Policy", "Rulesets", "Payer IDs", title="Payers")
    for name, payer in sorted(registry.payers.items()):
        try:
            specs = ", ".join(f"{s.name} {s.version}" for s in merge(name, registry.specs).specs)
        except SpecError as exc:  # e.g. two plugins' specs define one rule id
            specs = f"[red]invalid:[/red] {escape(str(exc))}"
        policy = "sourced" if payer.policy_sourced else "not provided"
        ids = ", ".join(escape(entry.id) for entry in payer.payer_ids) or "-"
        payers.add_row(name, payer.display_name, registry.payer_plugins[name], policy, specs, ids)
    console.print(payers)
    _sources_due(console, registry.specs)
    for failure in registry.failures:
        console.print(
            f"[red]plugin {escape(failure.plugin)} failed while {failure.stage}:[/red] {escape(failure.error)}"
        )
    for overlay in registry.overlays:
        console.print(f"[yellow]overlay allowed:[/yellow] {escape(overlay.describe())}")


def _sources_due(console: Console, specs) -> None:
    """Per ruleset, how many cited sources were not read in the last 12 months: upkeep to do."""
    import datetime as dt
    from collections import Counter

    from j9330_rules.rules.specs import REVIEW_MONTHS, sources_due

    due = sources_due(specs, dt.date.today())
    if not due:
        console.print(f"Every cited source was read in the last {REVIEW_MONTHS} months.")
        return
    counts = Counter(d.ruleset for d in due)
    table = Table(
        "Ruleset", "Sources due", "Oldest review", title=f"Sources not read in the last {REVIEW_MONTHS} months"
    )
    for name in sorted(counts):
        dates = [d.reviewed for d in due if d.ruleset == name]
        oldest = "never dated" if None in dates else str(min(dates))
        table.add_row(escape(name), str(counts[name]), oldest)
    console.print(table)
    console.print("j9330-rules report lists each one; docs/policy-upkeep.md says how to update a spec.")


@main.group()
def refdata() -> None:
    """Reference data: what is bundled and what the given files hold."""


@refdata.command("show")
@reference_options
def refdata_show(**options) -> None:
    """Show the bundled reference data and the J9330 rows of the given files."""
    from j9330_rules.refdata.view import reference_tables

    console = _console()
    for table in reference_tables(_editor(**options).reference):
        console.print(table)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json"]),
    default="md",
    show_default=True,
    help="md (Markdown) or html for people; json (the same facts) for programs.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to FILE instead of standard output.",
)
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The date whose policy and prices the report shows (YYYY-MM-DD; default today).",
)
@reference_options
def report(fmt, out, as_of, **options) -> None:
    """The national overview of J9330 across payers, from the loaded plugins, with sources."""
    import datetime as dt

    from j9330_rules.report.overview import render, summarise

    day = as_of.date() if as_of is not None else dt.date.today()
    text = render(summarise(_editor(**options), day), fmt)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    click.echo(f"wrote {out}", err=True)


@main.command()
@click.argument("code")
def explain(code) -> None:
    """What the edit CODE means, its default severity and CARC/RARC, and which payers' rules raise it."""
    from rich.markup import escape

    from j9330_rules.rules.catalogue import catalogue

    codes = catalogue()
    entry = codes.get(code.strip().upper())
    if entry is None:
        raise click.UsageError(f"unknown edit code {code!r}; the codes are: {', '.join(codes)}")
    editor = _editor()
    console = _console()
    console.print(f"[bold]{entry.code}[/bold]: {escape(entry.meaning)}")
    console.print(f"Default severity: {entry.severity}")
    console.print(f"CARC: {entry.carc or '-'}    RARC: {entry.rarc or '-'}")
    table = Table("Payer", "Rule", "Ruleset", "Severity", "Effective", title=f"Rules that raise {entry.code}")
    used_by = set()
    for name in sorted(editor.policies):
        for rule_id, ruleset, severity, effective in _raising(editor, name, entry):
            used_by.add(name)
            table.add_row(name, rule_id, ruleset, severity, effective)
    console.print(table)
    unused = sorted(set(editor.policies) - used_by)
    if unused:
        console.print(f"No rule raises {entry.code} for: {', '.join(unused)}")
    for name in sorted(editor.policies):
        for override in editor.policies[name].overrides:
            if override.code == entry.code:
                console.print(
                    escape(
                        f"{name} sets its severity to {override.severity} {override.effective.describe()} ({override.source})"
                    )
                )


def _raising(editor: Editor, payer: str, entry) -> Iterator[tuple[str, str, str, str]]:
    for rule in editor.policies[payer].rules:
        if rule.code == entry.code:
            yield rule.id, rule.ruleset, rule.severity, rule.effective.describe()
    host = HOST_FINDINGS.get(entry.code)
    if host is not None and host.applies_to(editor.payers[payer]):
        yield host.rule_id, "(host)", entry.severity, "always"


_MAX_DOSE_MG = 100_000


def _dose(ctx, param, value: str):
    """``--dose``: a positive, finite number of mg, as a Decimal (12.5 stays exact)."""
    from decimal import Decimal, InvalidOperation

    try:
        dose = Decimal(value.strip())
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number of milligrams") from None
    if not dose.is_finite() or dose <= 0:
        raise click.BadParameter("the dose must be a number of milligrams above 0")
    if dose > _MAX_DOSE_MG:
        raise click.BadParameter(f"the dose must be at most {_MAX_DOSE_MG} mg")
    return Decimal(f"{dose:f}")  # plain notation: 1E+1 is shown as 10


@main.command()
@click.option("--dose", metavar="MG", required=True, callback=_dose, help="The dose given, in mg (e.g. 15 or 12.5).")
@click.option(
    "--kits", type=click.IntRange(min=1), metavar="N", help="The 25 mg kits opened; default: as few as hold the dose."
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def units(dose, kits, fmt) -> None:
    """How a dose of J9330 is billed: administered and discarded (JW) units, kits, and the lines."""
    from j9330_rules.facts import units as billing

    bill = billing.bill_dose(dose)
    kit_mg = billing.LABELED_KIT_MG
    if kits is not None and kits < bill.kits:
        raise click.BadParameter(
            f"{kits} kit(s) of {kit_mg} mg hold {kits * kit_mg} mg, less than the {dose} mg dose; it needs {bill.kits}.",
            param_hint="--kits",
        )
    if kits is not None and kits > bill.kits:
        raise click.BadParameter(
            f"the {dose} mg dose fits in {bill.kits} kit(s) of {kit_mg} mg, so {kits - bill.kits} of the {kits} kits "
            f"would be whole and unopened. A whole unopened kit is not waste: it is not billed with JW "
            f"(it can be used for another patient or returned). Bill the waste of the {bill.kits} kit(s) "
            f"opened: {bill.discarded_units} unit(s).",
            param_hint="--kits",
        )
    lines = _billing_lines(bill)
    if fmt == "json":
        data = {
            "dose_mg": str(dose),
            "kit_mg": kit_mg,
            "kits": bill.kits,
            "administered_units": bill.administered_units,
            "discarded_units": bill.discarded_units,
            "lines": [
                {"hcpcs": "J9330", "modifiers": list(modifiers), "units": count, "bill": text}
                for modifiers, count, text in lines
            ],
        }
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("", "", title=f"J9330 for a {dose} mg dose", show_header=False)
    table.add_row("Kits opened", f"{bill.kits} x {kit_mg} mg ({bill.kits * kit_mg} mg labeled)")
    table.add_row("Administered units", str(bill.administered_units))
    table.add_row("Discarded units (JW)", str(bill.discarded_units))
    table.add_row("Lines to bill", "\n".join(text for _, _, text in lines))
    console = _console()
    console.print(table)
    if dose != dose.to_integral_value():
        console.print("Administered units round the dose up to the next mg; discarded units round down.")


def _billing_lines(bill) -> list[tuple[tuple[str, ...], int, str]]:
    """(modifiers, units, "J9330-JW x10") for each line to bill."""
    lines = [(bill.administered_modifiers, bill.administered_units)]
    if bill.discarded_units:
        lines.append((("JW",), bill.discarded_units))
    return [(modifiers, count, "-".join(("J9330", *modifiers)) + f" x{count}") for modifiers, count in lines]


def entry(args: list[str] | None = None) -> None:
    """The console script: ``main`` with a failure of the run itself kept apart from "a claim
    blocks" (exit 3, not 1) and Ctrl-C stopping cleanly (exit 130). Neither prints an exception's
    message or a traceback, which could quote a claim."""
    import os
    import traceback

    try:
        code = main.main(args=args, prog_name="j9330-rules", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # `| head` stopped reading: not an error of ours (Python's advice)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_BLOCKING)
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.stdout.flush()
        click.echo("\ninterrupted: the results checked so far are written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        click.echo(f"j9330-rules: internal error ({type(exc).__name__} at {where}); please report it", err=True)
        sys.exit(EXIT_RUN_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


@main.command()
@click.argument("name", type=click.Choice(["claim", "result"]))
def schema(name) -> None:
    """Print the JSON Schema of a claim or of a result, generated from the models (docs/service.md)."""
    from j9330_rules.schemas import schema as generated

    click.echo(json.dumps(generated(name), indent=2))


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="J9330_RULES_HOST",
    help="Address to bind; 0.0.0.0 only behind a TLS proxy (docs/service.md).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8330, show_default=True, envvar="J9330_RULES_PORT")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    envvar="J9330_RULES_WORKERS",
    help="Worker processes, each with its own Editor.",
)
@click.option(
    "--api-keys-file",
    type=_FILE,
    envvar="J9330_RULES_API_KEYS_FILE",
    help="Bearer tokens, one a line; or J9330_RULES_API_KEYS. None: no auth.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1),
    default=16 * 1024 * 1024,
    show_default=True,
    help="Larger request bodies get 413.",
)
@click.option(
    "--max-batch-claims",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Batches with more claims get 413.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds per request (body read 408, check 504).",
)
@click.option(
    "--keep-alive",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds an idle connection stays open.",
)
@editor_options
def serve(host, port, workers, api_keys_file, max_body_bytes, max_batch_claims, timeout, keep_alive, **options) -> None:
    """Serve the checks over HTTP (the [service] extra): POST /v1/claims:check, /v1/claims:batch, and more."""
    try:
        import fastapi  # noqa: F401  (the [service] extra)
        import uvicorn  # noqa: F401

        from j9330_rules.service.run import serve as run
    except ImportError as exc:
        raise click.UsageError(
            f"serve needs the service extra: pip install 'j9330-rules[service]' ({exc.name} is missing)"
        ) from None
    from j9330_rules.config import EditorConfig
    from j9330_rules.service.auth import load_keys
    from j9330_rules.service.settings import ServiceSettings

    settings = ServiceSettings(
        host=host,
        port=port,
        workers=workers,
        api_keys_file=str(api_keys_file) if api_keys_file else None,
        max_body_bytes=max_body_bytes,
        max_batch_claims=max_batch_claims,
        timeout=timeout,
        keep_alive=keep_alive,
    )
    try:
        keys = load_keys(settings.api_keys_file)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    err = Console(stderr=True, highlight=False)
    _settings_note(err)
    editor = _editor(**options)  # a bad setting stops here, before any worker starts
    auth = f"{len(keys)} API key(s)" if keys else "no auth"
    err.print(Text(f"serving on http://{host}:{port} with {workers} worker(s), {auth}", "dim"), soft_wrap=True)
    run(EditorConfig(**options), settings, editor)
