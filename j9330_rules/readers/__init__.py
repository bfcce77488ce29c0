"""Readers: claims from files and streams, one item per claim, in order.

Every reader produces claims in the JSON contract (dicts), so every format
goes through the same converter and the same rules. A claim that cannot be
read yields an :class:`Unreadable` in its place, so every claim still gets
exactly one result. ``FORMATS`` maps a format name to its reader; ``detect``
chooses one from a file's first bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from j9330_rules.readers.base import Unreadable
from j9330_rules.readers.csv_lines import looks_like_csv, read_csv

# fhir.resources is optional: the module guards its import, detects FHIR without it,
# and its reader then says what to install instead of reading.
from j9330_rules.readers.fhir import read_fhir, resource_type
from j9330_rules.readers.json_lines import read_json

STDIN = "-"
Reader = Callable[[TextIO, str], Iterator[Any]]

#: The formats the CLI offers (``--input-format``).
INPUT_FORMATS = ("json", "csv", "x12", "fhir")
#: Format name → reader(stream, label). Each reader module is added here.
FORMATS: dict[str, Reader] = {"json": read_json, "csv": read_csv, "fhir": read_fhir}
try:  # pyx12 is optional: without it --input-format x12 says the reader is not available
    from j9330_rules.readers.x12 import read_x12
except ImportError:
    pass
else:
    FORMATS["x12"] = read_x12
#: File suffixes a directory contributes.
SUFFIXES = {".json", ".ndjson", ".jsonl", ".csv", ".x12", ".edi", ".837"}


def detect(head: str) -> str:
    """The format of a text from its first characters (JSON and NDJSON are one format).

    X12: text starting with ``ISA``. FHIR: JSON whose first object's ``resourceType`` is Claim
    or Bundle. CSV: a first line that is a header naming ``claim_id`` and ``hcpcs``. Anything
    else is read as JSON.
    """
    if head.lstrip().startswith("ISA"):
        return "x12"
    if resource_type(head) in ("Claim", "Bundle"):
        return "fhir"
    if looks_like_csv(head):
        return "csv"
    return "json"


def read_stream(stream: TextIO, label: str, fmt: str | None = None) -> Iterator[Any]:
    text = stream.read()
    name = fmt or detect(text[:4096])
    reader = FORMATS.get(name)
    if reader is None:
        yield Unreadable(f"{label}: the {name} reader is not available in this installation")
        return
    yield from reader(_Text(text), label)


class _Text:
    """A read-once stream over text already read (detection needs the head)."""

    def __init__(self, text: str):
        self._text = text

    def read(self) -> str:
        return self._text


def read_paths(paths: Iterable[str], fmt: str | None = None) -> Iterator[Any]:
    """Claims from each path in turn; a directory contributes its claim files, sorted by name."""
    for name in paths:
        if name == STDIN:
            yield from read_stream(sys.stdin, "<stdin>", fmt)
            continue
        path = Path(name)
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES) if path.is_dir() else [path]
        for file in files:
            try:
                with file.open(encoding="utf-8") as stream:
                    yield from read_stream(stream, str(file), fmt)
            except (OSError, UnicodeDecodeError) as exc:
                yield Unreadable(f"{file}: cannot read ({type(exc).__name__})")


__all__ = ["FORMATS", "INPUT_FORMATS", "STDIN", "Unreadable", "detect", "read_paths", "read_stream"]
