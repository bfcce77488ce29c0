"""Human-facing views of results: the rich terminal table and Jupyter HTML."""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.table import Table

from j9330_rules.writers.rows import CLEAN, result_rows, text_row

if TYPE_CHECKING:
    from j9330_rules.model import Result

_STYLE = {"reject": "bold red", "deny": "red", "review": "yellow", "warn": "magenta", "info": "dim"}
_COLUMNS = ("Claim", "Line", "Code", "Severity", "CARC/RARC", "Message")


def _adjustment(carc: str | None, rarc: str | None) -> str:
    return " / ".join(code for code in (carc, rarc) if code) or "-"


def _rows(result: Result) -> Iterable[tuple[str, str, str, str, str, str]]:
    """The table's cells, projected from the one set of finding rows (writers/rows.py)."""
    for row in result_rows(result):
        cells = text_row(row)
        message = cells["message"] or ("no findings" if cells["code"] == CLEAN else "")
        adjustment = _adjustment(row["carc"], row["rarc"])
        yield cells["claim_id"] or "(no id)", cells["line"], cells["code"], cells["severity"], adjustment, message


def results_table(results: Iterable[Result]) -> Table:
    table = Table(header_style="bold")
    for name in _COLUMNS:
        wraps = name == "Message"
        table.add_column(name, no_wrap=not wraps, overflow="fold", ratio=1 if wraps else None)
    for result in results:
        for row in _rows(result):
            severity = row[3]
            table.add_row(*row, style=_STYLE.get(severity, "bold red" if severity == "error" else None))
    return table


def result_html(results: Iterable[Result]) -> str:
    """An HTML table (one row per finding) for notebooks."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in _COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for result in results
        for row in _rows(result)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
