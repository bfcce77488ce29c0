"""JSON claims: one object, a list of objects, or NDJSON (one object per line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from j9330_rules.readers.base import JSON_ERRORS, Unreadable, first_line_parses, json_problem


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
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except JSON_ERRORS as exc:
            yield Unreadable(f"{label} line {number}: not valid JSON ({json_problem(exc, line=False)})")
