"""Readers: claims from files and streams, one item per claim, in order.

Every reader produces claims in the JSON contract (dicts), so every format
goes through the same converter and the same rules. A claim that cannot be
read yields an :class:`Unreadable` in its place, so every claim still gets
exactly one result. ``FORMATS`` maps a format name to its reader; ``detect``
chooses one from a file's first bytes.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from j9330_rules.readers.base import Source, Unreadable, decode
from j9330_rules.readers.csv_lines import looks_like_csv, read_csv

# fhir.resources is optional: the module guards its import, detects FHIR without it,
# and its reader then says what to install instead of reading.
from j9330_rules.readers.fhir import fhir_ndjson, read_fhir, resource_type
from j9330_rules.readers.json_lines import is_ndjson, read_json

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
#: File suffixes a directory contributes (compared without case): JSON, CSV and the names
#: clearinghouses and practice systems give X12 837 files.
SUFFIXES = {".json", ".ndjson", ".jsonl", ".csv", ".x12", ".edi", ".837", ".837i", ".837p"}


def detect(head: str, suffix: str = "") -> str:
    """The format of a text from its first characters (JSON and NDJSON are one format).

    X12: text starting with ``ISA``. FHIR: JSON whose first object's ``resourceType`` is Claim
    or Bundle, or NDJSON of FHIR resources with a Claim or Bundle among its first lines (so a
    broken first line, or a Patient before the claims, does not make it another format). CSV: a
    first line that is a header naming ``claim_id`` and ``hcpcs``. Anything else is read as
    JSON, but a ``.csv`` file as CSV (so that a file of another layout is one error, not one per
    line). A byte-order mark is looked past.
    """
    head = head.lstrip("\ufeff")
    if head.lstrip().startswith("ISA"):
        return "x12"
    if resource_type(head) in ("Claim", "Bundle") or fhir_ndjson(head):
        return "fhir"
    if looks_like_csv(head) or suffix.lower() == ".csv":
        return "csv"
    return "json"


#: How much of a stream is read to choose its format before any claim is read.
HEAD_BYTES = 1 << 16


def read_stream(stream: TextIO | BinaryIO, label: str, fmt: str | None = None) -> Iterator[Any]:
    """Claims from a text or binary stream (bytes are decoded a record at a time, as
    :func:`decode` says, so one bad byte costs its record only).

    Every format but a JSON document (an object spread over lines, a list, a Bundle) is read as
    it arrives, one record at a time: memory stays at about the largest record.
    """
    head = stream.read(HEAD_BYTES)
    origin = None
    if not isinstance(head, str):
        try:
            origin = stream.tell() - len(head) if stream.seekable() else None
        except (AttributeError, OSError, ValueError):
            origin = None
    source = Source(stream, head, origin)
    name = fmt or detect(source.head_text(), Path(label).suffix)
    reader = FORMATS.get(name)
    if reader is None:
        yield Unreadable(f"{label}: the {name} reader is not available in this installation")
        return
    yield from reader(source, label)


def read_text(text: str, label: str, fmt: str | None = None) -> Iterator[Any]:
    """Claims from a whole text, in the format named or the one detected."""
    yield from read_stream(io.StringIO(text), label, fmt)


def claim_files(path: Path) -> list[Path]:
    """The claim files of a directory, sorted by name; a file is itself."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def read_paths(paths: Iterable[str | Path], fmt: str | None = None) -> Iterator[Any]:
    """Claims from each path in turn; a directory contributes its claim files, sorted by name."""
    for name in paths:
        if name == STDIN:
            yield from read_stream(getattr(sys.stdin, "buffer", sys.stdin), "<stdin>", fmt)
            continue
        for file in claim_files(Path(name)):
            try:
                stream = file.open("rb")
            except OSError as exc:
                yield Unreadable(f"{file}: cannot read ({type(exc).__name__})")
                continue
            with stream:
                yield from read_stream(stream, str(file), fmt)


def estimate_claims(paths: Iterable[str | Path]) -> int | None:
    """About how many claims the paths hold, for a progress bar's total; None when it cannot
    be told cheaply (stdin, a JSON list, CSV, a Bundle). Counts NDJSON lines and X12 CLM
    segments in 1 MiB chunks, so it costs a read of the files and no memory."""
    total = 0
    for name in paths:
        if name == STDIN:
            return None
        for file in claim_files(Path(name)):
            count = _estimate(file)
            if count is None:
                return None
            total += count
    return total


def _estimate(file: Path) -> int | None:
    try:
        with file.open("rb") as stream:
            head = stream.read(4096)
            fmt = detect(decode(head), file.suffix)
            text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
            if fmt == "x12" and len(text) > 3:
                needle = b"CLM" + text[3:4]  # ISA's 4th character is the element separator
            elif fmt in ("json", "fhir") and text.startswith(b"{"):
                if not is_ndjson(decode(text)):
                    return 1  # one pretty-printed object (a claim, or a Bundle: counted as one)
                needle = b"\n"  # NDJSON: a claim a line
            else:
                return None
            count, tail, chunk = 0, b"", head
            while chunk:
                block = tail + chunk
                count += block.count(needle)
                tail = block[1 - len(needle) :] if len(needle) > 1 else b""
                chunk = stream.read(1 << 20)
            return max(count, 1)
    except OSError:
        return None


__all__ = [
    "FORMATS",
    "INPUT_FORMATS",
    "STDIN",
    "SUFFIXES",
    "Unreadable",
    "claim_files",
    "decode",
    "detect",
    "estimate_claims",
    "read_paths",
    "read_stream",
    "read_text",
]
