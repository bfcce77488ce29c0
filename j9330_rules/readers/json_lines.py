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
            if not first_line_parses(stripped) and not is_ndjson(stripped):
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


#: How many lines after the first :func:`is_ndjson` looks at.
SAMPLE_LINES = 20


def is_ndjson(text: str) -> bool:
    """NDJSON, even when its first line is broken: the first line, or one of the next
    :data:`SAMPLE_LINES`, is a JSON object on its own (no line of a pretty-printed document is).
    So a bad first record costs that record, not the file."""
    for line in text.split("\n", SAMPLE_LINES + 1)[: SAMPLE_LINES + 1]:
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                if isinstance(json.loads(line), dict):
                    return True
            except JSON_ERRORS:
                continue
    return False


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
