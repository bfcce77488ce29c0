"""The terminal view of results, for billing staff: claims that need attention first.

Findings are grouped by claim, and the claims most in need of attention (blocking, not
checked, review, warn, notes, accepted) come first. Notes that hold for the whole run, such
as "the MUE table is not loaded", are said once, above the claims, not on every line;
the machine formats keep every finding. Memory stays bounded: only the ``max_claims``
claims shown are held, and ``max_claims=0`` streams every claim in input order instead.

Claim-derived text reaches rich only as :class:`rich.text.Text`, never as markup, so a
claim id like ``CLM[bold]42[/bold]`` is shown as written.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from j9330_rules.model.disposition import SEVERITIES
from j9330_rules.model.tally import OUTCOMES, Tally, outcome
from j9330_rules.writers.rows import encodable

if TYPE_CHECKING:
    from j9330_rules.model import Finding, Result

#: Info findings that say the same thing about the run on every claim (missing reference data,
#: a payer with no sourced policy): shown once in the notes, with how many claims they touch.
RUN_NOTE_CODES = frozenset({"REFERENCE_DATA_MISSING", "PAYER_POLICY_NOT_PROVIDED"})

SEVERITY_STYLE = {
    "reject": "bold red",
    "deny": "red",
    "review": "yellow",
    "warn": "magenta",
    "info": "dim",
    "error": "bold red",
}
OUTCOME_STYLE = {
    "blocking": "bold red",
    "not checked": "bold red",
    "review": "yellow",
    "warn": "magenta",
    "notes only": "",
    "accept": "green",
}
_LINE_PREFIX = re.compile(r"Line (\d+): ")


def person_message(finding: Finding) -> str:
    """The message without a leading "Line N: " that repeats the finding's own line
    (a third-party spec may still write one)."""
    match = _LINE_PREFIX.match(finding.message)
    if match is None or match.group(1) != str(finding.line):
        return finding.message
    rest = finding.message[match.end() :]
    return rest[:1].upper() + rest[1:]


def _shown(finding: Finding, min_severity: str) -> bool:
    return SEVERITIES.index(finding.severity) <= SEVERITIES.index(min_severity)


def _adjustment(finding: Finding) -> str:
    codes = [f"CARC {finding.carc}" if finding.carc else "", f"RARC {finding.rarc}" if finding.rarc else ""]
    return " · ".join(code for code in codes if code)


def claim_block(result: Result, findings: list[Finding]) -> Table:
    """One claim: a heading (id, payer, outcome), then each finding, worst first."""
    heading = Text.assemble(
        (encodable(result.claim_id or "(no id)"), "bold"),
        "  ",
        (encodable(result.payer or "no payer"), "cyan"),
        "  ",
        (outcome(result), OUTCOME_STYLE[outcome(result)]),
    )
    if result.error is None and result.disposition != "accept":
        heading.append(f" ({result.disposition.replace('_', ' ')})", "dim")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1)
    grid.add_column(no_wrap=True, min_width=6)
    grid.add_column(ratio=1, overflow="fold")
    if result.error is not None:
        grid.add_row("", Text("error", SEVERITY_STYLE["error"]), Text(encodable(result.error)))
    for finding in findings:
        head = Text(finding.code, "bold")
        if finding.line is not None:
            head.append(f"  line {finding.line}", "dim")
        adjustment = _adjustment(finding)
        if adjustment:
            head.append(f"  {adjustment}", "dim")
        grid.add_row(
            "",
            Text(finding.severity, SEVERITY_STYLE[finding.severity]),
            Text.assemble(head, "\n", encodable(person_message(finding))),
        )
    if result.error is None and not findings:
        grid.add_row("", "", Text("no findings" if not result.findings else "only notes for the whole run", "dim"))
    return _stack(heading, grid)


def _stack(heading: Text, grid: Table) -> Table:
    stack = Table.grid()
    stack.add_column()
    stack.add_row(heading)
    stack.add_row(grid)
    return stack


class TrimmedLines:
    """A text stream that drops the spaces rich pads lines with, for files and pipes."""

    def __init__(self, stream):
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            self._stream.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._pending)
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False


class TableWriter:
    """Feed it results with :meth:`add`; :meth:`close` prints what is held and the notes.

    ``min_severity`` hides findings below it (and claims left with nothing to show);
    ``notes`` are run-wide lines the caller knows (code files not loaded, say).
    """

    def __init__(
        self, console: Console, *, min_severity: str = "info", max_claims: int = 50, notes: Iterable[str] = ()
    ):
        if min_severity not in SEVERITIES:
            raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}, not {min_severity!r}")
        self.console = console
        self.min_severity = min_severity
        self.max_claims = max_claims
        self.notes = list(notes)
        self.run_notes: Counter[tuple[str, str]] = Counter()  # (code, message) -> claims
        self._held: list[tuple[int, int, Result]] = []  # a max-heap of (-rank, -position)
        self._seen = 0
        self._shown = 0
        self._hidden_by_severity = 0
        self._outcomes_not_shown: Counter[str] = Counter()

    def add(self, result: Result) -> Result:
        position = self._seen
        self._seen += 1
        for key in {(f.code, person_message(f)) for f in result.findings if self._is_run_note(f)}:
            self.run_notes[key] += 1
        if not self._visible(result):
            self._hidden_by_severity += 1
            return result
        if self.max_claims == 0:
            self._print(result)
            return result
        rank = OUTCOMES.index(outcome(result))
        item = (-rank, -position, result)
        if len(self._held) < self.max_claims:
            heapq.heappush(self._held, item)
        else:
            dropped = heapq.heappushpop(self._held, item)
            self._outcomes_not_shown[outcome(dropped[2])] += 1
        return result

    def close(self) -> None:
        if not self._seen:
            return  # no claims: the caller says so; notes about reference data would only bury it
        self._print_notes()
        for _, _, result in sorted(self._held, key=lambda item: (-item[0], -item[1])):  # none when streaming
            self._print(result)
        self._print_footer()

    # -- parts ----------------------------------------------------------------------------------

    def _is_run_note(self, finding: Finding) -> bool:
        return finding.severity == "info" and finding.code in RUN_NOTE_CODES

    def _findings(self, result: Result) -> list[Finding]:
        kept = [f for f in result.findings if _shown(f, self.min_severity) and not self._is_run_note(f)]
        return sorted(kept, key=lambda f: (SEVERITIES.index(f.severity), f.line or 0))

    def _visible(self, result: Result) -> bool:
        if result.error is not None:
            return True
        if self.min_severity == "info":
            return True
        return any(_shown(f, self.min_severity) for f in result.findings)

    def _print(self, result: Result) -> None:
        self._shown += 1
        self.console.print(claim_block(result, self._findings(result)))
        self.console.print()

    def _print_notes(self) -> None:
        if not self.notes and not self.run_notes:
            return
        notes = Table.grid(padding=(0, 1))
        notes.add_column(width=1)
        notes.add_column(ratio=1, overflow="fold")
        for (code, message), claims in sorted(self.run_notes.items(), key=lambda item: (-item[1], item[0])):
            noun = "claim" if claims == 1 else "claims"
            notes.add_row("•", Text.assemble(message, (f" ({claims:,} {noun}, {code})", "dim")))
        for note in self.notes:
            notes.add_row("•", Text(note[:1].upper() + note[1:]))
        self.console.print(Text("Notes for the whole run", "bold"))
        self.console.print(notes)
        self.console.print()

    def _print_footer(self) -> None:
        hidden = sum(self._outcomes_not_shown.values())
        if hidden:
            parts = ", ".join(
                f"{self._outcomes_not_shown[name]:,} {name}" for name in OUTCOMES if self._outcomes_not_shown[name]
            )
            self.console.print(
                Text(
                    f"Showing {self._shown:,} of {self._seen:,} claims, those that need attention first; "
                    f"not shown: {parts}. --max-claims 0 shows every claim; --format csv -o FILE writes every finding.",
                    "dim",
                )
            )
        if self._hidden_by_severity:
            noun = "claim has" if self._hidden_by_severity == 1 else "claims have"
            self.console.print(
                Text(f"{self._hidden_by_severity:,} {noun} nothing at or above {self.min_severity}: not shown.", "dim")
            )


def statistics_tables(counts: Tally) -> list[Table]:
    """``--statistics``: findings by code (worst first) and claims and findings by payer."""
    codes = Table("Code", "Severity", "Findings", title="Findings by code", title_justify="left")
    for code, severity, n in counts.codes():
        codes.add_row(Text(code), Text(severity, SEVERITY_STYLE[severity]), f"{n:,}")
    payers = Table("Payer", "Claims", "Findings", title="By payer", title_justify="left")
    for payer, claims, findings in counts.payers():
        payers.add_row(Text(payer), f"{claims:,}", f"{findings:,}")
    return [codes, payers]
