"""CSV claims: one row per claim line, in the flat layout of :mod:`j9330_rules.readers.flat`.

The details (how it works, and why) are in docs/internals.md, "The CSV reader".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, TextIO

from j9330_rules.readers.base import Unreadable
from j9330_rules.readers.flat import claims_from_rows

CLAIM_ID = "claim_id"


def read_csv(stream: TextIO, label: str) -> Iterator[Any]:
    """Claims (JSON-contract dicts) or :class:`Unreadable`, one per claim, in file order."""
    text = stream.read().lstrip("\ufeff")
    records = _records(text)
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
    """True when the first line of ``head`` is a CSV header naming ``claim_id`` and ``hcpcs``."""
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    try:
        names = next(csv.reader([first]), [])
    except csv.Error:
        return False
    return {CLAIM_ID, "hcpcs"} <= {name.strip() for name in names}


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records, numbered from 1."""
    number = 0
    for cells in csv.reader(io.StringIO(text, newline=""), strict=True):
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
