"""CSV claims: one row per claim line, in the flat layout of :mod:`j9330_rules.readers.flat`.

The details (how it works, and why) are in docs/internals.md, "The CSV reader".
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any, TextIO

from j9330_rules.readers.base import Source, Unreadable, pieces
from j9330_rules.readers.flat import claims_from_rows

CLAIM_ID = "claim_id"


def read_csv(stream: TextIO, label: str) -> Iterator[Any]:
    """Claims (JSON-contract dicts) or :class:`Unreadable`, one per claim, in file order.

    Rows are read as they come and a claim is given as soon as the next claim's row (or the end)
    is read, so memory is the largest claim's rows, however long the file: a claim's rows are
    adjacent (the layout's rule), and a claim id seen again later starts another claim."""
    records = _records(csv_lines(Source.of(stream)))
    try:
        first = next(records)
    except StopIteration:
        yield Unreadable(f"{label}: no header row")
        return
    except csv.Error as exc:
        yield Unreadable(f"{label} row 1: not valid CSV ({_reason(exc)})")
        return
    header = [name.strip() for name in first[1]]
    problem = _header_problem(header)
    if problem:
        yield Unreadable(f"{label} row 1: {problem}")
        return
    position = header.index(CLAIM_ID)
    group: list[tuple[int, list[str]]] = []
    group_id: Any = object()
    last = 1
    while True:
        try:
            number, cells = next(records)
        except StopIteration:
            break
        except csv.Error as exc:
            # The csv module cannot go on past a broken record, and the broken record may be a
            # line of the claim being gathered: that claim and the rest of the file are one error.
            start = group[0][0] if group else last + 1
            yield Unreadable(
                f"{label} row {last + 1}: not valid CSV ({_reason(exc)}); nothing from row {start} on was read"
            )
            return
        last = number
        claim_id = cells[position] if position < len(cells) else None
        if group and claim_id != group_id:
            yield _claim(label, header, group)
            group = []
        group_id = claim_id
        group.append((number, cells))
    if group:
        yield _claim(label, header, group)


def looks_like_csv(head: str) -> bool:
    """True when the first line of ``head`` that is not blank is a CSV header naming
    ``claim_id`` and ``hcpcs`` (blank lines are not rows, as the reader counts them)."""
    first = head.lstrip("\ufeff \t\r\n").split("\n", 1)[0]
    try:
        names = next(csv.reader([first]), [])
    except csv.Error:
        return False
    return {CLAIM_ID, "hcpcs"} <= {name.strip() for name in names}


#: A carriage return that does not end a CRLF: a line end of its own, as ``newline=""`` reads it.
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


def csv_lines(source: Source) -> Iterator[str]:
    """The stream's lines with their line ends, as a file opened with ``newline=""`` gives them
    to the csv module (CRLF, LF and a lone CR each end a line), each decoded on its own: one bad
    byte costs its row, and memory is one line."""
    for piece in pieces(source, "\n"):
        if "\r" in piece[:-1]:
            yield from (part for part in _LONE_CR.split(piece) if part)
        else:
            yield piece


def _records(lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records, numbered from 1."""
    number = 0
    for cells in csv.reader(lines, strict=True):
        if not cells or all(not cell.strip() for cell in cells):
            continue
        number += 1
        yield number, cells


def _header_problem(header: list[str]) -> str | None:
    if CLAIM_ID not in header:
        return f"the header has no {CLAIM_ID} column"
    if any(not name for name in header):
        return f"header column {header.index('') + 1} has no name"
    seen: dict[str, int] = {}
    for column, name in enumerate(header, start=1):
        if name in seen:
            return f"header columns {seen[name]} and {column} have the same name"
        seen[name] = column
    return None


def _claim(label: str, header: list[str], group: list[tuple[int, list[str]]]) -> Any:
    bad = [(number, len(cells)) for number, cells in group if len(cells) != len(header)]
    if bad:
        rows = ", ".join(f"row {number} has {count}" for number, count in bad)
        return Unreadable(f"{label}: the header has {len(header)} columns but {rows} cells")
    rows = [dict(zip(header, cells)) for _number, cells in group]
    (claim,) = claims_from_rows(rows)
    return claim


def _reason(exc: csv.Error) -> str:
    # The csv module's messages describe the syntax ("unexpected end of data"), never a cell.
    return str(exc).split("\n", 1)[0][:120]
