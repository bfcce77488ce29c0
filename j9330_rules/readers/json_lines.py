"""JSON claims: one object, a list of objects, or NDJSON (one object per line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from j9330_rules.readers.base import JSON_ERRORS, Source, Unreadable, decode, first_line_parses, json_problem, lines

#: How many lines after the first :func:`is_ndjson` looks at.
SAMPLE_LINES = 20


def read_json(stream: TextIO, label: str) -> Iterator[Any]:
    """NDJSON is read line by line as it arrives (memory: one line); a JSON document (an
    object spread over lines, a list) is one record and is read whole."""
    source = Source.of(stream)
    stripped = source.head_text(SAMPLE_LINES + 1).lstrip()
    if stripped.startswith("[") or (stripped.startswith("{") and not starts_ndjson(stripped)):
        yield from _document(source.read_text(), label)
        return
    yield from read_ndjson_lines(lines(source), label)


def _document(text: str, label: str) -> Iterator[Any]:
    stripped = text.lstrip()
    try:
        document = json.loads(text)
    except JSON_ERRORS as exc:
        if not first_line_parses(stripped) and not is_ndjson(stripped):
            # One broken document is one unreadable input, not one per line.
            yield Unreadable(f"{label}: not valid JSON ({json_problem(exc)})")
            return
        yield from read_ndjson_lines(text.split("\n"), label)
        return
    if isinstance(document, list):
        yield from document
    else:
        yield document


def starts_ndjson(head: str) -> bool:
    """Does a head that starts with ``{`` start NDJSON: is its first line a whole JSON value, or
    (that line broken) one of the next lines a JSON object of its own? A pretty-printed document
    is not: its first line is not complete and its inner lines are indented."""
    return "\n" in head.rstrip() and (first_line_parses(head) or is_ndjson(head))


def is_ndjson(text: str) -> bool:
    """NDJSON, even when its first line is broken: the first line, or one of the next
    :data:`SAMPLE_LINES`, is a JSON object on its own, not indented (no line of a
    pretty-printed document is). So a bad first record costs that record, not the file."""
    for line in text.lstrip().split("\n", SAMPLE_LINES + 1)[: SAMPLE_LINES + 1]:
        line = line.rstrip()
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
