"""One row per finding: the flat view the CSV writer, the table, the notebook and Spark share.

A claim without findings is one row whose ``code`` is None; a claim that could not be checked
is one row holding its ``error``. Every view projects these rows, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from j9330_rules.model import Result

#: The columns of a finding row, in order (``Results.to_pandas()`` and Spark's schema).
FINDING_COLUMNS = (
    "claim_id",
    "payer",
    "line",
    "code",
    "severity",
    "carc",
    "rarc",
    "message",
    "rule_id",
    "source",
    "disposition",
    "line_disposition",
    "error",
)
#: The code the text views show for a claim without findings, and for one that was not checked.
CLEAN, ERROR = "CLEAN", "ERROR"


def result_rows(result: Result) -> Iterator[dict[str, Any]]:
    """The rows of one result, in :data:`FINDING_COLUMNS`; None where a value is absent."""
    base = dict.fromkeys(FINDING_COLUMNS)
    base.update(claim_id=result.claim_id, payer=result.payer, disposition=result.disposition, error=result.error)
    if result.error is not None or not result.findings:
        yield base
        return
    lines = result.line_dispositions
    for finding in result.findings:
        yield {
            **base,
            "line": finding.line,
            "code": finding.code,
            "severity": finding.severity,
            "carc": finding.carc,
            "rarc": finding.rarc,
            "message": finding.message,
            "rule_id": finding.rule_id,
            "source": finding.source,
            "line_disposition": None if finding.line is None else lines.get(finding.line),
        }


def finding_rows(results: Iterable[Result]) -> Iterator[dict[str, Any]]:
    """:func:`result_rows` of every result, in order."""
    for result in results:
        yield from result_rows(result)


def text_row(row: dict[str, Any]) -> dict[str, str]:
    """A row as the text views show it: CLEAN or ERROR for a claim-level row, "" for absent."""
    cells = {name: "" if value is None else str(value) for name, value in row.items()}
    if row["error"] is not None:
        cells.update(code=ERROR, severity="error", message=row["error"])
    elif row["code"] is None:
        cells["code"] = CLEAN
    return cells


#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def encodable(text: str) -> str:
    """The text, with any lone surrogate (valid in JSON, not in UTF-8) written as ``\\udXXX``,
    so one odd claim id cannot stop a writer and lose every later result."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``'`` before a formula character."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
