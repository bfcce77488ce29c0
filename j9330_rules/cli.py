"""The ``j9330-rules`` command line.

Exit codes: 0 when nothing blocks, 1 when a finding blocks (by default a
reject or deny; see ``--fail-on``) or a claim could not be checked, 2 for
usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from j9330_rules.editor import Editor
from j9330_rules.cms import ReferenceFileError
from j9330_rules.errors import EngineUnavailable, SpecError
from j9330_rules.history import HistoryError
from j9330_rules.model import Result
from j9330_rules.readers import INPUT_FORMATS, Unreadable, read_paths
from j9330_rules.render import results_table
from j9330_rules.serialise import result_to_dict

EXIT_CLEAN, EXIT_BLOCKING, EXIT_USAGE = 0, 1, 2
FAIL_LEVELS = ("reject", "deny", "review", "warn")  # most severe first


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="j9330-rules")
def main() -> None:
    """Check claims that bill HCPCS J9330 (temsirolimus, 1 mg)."""


_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def reference_options(command):
    """The reference-file options shared by every command that builds an Editor."""
    options = [
        click.option("--asp-file", type=_FILE, multiple=True, help="CMS ASP payment limit file (CSV); repeat for several quarters."),
        click.option("--crosswalk-file", type=_FILE, multiple=True, help="CMS ASP NDC-HCPCS crosswalk (CSV)."),
        click.option("--mue-file", type=_FILE, multiple=True, help="CMS MUE table (practitioner and/or outpatient hospital CSV)."),
        click.option("--fee-schedule", type=_FILE, multiple=True, help="Contract fee schedule CSV (payer, hcpcs, rate_per_unit, effective_from, effective_to)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _editor(**options) -> Editor:
    try:
        return Editor(**options)
    except (SpecError, EngineUnavailable, FileNotFoundError, ReferenceFileError, HistoryError) as exc:
        raise click.UsageError(str(exc)) from None


def _results(editor: Editor, items: Iterable, as_of=None) -> Iterator[Result]:
    for item in items:
        if isinstance(item, Unreadable):
            yield Result(None, None, error=item.message)
        else:
            yield from editor.check_many([item], as_of=as_of)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ndjson"]), default="table", show_default=True)
@reference_options
@click.option("--history", type=click.Path(dir_okay=False, path_type=Path), help="SQLite claim history (created if absent) for FREQUENCY and unit-limit edits.")
@click.option(
    "--fail-on",
    type=click.Choice([*FAIL_LEVELS, "never"]),
    default="deny",
    show_default=True,
    help="Exit 1 when a finding is this severe or more (or a claim cannot be checked); 'never' always exits 0.",
)
@click.option("--input-format", type=click.Choice(["auto", *INPUT_FORMATS]), default="auto", show_default=True,
              help="Force the input format instead of detecting it.")
@click.option("--overrides", type=_FILE, help="Suppressions and severity overrides (TOML or YAML); see docs/overrides.md.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), help="Choose rules by this processing date instead of each line's date of service.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def check(files, fmt, fail_on, quiet, input_format, as_of, **options) -> None:
    """Check the claims in FILES (JSON, a JSON list, or NDJSON; a directory; - for stdin)."""
    for name in files:
        if name != "-" and not Path(name).exists():
            raise click.UsageError(f"no such file or directory: {name}")
    editor = _editor(**options)
    out = _console()
    err = Console(stderr=True)
    blocking = False
    collected: list[Result] = []
    progress = Progress(
        TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet or not err.is_terminal, transient=True,
    )
    with progress:
        task = progress.add_task("claims", total=None)
        claims = read_paths(files, None if input_format == "auto" else input_format)
        for result in _results(editor, claims, as_of.date() if as_of else None):
            blocking = blocking or _fails(result, fail_on)
            progress.advance(task)
            if fmt == "ndjson":
                sys.stdout.write(json.dumps(result_to_dict(result)) + "\n")
            else:
                collected.append(result)
    if fmt == "json":
        sys.stdout.write(json.dumps([result_to_dict(r) for r in collected], indent=2) + "\n")
    elif fmt == "table":
        out.print(results_table(collected))
        _summary(out, collected)
    sys.exit(EXIT_BLOCKING if blocking else EXIT_CLEAN)


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


def _summary(console: Console, results: list[Result]) -> None:
    errors = sum(r.error is not None for r in results)
    blocking = sum(r.blocking for r in results)
    clean = sum(r.error is None and all(f.severity == "info" for f in r.findings) for r in results)
    console.print(f"{len(results)} claims: {clean} clean (notes only), {blocking} blocking, {errors} not checked")


@main.command()
def plugins() -> None:
    """List the loaded plugins and the payers they serve."""
    editor = _editor()
    console = _console()
    table = Table("Plugin", "Version", "Hooks", title="Plugins")
    for info in editor.registry.plugins():
        table.add_row(info.name, info.version or "-", ", ".join(info.hooks) or "(failed to load)")
    console.print(table)
    payers = Table("Payer", "Name", "Plugin", "Policy", "Rulesets", title="Payers")
    for name, payer in sorted(editor.payers.items()):
        specs = ", ".join(f"{s.name} {s.version}" for s in editor.policies[name].specs)
        policy = "sourced" if payer.policy_sourced else "not provided"
        payers.add_row(name, payer.display_name, editor.registry.payer_plugins[name], policy, specs)
    console.print(payers)
    for failure in editor.registry.failures:
        console.print(f"[red]plugin {failure.plugin} failed while {failure.stage}: {failure.error}[/red]")


@main.group()
def refdata() -> None:
    """Reference data: what is bundled and what the given files hold."""


@refdata.command("show")
@reference_options
def refdata_show(**options) -> None:
    """Show the bundled reference data and the J9330 rows of the given files."""
    from j9330_rules.refdata_view import reference_tables

    console = _console()
    for table in reference_tables(_editor(**options).reference):
        console.print(table)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write the report to FILE instead of standard output.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), help="The date whose policy and prices the report shows (YYYY-MM-DD; default today).")
@reference_options
def report(fmt, out, as_of, **options) -> None:
    """The national overview of J9330 across payers, from the loaded plugins, with sources."""
    import datetime as dt

    from j9330_rules.report import render, summarise

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
