"""JSON claims: one object, a list of objects, or NDJSON (one object per line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from j9330_rules.readers.base import JSON_ERRORS, Unreadable, decode, first_line_parses, json_problem


def read_json(stream: TextIO, label: str) -> Iterator[Any]:
    text = stream.read()
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except JSON_ERRORS as exc:
            if not first_line_parses(stripped):
                # One broken document is one unreadable input, not one per line.
                yield Unreadable(f"{label}: not valid JSON ({json_problem(exc)})")
                return
        else:
            if isinstance(document, list):
                yield from document
            else:
                yield document
            return
    yield from read_ndjson_lines(text.splitlines(), label)


def read_ndjson_lines(lines: Iterable[str | bytes], label: str) -> Iterator[Any]:
    """One claim per line, as the lines arrive: memory is one line, however long the file.
    A line of bytes is decoded on its own, so one bad byte costs at most its line."""
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            line = decode(line)
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except JSON_ERRORS as exc:
            yield Unreadable(f"{label} line {number}: not valid JSON ({json_problem(exc, line=False)})")
