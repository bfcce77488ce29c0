"""JSON claims: one object, a list of objects, or NDJSON (one object per line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from j9330_rules.readers.base import Unreadable


def read_json(stream: TextIO, label: str) -> Iterator[Any]:
    text = stream.read()
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            if not _first_line_parses(stripped):
                # One broken document is one unreadable input, not one per line.
                yield Unreadable(f"{label}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
                return
        else:
            if isinstance(document, list):
                yield from document
            else:
                yield document
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            yield Unreadable(f"{label} line {number}: not valid JSON ({exc.msg} at column {exc.colno})")


def _first_line_parses(text: str) -> bool:
    try:
        json.loads(text.split("\n", 1)[0])
    except json.JSONDecodeError:
        return False
    return True
