"""Results as HTML, for Jupyter: one row per finding, severities in colour, prose left-aligned.

Styling is by CSS classes (``j9330-sev-reject`` and so on) in one scoped ``<style>`` block, so a
notebook or a page can restyle it; every value is escaped, because claim text is not markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

from j9330_rules.model.tally import outcome
from j9330_rules.writers.rows import CLEAN, encodable, result_rows, text_row

if TYPE_CHECKING:
    from j9330_rules.model import Result

COLUMNS = ("Claim", "Payer", "Outcome", "Line", "Code", "Severity", "CARC/RARC", "Message")

#: Scoped to ``.j9330-results``; the colours match the terminal table's.
STYLE = """<style>
.j9330-results table { border-collapse: collapse; }
.j9330-results th, .j9330-results td { text-align: left; vertical-align: top; padding: 2px 8px; }
.j9330-results td.j9330-num { text-align: right; }
.j9330-results td.j9330-id { white-space: nowrap; }
.j9330-results .j9330-sev-reject, .j9330-results .j9330-sev-error { color: #b00020; font-weight: bold; }
.j9330-results .j9330-sev-deny { color: #b00020; }
.j9330-results .j9330-sev-review { color: #8a6d00; }
.j9330-results .j9330-sev-warn { color: #8e24aa; }
.j9330-results .j9330-sev-info { color: #666; }
.j9330-results .j9330-out-blocking, .j9330-results .j9330-out-not-checked { color: #b00020; font-weight: bold; }
.j9330-results .j9330-out-accept { color: #1b7a2f; }
</style>"""


def _cell(value: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{html.escape(encodable(value))}</td>"


def _class(prefix: str, name: str) -> str:
    return f"j9330-{prefix}-{name.replace(' ', '-')}" if name else ""


def result_table(results: Iterable[Result]) -> str:
    """The ``<table>`` of the results' finding rows (no style block: see :func:`results_html`)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
    body = []
    for result in results:
        claim_outcome = outcome(result)
        for row in result_rows(result):
            cells = text_row(row)
            message = cells["message"] or ("no findings" if cells["code"] == CLEAN else "")
            adjustment = " / ".join(code for code in (row["carc"], row["rarc"]) if code)
            body.append(
                "<tr>"
                + _cell(cells["claim_id"] or "(no id)", "j9330-id")
                + _cell(cells["payer"])
                + _cell(claim_outcome, _class("out", claim_outcome))
                + _cell(cells["line"], "j9330-num")
                + _cell(cells["code"], "j9330-id")
                + _cell(cells["severity"], _class("sev", cells["severity"]))
                + _cell(adjustment)
                + _cell(message)
                + "</tr>"
            )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def results_html(results: Iterable[Result], *, heading: str = "", note: str = "") -> str:
    """A self-contained block: the style, an optional bold heading, the table, a note."""
    top = f"<p><strong>{html.escape(heading)}</strong></p>" if heading else ""
    bottom = f"<p>{note}</p>" if note else ""
    return f'<div class="j9330-results">{STYLE}{top}{result_table(results)}{bottom}</div>'
