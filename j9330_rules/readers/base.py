"""What every reader shares."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from decimal import InvalidOperation
from typing import Any

from attrs import define


@define(frozen=True)
class Unreadable:
    """Input that is not a claim; ``message`` says where and why, without its content."""

    message: str


#: What ``json.loads`` raises on text it cannot read: JSONDecodeError (a ValueError) for bad
#: syntax, ValueError for an integer longer than ``sys.get_int_max_str_digits()``, and
#: RecursionError for arrays or objects nested past the recursion limit; with
#: ``parse_float=Decimal``, InvalidOperation for an exponent past Decimal's limits (``0E99999…``).
JSON_ERRORS = (ValueError, RecursionError, InvalidOperation)


def json_problem(exc: BaseException, *, line: bool = True) -> str:
    """Why ``json.loads`` refused a text, never its content (``line``: name the line as well as the column)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}" if line else f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "arrays or objects nested too deeply"
    if isinstance(exc, InvalidOperation):
        return "a number's exponent is out of range"
    # int()'s own message names the limit and the digit count only, but is not relied on.
    return "a number has too many digits" if "digits" in str(exc) else type(exc).__name__


def first_line_parses(text: str) -> bool:
    """Is the text's first line a JSON value of its own (NDJSON), rather than the start of one
    JSON document spread over lines?"""
    try:
        json.loads(text.split("\n", 1)[0])
    except json.JSONDecodeError:
        return False
    except JSON_ERRORS:
        return True  # complete enough to be read line by line; that line is reported as unreadable
    return True


_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode(data: bytes) -> str:
    """Text from a file's bytes, as Windows and CMS tools write them.

    A byte-order mark (UTF-8, or the UTF-16 that PowerShell's ``>`` writes) is dropped and
    chooses the encoding; otherwise UTF-8, and Windows-1252 when the bytes are not UTF-8 (CMS
    files hold 0xA0 and curly quotes). Undefined Windows-1252 bytes become U+FFFD, so one bad
    byte costs at most the record it is in, never the file.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


# ---------------------------------------------------------------------------
# Streams: read in pieces, each piece decoded on its own

#: How much of a stream is read at a time.
CHUNK = 1 << 20
_UTF16 = ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


class Source:
    """A text or binary stream whose head can be looked at before it is read, so that a
    reader can choose how to read it (line by line, or whole) without reading it twice.

    ``read`` gives the head again, then the rest. ``rewind`` starts over when the stream is a
    seekable binary file (a second pass over a file costs no memory); else it is None.
    """

    def __init__(self, stream: Any, head: str | bytes | None = None, origin: int | None = None):
        self.stream = stream
        self._head = head if head is not None else stream.read(0)
        self.origin = origin

    @classmethod
    def of(cls, stream: Any) -> Source:
        if isinstance(stream, Source):
            return stream
        origin = None
        try:
            if not isinstance(stream.read(0), str) and stream.seekable():
                origin = stream.tell()
        except (AttributeError, OSError, ValueError):
            pass
        return cls(stream, origin=origin)

    def head(self, lines: int = 0, limit: int = 8 * CHUNK) -> str | bytes:
        """The first chunk, or more to hold ``lines`` whole lines (up to ``limit``; less at the end
        of the stream), not consumed."""
        newline = "\n" if isinstance(self._head, str) else b"\n"
        while (not self._head or self._head.count(newline) < lines) and len(self._head) < limit:
            more = self.stream.read(CHUNK)
            if not more:
                break
            self._head += more
        return self._head

    def head_text(self, lines: int = 0) -> str:
        head = self.head(lines)
        return head.lstrip("\ufeff") if isinstance(head, str) else decode(head)

    def read(self, size: int = -1) -> str | bytes:
        """The head first (whole, whatever ``size``), then the stream; everything left if ``size`` < 0."""
        if self._head:
            head, self._head = self._head, self._head[:0]
            return head + self.stream.read() if size is None or size < 0 else head
        return self.stream.read(size)

    def read_text(self) -> str:
        """Everything left, as one text (a document that is one record: a JSON list, a Bundle)."""
        data = self.read()
        return data.lstrip("\ufeff") if isinstance(data, str) else decode(data)

    def rewind(self) -> bool:
        if self.origin is None:
            return False
        self.stream.seek(self.origin)
        self._head = self._head[:0]
        return True


def chunks(source: Any) -> Iterator[str | bytes]:
    """A stream's content in pieces, a leading byte-order mark dropped. Bytes after a UTF-16
    mark are decoded as they come (their lines cannot be split as bytes); other bytes are left
    for :func:`pieces` to decode one piece at a time."""
    first = source.read(CHUNK)
    if isinstance(first, str):
        yield first[1:] if first.startswith("\ufeff") else first
        yield from iter(lambda: source.read(CHUNK), "")
        return
    for bom, encoding in _UTF16:
        if first.startswith(bom):
            decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
            yield decoder.decode(first[len(bom) :])
            for chunk in iter(lambda: source.read(CHUNK), b""):
                yield decoder.decode(chunk)
            yield decoder.decode(b"", final=True)
            return
    yield first[len(codecs.BOM_UTF8) :] if first.startswith(codecs.BOM_UTF8) else first
    yield from iter(lambda: source.read(CHUNK), b"")


def raw_pieces(source: Any, separator: str) -> Iterator[str | bytes]:
    """The stream cut after each ``separator`` (one ASCII character, kept), as read: bytes or
    text. Memory is one piece however long the stream."""
    pending: list[Any] = []
    for chunk in chunks(source):
        mark = separator if isinstance(chunk, str) else separator.encode("ascii")
        parts = chunk.split(mark)
        if len(parts) == 1:
            pending.append(chunk)
            continue
        yield chunk[:0].join([*pending, parts[0]]) + mark
        for part in parts[1:-1]:
            yield part + mark
        pending = [parts[-1]] if parts[-1] else []
    if pending and any(pending):
        yield pending[0][:0].join(pending)


def pieces(source: Any, separator: str) -> Iterator[str]:
    """:func:`raw_pieces`, each decoded on its own (:func:`decode`): one bad byte costs its piece."""
    for piece in raw_pieces(source, separator):
        yield piece if isinstance(piece, str) else decode(piece)


def lines(source: Any) -> Iterator[str]:
    """The lines of a stream (cut at ``\\n`` only, without it), each decoded on its own."""
    for piece in pieces(source, "\n"):
        yield piece[:-1] if piece.endswith("\n") else piece
