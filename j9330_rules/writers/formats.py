"""Writers: a stream of Results → JSON, NDJSON, CSV or an X12-friendly summary.

Every machine-readable output of ``j9330-rules check`` goes through here, so
a result is serialised in one place (:func:`j9330_rules.writers.serialise.result_to_dict`
for the JSON forms). Each writer takes an iterable of results and a text
stream and returns the number of results written. NDJSON, CSV and the X12
summary write each result as it arrives (a result reaches the output before
the next claim is checked). JSON is one list, written element by element, so
it streams too and its memory does not grow with the batch.

The X12 summary maps each finding to an 835-style claim adjustment: a group
code, the finding's CARC, and its RARC as a remark. The group code comes
from the finding's severity, through :data:`SEVERITY_GROUP` (the one place
that mapping is decided; the reasons are beside it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

from j9330_rules.model import Finding, Result
from j9330_rules.writers.rows import ERROR, encodable, result_rows, spreadsheet_safe, text_row
from j9330_rules.writers.serialise import result_to_dict

#: The CARC group code each severity takes in the X12 summary.
#:
#: X12 claim adjustment group codes are CO (contractual obligation: the
#: provider is liable and may not bill the patient), PR (patient
#: responsibility), OA (other adjustment: neither CO nor PR applies) and PI
#: (payer-initiated reduction, used where no contract assigns liability).
#:
#: - ``reject`` and ``deny`` → CO. Every edit in the catalogue is a billing
#:   error (units, waste, modifiers, NDC, diagnosis, setting, authorization):
#:   the provider corrects or absorbs it, and under a participation agreement
#:   or Medicare assignment the patient cannot be billed for it.
#: - PR is never used: no edit makes the patient liable (that would take an
#:   ABN or a cost-share amount, which this product does not assess).
#: - PI is not used: it means "no contract decides liability", which the
#:   product cannot know; CO is what Medicare and most contracts use for
#:   these CARCs, and a claim editor can remap CO to PI per payer.
#: - ``review`` → OA: the claim is held for a person to decide, so liability is
#:   not yet assigned; OA marks a provisional adjustment the reviewer's
#:   outcome replaces (CO if upheld, none if paid).
#: - ``warn`` and ``info`` → None (no adjustment): the line is payable as
#:   billed (disposition ``accept``), and a CAS segment with nothing adjusted
#:   would misstate the remittance. Their RARCs are still listed as remarks.
SEVERITY_GROUP: dict[str, str | None] = {
    "reject": "CO",
    "deny": "CO",
    "review": "OA",
    "warn": None,
    "info": None,
}

CSV_COLUMNS = ("claim_id", "payer", "line", "code", "severity", "carc", "rarc", "message", "rule_id", "source")
X12_COLUMNS = ("claim_id", "payer", "level", "line", "disposition", "adjustments", "remarks", "edits", "error")
_SEPARATOR = ";"

Writer = Callable[[Iterable[Result], TextIO], int]


def write_json(results: Iterable[Result], out: TextIO) -> int:
    """One JSON list of result objects, indented, each written as it arrives.

    The text is exactly ``json.dumps(list_of_dicts, indent=2)``: each element is
    dumped alone and shifted one level in (JSON escapes newlines inside strings,
    so every newline in the dump is layout).
    """
    count = 0
    for result in results:
        text = json.dumps(result_to_dict(result), indent=2).replace("\n", "\n  ")
        out.write(("[\n  " if count == 0 else ",\n  ") + text)
        count += 1
    out.write("\n]\n" if count else "[]\n")
    return count


def write_ndjson(results: Iterable[Result], out: TextIO) -> int:
    """One JSON object per line, per result, as each arrives."""
    count = 0
    for result in results:
        out.write(json.dumps(result_to_dict(result)) + "\n")
        count += 1
    return count


def csv_rows(result: Result) -> Iterator[dict[str, str]]:
    """The CSV rows of one result: its finding rows (writers/rows.py) in :data:`CSV_COLUMNS`."""
    for row in result_rows(result):
        cells = text_row(row)
        yield {column: cells[column] for column in CSV_COLUMNS}


def write_csv(results: Iterable[Result], out: TextIO) -> int:
    """A header, then :func:`csv_rows` for each result as it arrives."""
    return _write_rows(results, out, CSV_COLUMNS, csv_rows)


def adjustment(finding: Finding) -> str | None:
    """The finding's 835-style adjustment, e.g. ``CO-16``; None when it adjusts nothing.

    None for a severity whose group is None, and for a finding without a CARC (an
    adjustment needs a reason code).
    """
    group = SEVERITY_GROUP[finding.severity]
    if group is None or not finding.carc:
        return None
    return f"{group}-{finding.carc}"


def x12_rows(result: Result) -> Iterator[dict[str, str]]:
    """The summary rows of one result.

    A claim-level row (``level`` claim, as in loop 2100 of an 835) for the findings
    without a line, then one row per line with findings (``level`` line, loop 2110),
    in line order. Each row lists its findings' adjustments and remarks once each,
    in finding order: an 835 reports a group/reason pair once per claim or service
    line, and two findings with the same pair are one adjustment. A claim that could
    not be checked is one claim-level row with ``edits`` ERROR and the error; a
    claim without findings has no rows.
    """
    base = {"claim_id": result.claim_id or "", "payer": result.payer or ""}
    if result.error is not None:
        yield _x12_row(base, level="claim", disposition=result.disposition, edits=ERROR, error=result.error)
        return
    by_line: dict[int | None, list[Finding]] = {}
    for finding in result.findings:
        by_line.setdefault(finding.line, []).append(finding)
    line_dispositions = result.line_dispositions
    for line in sorted(by_line, key=lambda number: -1 if number is None else number):
        findings = by_line[line]
        if line is None:
            disposition = result.disposition
        else:
            disposition = line_dispositions.get(line) or _line_disposition(result, line)
        yield _x12_row(
            base,
            level="claim" if line is None else "line",
            line=_line(line),
            disposition=disposition,
            adjustments=_joined(adjustment(f) for f in findings),
            remarks=_joined(f.rarc for f in findings),
            edits=_joined(f.code for f in findings),
        )


def write_x12_summary(results: Iterable[Result], out: TextIO) -> int:
    """A CSV header, then :func:`x12_rows` for each result as it arrives."""
    return _write_rows(results, out, X12_COLUMNS, x12_rows)


#: Format name (as ``check --format`` spells it) → writer.
WRITERS: dict[str, Writer] = {
    "json": write_json,
    "ndjson": write_ndjson,
    "csv": write_csv,
    "x12-summary": write_x12_summary,
}


def write(fmt: str, results: Iterable[Result], out: TextIO) -> int:
    """Write ``results`` to ``out`` in ``fmt`` (a key of :data:`WRITERS`)."""
    try:
        writer = WRITERS[fmt]
    except KeyError:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(WRITERS)}") from None
    return writer(results, out)


def _write_rows(results, out, columns, rows_of) -> int:
    """CSV rows whose every cell is encodable and shows as text in a spreadsheet (claim ids
    come from the input: ``=HYPERLINK(...)`` must not become a formula)."""
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for result in results:
        writer.writerows(
            {column: spreadsheet_safe(encodable(cell)) for column, cell in row.items()} for row in rows_of(result)
        )
        count += 1
    return count


def _x12_row(base: dict[str, str], **cells: str) -> dict[str, str]:
    return {column: "" for column in X12_COLUMNS} | base | cells


def _line(line: int | None) -> str:
    return "" if line is None else str(line)


def _joined(values: Iterable[str | None]) -> str:
    """The values that are set, each once, in order."""
    return _SEPARATOR.join(dict.fromkeys(value for value in values if value))


def _line_disposition(result: Result, line: int) -> str:
    """A finding on a line the result does not list (not expected): judge it alone."""
    from j9330_rules.model.disposition import line_dispositions

    return line_dispositions(result.findings, [line])[line]
