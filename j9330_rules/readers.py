"""Reading claims from files and streams: JSON (one claim or a list) or NDJSON.

Readers yield one item per claim, in order. Input that cannot be parsed
yields an :class:`Unreadable` in its place, so that every claim still gets
exactly one result.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from attrs import define

STDIN = "-"


@define(frozen=True)
class Unreadable:
    """Input that is not a claim; ``message`` says where and why, without its content."""

    message: str


def read_paths(paths: Iterable[str]) -> Iterator[Any]:
    """Claims from each path in turn; a directory contributes its *.json and *.ndjson files."""
    for name in paths:
        if name == STDIN:
            yield from read_stream(sys.stdin, "<stdin>")
            continue
        path = Path(name)
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".ndjson")) if path.is_dir() else [path]
        for file in files:
            try:
                with file.open(encoding="utf-8") as stream:
                    yield from read_stream(stream, str(file))
            except (OSError, UnicodeDecodeError) as exc:
                yield Unreadable(f"{file}: cannot read ({type(exc).__name__})")


def read_stream(stream: TextIO, label: str) -> Iterator[Any]:
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
