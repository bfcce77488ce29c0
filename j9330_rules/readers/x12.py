"""X12 837P and 837I (005010) claims, read through pyx12.

The details (how it works, and why) are in docs/internals.md, "The X12 837 reader".
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import pyx12.errors
import pyx12.params
import pyx12.x12context

from j9330_rules.readers.base import Source, Unreadable, pieces

__all__ = ["FORMS", "read_x12"]

#: GS08 implementation guide → claim form. pyx12 4.0 ships maps for 005010X222A1 and 005010X223A2.
FORMS = {
    "005010X222A1": "professional",
    "005010X222A2": "professional",
    "005010X223A2": "institutional",
    "005010X223A3": "institutional",
}
#: An errata version → the pyx12 map it is read with. The errata (X222A2, X223A3) correct code
#: lists and notes of the guide they amend, not its loops and segments.
READ_AS = {"005010X222A2": "005010X222A1", "005010X223A3": "005010X223A2"}
_SUPPORTED = "005010X222A1 and A2 (837P), 005010X223A2 and A3 (837I)"
DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF"})
#: HI qualifiers of ICD-9-CM diagnoses (principal, other, admitting, reason for visit, external cause).
ICD9_QUALIFIERS = frozenset({"BK", "BF", "BJ", "PR", "BN"})
ICD9_END = "2015-10-01"
CLAIM_LOOP = "2300"

_ENVELOPE = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_REFDES = re.compile(r"^[A-Z][A-Z0-9]{1,2}[0-9]{2}(-[0-9]{1,2})?$")
_LOOP_ID = re.compile(r"^[0-9]{4}[A-Z]?$")
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:-\d{8})?$")

# The X12 999 / TA1 error codes pyx12 reports, described without their values, with
# the segment each is found at (None: at the end of the text, a trailer never came).
_ISA_ERRORS = {
    "001": ("IEA", "the interchange control numbers in ISA13 and IEA02 differ"),
    "021": ("IEA", "IEA01 does not match the number of functional groups"),
    "023": (None, "the interchange has no IEA trailer (is the file truncated?)"),
    "024": ("IEA", "the interchange closes while a functional group is open"),
    "025": ("ISA", "the interchange control number is not unique in the file"),
}
_GS_ERRORS = {
    "3": ("GE", "the functional group closes while a transaction set is open"),
    "4": ("GE", "the group control numbers in GS06 and GE02 differ"),
    "5": ("GE", "GE01 does not match the number of transaction sets"),
    "6": ("GS", "the group control number is not unique in the interchange"),
}
_GS_AT_END = {"3": "the functional group has no GE trailer"}
_ST_ERRORS = {
    "2": (None, "the transaction set has no SE trailer"),
    "3": ("SE", "the transaction set control numbers in ST02 and SE02 differ"),
    "4": ("SE", "SE01 does not match the number of segments in the transaction set"),
    "23": ("ST", "the transaction set control number is not unique in the group"),
}
_SEGMENT_ERRORS = {
    "1": "unrecognised segment",
    "2": "unexpected segment",
    "3": "required segment missing",
    "4": "loop occurs more often than allowed",
    "5": "segment occurs more often than allowed",
    "6": "segment not in the transaction set",
    "7": "segment out of sequence",
    "8": "segment has data element errors",
    "HL1": "HL01 is out of sequence",
    "HL2": "HL02 names no open parent level",
    "LX": "LX01 is out of sequence",
    "SEG1": "segment ends with empty elements",
}
_ELEMENT_ERRORS = {
    "1": "is required and missing",
    "2": "is conditionally required and missing",
    "3": "has too many data elements",
    "4": "is too short",
    "5": "is too long",
    "6": "has an invalid character",
    "7": "has an invalid code value",
    "8": "has an invalid date",
    "9": "has an invalid time",
    "10": "violates an exclusion condition",
    "12": "repeats too often",
    "13": "has too many components",
    "I10": "is not used in this implementation but present",
    "I11": "repeats too few times",
    "I12": "does not match the implementation's pattern",
    "I13": "is not used in this case but present",
    "I6": "has a code value this implementation does not use",
    "I9": "is required in this case and missing",
}


def read_x12(
    stream: TextIO,
    label: str,
    payer: str | Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Claims (contract dicts) from an X12 837P/837I text or byte stream, in file order.

    A claim that cannot be read, and a problem that stops the reading, is an
    :class:`Unreadable` naming the segment and position, never its content. The stream is read
    a segment at a time; the claims of an interchange are given when its IEA is read (an
    envelope error makes every claim in it unreadable), kept until then in a temporary file.
    """
    feed = _Feed(Source.of(stream))
    resolver = _PayerResolver(payer)
    errors = _Errors()
    reading = _Reading(label, resolver, errors, feed)
    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.params(), errors, feed)
    except pyx12.errors.X12Error:
        yield Unreadable(
            f"{label}: not an X12 interchange: segment 1 is not a complete ISA header of a 00401 or 00501 interchange"
        )
        return
    except Exception as exc:
        yield Unreadable(f"{label}: the X12 reader failed on segment 1 ({type(exc).__name__})")
        return
    try:
        with reader:
            for node in reader.iter_segments(CLAIM_LOOP):
                if node.id == CLAIM_LOOP:
                    reading.claim(node, end=reader.src.get_cur_line() - 1)
                else:
                    reading.segment(node)
                    if node.id == "IEA":
                        yield from reading.flush()
            errors.at_end = True
            reader.src.cleanup()  # missing SE / GE / IEA trailers at the end of the text
            errors.handle_errors(reader.src.pop_errors())
    except pyx12.errors.EngineError as exc:
        if str(exc).startswith("Map not found"):
            errors.stop(f"GS08 names an implementation guide this reader does not read; it reads {_SUPPORTED}")
        else:
            errors.stop("the X12 reader stopped (EngineError)")
    except Exception as exc:
        errors.stop(f"the X12 reader stopped ({type(exc).__name__})")
    yield from reading.flush(final=True, last=reader.src.get_cur_line())


#: How far ahead the component separator of the CLM05 composites is looked for (see _Feed).
WINDOW_CLAIMS = 200
WINDOW_CHARS = 4 << 20


class _Feed:
    """The stream as pyx12 should read it, a segment at a time: a file-like object for
    ``X12ContextReader``, so that no copy of the whole text is ever made.

    Each segment is decoded on its own (one bad byte costs its segment) and prepared, none of it
    moving a segment: errata versions are relabelled to the map they are read with (same
    length); a component separator that the CLM05 composites use instead of the one ISA16
    declares is taken as the body has it, as tolerant clearinghouses do, when every CLM05 of the
    first WINDOW_CLAIMS claims agrees and none uses the declared one. It counts segments (ISA = 1)
    as it hands them on, keeping the numbers of the CLMs pyx12 has not reached yet (so that a
    reading that stops early still gives each claim its result) and each group's GS08 as written.
    """

    closed = False

    def __init__(self, source: Source):
        self.versions: list[str] = []  # GS08 as written, one per functional group
        self.clm_lines: deque[int] = deque()  # CLMs handed on that the reading has not yet passed
        self.count = 0
        self._parts: list[str] = []
        self._size = 0
        self._pieces = self._prepared(source)

    def read(self, size: int = -1) -> str:
        while size < 0 or self._size < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._parts.append(piece)
            self._size += len(piece)
        text = "".join(self._parts)
        if 0 <= size < len(text):
            self._parts, self._size = [text[size:]], len(text) - size
            return text[:size]
        self._parts, self._size = [], 0
        return text

    def rest(self) -> Iterator[int]:
        """The CLM segment numbers pyx12 never reached: those handed on, then the rest of the stream's."""
        self._parts, self._size = [], 0
        while self.clm_lines:
            yield self.clm_lines.popleft()
        for _piece in self._pieces:
            while self.clm_lines:
                yield self.clm_lines.popleft()

    def passed(self, line: int) -> None:
        """The reading has passed segment ``line``: its CLMs have their results."""
        while self.clm_lines and self.clm_lines[0] <= line:
            self.clm_lines.popleft()

    def _prepared(self, source: Source) -> Iterator[str]:
        head = source.head_text().lstrip()
        element, declared, terminator = (head[3], head[104], head[105]) if len(head) >= 106 else ("A", "", "A")
        if not head.startswith("ISA") or element.isalnum() or terminator.isalnum() or not terminator.isascii():
            yield from _stripped(pieces(source, "\n"))  # pyx12 says what is wrong with it
            return
        self._element, self._terminator = element, terminator
        self._errata = [
            (errata, base, re.compile(rf"(?<={re.escape(element)}){errata}(?=[{re.escape(element + terminator)}\s])"))
            for errata, base in READ_AS.items()
        ]
        segments = _stripped(pieces(source, terminator))
        window, used, claims, size = [], set(), 0, 0
        for piece in segments:
            window.append(piece)
            size += len(piece)
            segment = piece.strip().rstrip(terminator).strip()
            if segment.startswith(f"CLM{element}"):
                used.add(_composite_separator(_element(segment, element, 5)))
                claims += 1
            if claims >= WINDOW_CLAIMS or size >= WINDOW_CHARS:
                break
        if len(used) == 1 and None not in used and declared not in used and len(window[0]) > 105:
            window[0] = window[0][:104] + used.pop() + window[0][105:]
        for piece in window:
            yield self._handed(piece)
        for piece in segments:
            yield self._handed(piece)

    def _handed(self, piece: str) -> str:
        segment = piece.strip()
        if segment.endswith(self._terminator):
            segment = segment[:-1].strip()
        if segment:
            self.count += 1
            if segment.startswith(f"CLM{self._element}"):
                self.clm_lines.append(self.count)
            elif segment.startswith(f"GS{self._element}"):
                self.versions.append(_element(segment, self._element, 8))
        for errata, base, pattern in self._errata:
            if errata in piece:
                piece = pattern.sub(base, piece)
        return piece


def _stripped(pieces: Iterator[str]) -> Iterator[str]:
    """The pieces, the whitespace before the first dropped (pyx12 wants ``ISA`` first)."""
    for piece in pieces:
        piece = piece.lstrip()
        if piece:
            yield piece
            break
    yield from pieces


def _element(segment: str, separator: str, position: int) -> str:
    elements = segment.split(separator)
    return elements[position] if len(elements) > position else ""


_CLM05 = re.compile(r"[0-9A-Z]{1,2}([^0-9A-Za-z\s])[A-Z]\1[0-9A-Z]")


def _composite_separator(clm05: str) -> str | None:
    """The separator CLM05 (facility code, qualifier, frequency: ``11:B:1``) is written with."""
    match = _CLM05.fullmatch(clm05)
    return match[1] if match else None


# ---------------------------------------------------------------------------
# Errors: an error handler for pyx12 that keeps code, segment and position only


@dataclass
class _Problem:
    line: int  # the segment's number in the file, ISA = 1
    text: str
    scope: tuple[int, int, int]  # (interchange, group, transaction set) counters when raised
    level: str  # "interchange", "group", "transaction" or "segment"
    segment: str | None = None  # the segment's id, when known (an envelope segment's error is its set's)
    used: bool = False  # named in some claim's result


class _Errors:
    """Takes pyx12's error-handler calls; records where and what, never the values.

    pyx12's own handler writes each error with the offending value to its
    logger, and its messages quote segments: both would leak patient data.
    """

    def __init__(self) -> None:
        self.problems: list[_Problem] = []
        self.claim_segments: dict[int, tuple[int, int, int]] = {}  # CLM segment number → scope
        self.interchange = self.group = self.transaction = 0
        self._src: Any = None
        self._segment: tuple[str | None, int, int | None] = (None, 0, None)
        # The last segments seen, by number: pyx12 reports some errors (trailing empty elements)
        # only after it has moved on to the next segment, naming the faulty one by its number.
        self._recent: dict[int, tuple[str | None, int, int | None]] = {}
        self._element: tuple[str | None, str | None] = (None, None)
        self._missing: tuple[str, str | None, bool] | None = None
        self.at_end = False  # pyx12 is checking for trailers that never came

    # -- pyx12's error-handler interface -------------------------------------------------
    def add_isa_loop(self, seg: Any, src: Any) -> None:
        self._src = src
        self.interchange += 1
        self.group = self.transaction = 0
        self._here(seg)

    def add_gs_loop(self, seg: Any, src: Any) -> None:
        self.group += 1
        self._here(seg)

    def add_st_loop(self, seg: Any, src: Any) -> None:
        self.transaction += 1
        self._here(seg)

    def close_isa_loop(self, node: Any, seg: Any, src: Any) -> None:
        self._here(seg)

    def close_gs_loop(self, node: Any, seg: Any, src: Any) -> None:
        self._here(seg)

    def close_st_loop(self, node: Any, seg: Any, src: Any) -> None:
        self._here(seg)

    def add_seg(self, map_node: Any, seg: Any, seg_count: int, cur_line: int, ls_id: Any) -> None:
        seg_id = _segment_id(seg)
        self._remember((seg_id, cur_line, seg_count))
        self._element = (None, None)
        # For a "required segment missing" error (which follows at once) pyx12 passes the map
        # node of the missing segment or loop; otherwise this is the segment's own node.
        node_id, name = getattr(map_node, "id", None), getattr(map_node, "name", None)
        if isinstance(node_id, str) and (_SEGMENT_ID.match(node_id) or _LOOP_ID.match(node_id)):
            is_loop = bool(getattr(map_node, "is_loop", lambda: False)())
            self._missing = (node_id, name if isinstance(name, str) else None, is_loop)
        else:
            self._missing = None
        if seg_id == "CLM" and cur_line not in self.claim_segments:
            self.claim_segments[cur_line] = self.scope

    def add_ele(self, map_node: Any) -> None:
        refdes = getattr(map_node, "refdes", None)
        name = getattr(map_node, "name", None)
        self._element = (
            refdes if isinstance(refdes, str) and _REFDES.match(refdes) else None,
            name if isinstance(name, str) else None,
        )

    def handle_errors(self, err_list: list[tuple[Any, ...]]) -> None:
        for err_type, code, _text, _value, src_line in err_list:
            if err_type == "isa":
                self.isa_error(code, _text)
            elif err_type == "gs":
                self.gs_error(code, _text)
            elif err_type == "st":
                self.st_error(code, _text)
            elif err_type == "seg":
                self.seg_error(code, _text, None, src_line)

    def isa_error(self, err_cde: str, err_str: str) -> None:
        self._envelope("interchange", _ISA_ERRORS.get(err_cde, ("ISA", f"interchange error {_code(err_cde)}")))

    def gs_error(self, err_cde: str, err_str: str) -> None:
        if self.at_end and err_cde in _GS_AT_END:
            self._envelope("group", (None, _GS_AT_END[err_cde]))
        else:
            self._envelope("group", _GS_ERRORS.get(err_cde, ("GS", f"functional group error {_code(err_cde)}")))

    def st_error(self, err_cde: str, err_str: str) -> None:
        self._envelope("transaction", _ST_ERRORS.get(err_cde, ("ST", f"transaction set error {_code(err_cde)}")))

    def seg_error(self, err_cde: str, err_str: str, err_value: Any = None, src_line: int | None = None) -> None:
        seg_id, line, position = self._segment
        if src_line and src_line != line:
            seg_id, line, position = self._recent.get(src_line, (None, src_line, None))
        if err_cde == "5" and seg_id in ("ISA", "IEA"):
            # pyx12 4.0 counts ISA/IEA across the interchanges of one file; IEA is checked on its own.
            return
        what = _SEGMENT_ERRORS.get(err_cde, f"segment error {_code(err_cde)}")
        if err_cde == "3" and self._missing is not None:
            # Detected at the segment after the gap: the gap belongs to what came before.
            missing_id, name, is_loop = self._missing
            kind = "loop" if is_loop else "segment"
            named = f" ({name})" if name else ""
            before = self._recent.get(line - 1, (None,))[0]
            self._add(
                "segment", line - 1, f"segment {line}: required {kind} {missing_id}{named} is missing before it", before
            )
            return
        self._add("segment", line, f"{_where(seg_id, line, position)}: {what}", seg_id)

    def ele_error(self, err_cde: str, err_str: str, bad_value: Any, refdes: str | None = None) -> None:
        seg_id, line, position = self._segment
        element, name = self._element
        if isinstance(refdes, str) and _REFDES.match(refdes) and refdes != element:
            element, name = refdes, None  # a composite's own error: add_ele named another element
        named = f"element {element}" if element else "an element"
        if name:
            named += f" ({name})"
        what = _ELEMENT_ERRORS.get(err_cde, f"has element error {_code(err_cde)}")
        self._add("segment", line, f"{_where(seg_id, line, position)}: {named} {what}", seg_id)

    # -- our own ------------------------------------------------------------------------
    @property
    def scope(self) -> tuple[int, int, int]:
        return (self.interchange, self.group, self.transaction)

    def stop(self, why: str) -> None:
        """The reading ended early: every claim of the interchange so far is suspect."""
        line = self._line()
        self._add("interchange", line, f"reading stopped at segment {line}: {why}")

    def unsupported(self, level: str, line: int, why: str) -> None:
        self._add(level, line, why)

    def _envelope(self, level: str, found: tuple[str | None, str]) -> None:
        seg_id, what = found
        line = self._line()
        if seg_id is None or self.at_end:
            self._add(level, line, f"the text ends after segment {line}: {what}")
        else:
            self._add(level, line, f"segment {line} ({seg_id}): {what}")

    def _add(self, level: str, line: int, text: str, segment: str | None = None) -> None:
        self.problems.append(_Problem(line, text, self.scope, level, segment))

    def _here(self, seg: Any) -> None:
        line = self._src.get_cur_line() if self._src is not None else 0
        self._remember((_segment_id(seg), line, None))

    def _remember(self, segment: tuple[str | None, int, int | None]) -> None:
        self._segment = segment
        self._recent[segment[1]] = segment
        if len(self._recent) > 64:
            del self._recent[next(iter(self._recent))]

    def _line(self) -> int:
        return self._src.get_cur_line() if self._src is not None else 1


def _segment_id(seg: Any) -> str | None:
    try:
        seg_id = seg.get_seg_id()
    except Exception:
        return None
    return seg_id if isinstance(seg_id, str) and _SEGMENT_ID.match(seg_id) else None


def _code(code: Any) -> str:
    return code if isinstance(code, str) and re.fullmatch(r"[A-Z0-9]{1,4}", code) else "?"


def _where(seg_id: str | None, line: int, position: int | None) -> str:
    parts = [seg_id or "unrecognised segment id"]
    if position and seg_id not in _ENVELOPE:
        parts.append(f"position {position} in its transaction set")
    return f"segment {line} ({', '.join(parts)})"


# ---------------------------------------------------------------------------
# Reading: the loop context, the claims, and which errors fall on which claim


@dataclass
class _Context:
    form: str | None = None
    npi: str | None = None
    member_id: str | None = None
    subscriber: dict[str, str | None] = field(default_factory=dict)
    dependent: dict[str, str | None] | None = None
    payer_id: str | None = None
    payer_name: str | None = None
    version: str | None = None  # GS08 as written


class _Reading:
    """The claims as pyx12 hands over their loops, each problem settled as soon as it is known
    to be a claim's own (in its loop 2300), its subscriber's or patient's (in the HL loop above
    it: 2000A/B/C and their 2010 loops), or its transaction set's, group's or interchange's.

    The claims of an interchange wait, written to a temporary file, for its IEA: an error in a
    trailer (GE, IEA) makes every claim under it unreadable. Memory is one claim loop plus the
    problems outside claim loops, however many claims the interchange holds.
    """

    def __init__(self, label: str, payer: _PayerResolver, errors: _Errors, feed: _Feed):
        self.label = label
        self.payer = payer
        self.errors = errors
        self.feed = feed
        self.groups = 0
        self.context = _Context()
        self.hl_stack: list[tuple[str | None, int]] = []  # the open HL levels: (HL01, its segment number)
        self.hl_starts: deque[tuple[int, tuple[int, int, int]]] = deque(maxlen=16)  # recent HLs: (line, scope)
        self.scoped: dict[tuple[str, Any], list[_Problem]] = {}  # problems outside claim loops, by what they cost
        self.spool: Any = None  # the claims waiting for their IEA, one JSON line each
        self.waiting = 0
        self.pending: tuple | None = None  # the claim read last: its loop may go on (_continues)
        self.claim_count = 0
        self.reported = False  # an error outside any claim was reported

    def segment(self, node: Any) -> None:
        """Keep the context a claim needs from the segments before its loop."""
        self._keep()
        seg_id = node.id
        loop = getattr(getattr(node.x12_map_node, "parent", None), "id", None)
        ctx = self.context
        if _segment_id(getattr(node, "seg_data", None)) != seg_id:
            # A segment pyx12 could not place comes with the map node of the one before it:
            # it is not that segment (its error is reported), and is not read as if it were.
            pass
        elif seg_id == "GS":
            self.groups += 1
            versions = self.feed.versions
            written = versions[self.groups - 1] if self.groups <= len(versions) else None
            ctx.version = written or node.get_value("GS08")
            ctx.form = FORMS.get(ctx.version or "")
            if ctx.form is None:
                line = self._line(node)
                self.errors.unsupported(
                    "group",
                    line,
                    f"segment {line} (GS): GS08 names an implementation guide this reader does not read; it reads {_SUPPORTED}",
                )
        elif seg_id == "ST":
            self.hl_stack = []
            if node.get_value("ST01") != "837":
                self.errors.unsupported(
                    "transaction",
                    self._line(node),
                    f"segment {self._line(node)} (ST): the transaction set is not an 837 claim",
                )
        elif seg_id == "HL":
            self._open_level(node)
            level = node.get_value("HL03")
            if level == "20":
                ctx.npi = None
            elif level == "22":
                ctx.member_id, ctx.subscriber, ctx.dependent = None, {}, None
                ctx.payer_id = ctx.payer_name = None
            elif level == "23":
                ctx.dependent = {}
        elif loop == "2010AA" and seg_id == "NM1":
            ctx.npi = node.get_value("NM109") if node.get_value("NM108") == "XX" else None
        elif loop == "2010BA" and seg_id == "NM1":
            ctx.member_id = node.get_value("NM109")
        elif loop == "2010BA" and seg_id == "DMG":
            ctx.subscriber = _demographics(node)
        elif loop == "2010BB" and seg_id == "NM1":
            ctx.payer_id, ctx.payer_name = node.get_value("NM109"), node.get_value("NM103")
        elif loop == "2010CA" and seg_id == "DMG":
            ctx.dependent = _demographics(node)
        self._settle(self._line(node) or self.errors._line())

    def _open_level(self, node: Any) -> None:
        """An HL opens a level under the one HL02 names (the hierarchy is written depth first)."""
        line = self._line(node)
        parent = node.get_value("HL02")
        while self.hl_stack and (not parent or self.hl_stack[-1][0] != parent):
            self.hl_stack.pop()
        self.hl_stack.append((node.get_value("HL01"), line))
        self.hl_starts.append((line, self.errors.scope))

    def claim(self, node: Any, end: int) -> None:
        if self._continues(node, end):
            return
        first = _first_line(node)
        ctx = self.context
        try:
            claim = _claim(node, ctx) if ctx.form is not None else {}  # the GS problem is the claim's error
        except _NotAccepted as exc:
            self.errors.unsupported("segment", first, f"segment {first} (CLM): {exc}")
            claim = {}
        except Exception as exc:
            self.errors.unsupported(
                "segment", first, f"segment {first} (CLM): the claim could not be mapped ({type(exc).__name__})"
            )
            claim = {}
        head: dict[str, Any] = {"claim_id": claim.pop("claim_id", None)}
        payer = self.payer(ctx.payer_id)
        if payer is not None:
            head["payer"] = payer
        head.update(
            (key, value) for key, value in (("payer_id", ctx.payer_id), ("payer_name", ctx.payer_name)) if value
        )
        claim = {**head, **claim, "x12_version": ctx.version}
        last = max(end, first)
        own = self._settle(last, (first, last))
        self._keep()
        self.pending = (first, self.errors.scope, [line for _hl01, line in self.hl_stack], own, claim)

    def _continues(self, node: Any, end: int) -> bool:
        """A segment pyx12 cannot place after a CLM comes with the CLM's map node, and pyx12
        opens a loop 2300 for it: the rest of the claim before it. That claim is unreadable,
        with the problems of both parts, and gets one result."""
        if self.pending is None or _opens_claim(node):
            return False
        first, scope, levels, own, _ = self.pending
        last = max(end, first)
        self.pending = (first, scope, levels, own + self._settle(last, (first, last)), None)
        return True

    def _keep(self) -> None:
        """The claim read last goes to wait for its IEA: nothing more of it can follow."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self._wait(*pending)

    def _settle(self, upto: int, span: tuple[int, int] | None = None) -> list[_Problem]:
        """Settle the problems and CLMs up to segment ``upto``: those in ``span`` (the claim loop
        just read) are its own and returned; a CLM pyx12 found outside any claim loop is a lost
        claim (its result says so); any other problem is the HL level's, or the set's, above it."""
        errors = self.errors
        lost: dict[int, tuple[tuple[int, int, int], list[_Problem]]] = {}
        for line in [line for line in errors.claim_segments if line <= upto]:
            scope = errors.claim_segments.pop(line)
            if span is None or line < span[0]:
                lost[line] = (scope, [])
        own, keep = [], []
        for problem in errors.problems:
            if problem.level != "segment":
                self._scope((problem.level, _LEVEL_SCOPE[problem.level](problem.scope)), problem)
            elif span is not None and span[0] <= problem.line <= span[1]:
                own.append(problem)
            elif problem.line > upto:
                keep.append(problem)
            elif problem.line in lost:
                lost[problem.line][1].append(problem)
            else:
                self._scope(self._level_of(problem), problem)
        errors.problems = keep
        for line in sorted(lost):
            scope, found = lost[line]
            self._wait(line, scope, [], found, None)
        self.feed.passed(upto)
        return own

    def _level_of(self, problem: _Problem) -> tuple[str, Any]:
        """A problem outside claim loops: the HL level whose segments hold it, else the whole set."""
        if problem.segment not in _ENVELOPE:
            for line, scope in reversed(self.hl_starts):
                if line <= problem.line and scope == problem.scope:
                    return ("hl", line)
        return ("outside", problem.scope)

    def _scope(self, key: tuple[str, Any], problem: _Problem) -> None:
        self.scoped.setdefault(key, []).append(problem)

    def _wait(self, first: int, scope: tuple, levels: list[int], own: list[_Problem], claim: dict | None) -> None:
        self._keep()
        if self.spool is None:
            # Closed when the interchange's claims are given (flush).
            self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        found = [(p.level, p.line, p.text) for p in own]
        self.spool.write(json.dumps([first, scope, levels, found, claim]).encode() + b"\n")
        self.waiting += 1

    def _waiting(self) -> Iterator[tuple[int, tuple, list[int], list[_Problem], dict | None]]:
        if self.spool is None:
            return
        spool, self.spool, self.waiting = self.spool, None, 0
        with spool:
            spool.seek(0)
            for record in spool:
                first, scope, levels, found, claim = json.loads(record)
                scope = tuple(scope)
                yield first, scope, levels, [_Problem(line, text, scope, level) for level, line, text in found], claim

    def flush(self, final: bool = False, last: int | None = None) -> Iterator[Any]:
        """The interchange's claims, in file order: each claim, or an Unreadable in its place."""
        self._settle(last if last is not None else self.errors._line())
        self._keep()
        for first, scope, levels, found, claim in self._waiting():
            self.claim_count += 1
            found = found + self._concerning(scope, levels)
            if found or claim is None:
                yield Unreadable(self._message(first, found))
            else:
                yield claim
        if final:  # CLMs pyx12 never reached (the reading stopped): each still gets its result
            outside = [problem for problems in self.scoped.values() for problem in problems]
            for line in self.feed.rest():
                self.claim_count += 1
                for problem in outside:
                    problem.used = True
                yield Unreadable(self._message(line, outside))
        left = [problem for problems in self.scoped.values() for problem in problems if not problem.used]
        if left:
            self.reported = True
            yield Unreadable(f"{self.label}: X12 error(s) outside any claim: {_listing(left)}")
        self.scoped = {}
        if final and self.claim_count == 0 and not self.reported:
            yield Unreadable(f"{self.label}: the X12 interchange holds no 837 claim (no CLM segment)")

    def _concerning(self, scope: tuple, levels: list[int]) -> list[_Problem]:
        """The problems outside a claim's loop that cost it: its interchange's, group's and
        transaction set's, and those of the HL levels it is under."""
        keys = [(level, _LEVEL_SCOPE[level](scope)) for level in ("interchange", "group", "transaction")]
        keys += [("outside", scope), *(("hl", line) for line in levels)]
        found = [problem for key in keys for problem in self.scoped.get(key, ())]
        for problem in found:
            problem.used = True
        return found

    def _message(self, line: int, found: list[_Problem]) -> str:
        head = f"{self.label}: claim {self.claim_count} (CLM at segment {line}) not read"
        if not found:
            return f"{head}: its loop 2300 ends before the claim is complete"
        return f"{head}: {_listing(found)}"

    @staticmethod
    def _line(node: Any) -> int:
        return getattr(node, "cur_line_number", None) or 0


#: What a problem of each level costs: every claim of its interchange, group or transaction set.
_LEVEL_SCOPE = {
    "interchange": lambda scope: tuple(scope[:1]),
    "group": lambda scope: tuple(scope[:2]),
    "transaction": tuple,
}
#: How much of the claims waiting for their IEA is kept in memory before it goes to disk.
SPOOL_MEMORY = 8 << 20
_SPECIFIC_FIRST = {"segment": 0, "transaction": 1, "group": 2, "interchange": 3}
SHOWN = 3  # problems named in one message


def _listing(problems: list[_Problem]) -> str:
    """The most specific problems first, at most SHOWN of them, then how many more."""
    ordered = sorted(problems, key=lambda problem: (_SPECIFIC_FIRST[problem.level], problem.line))
    text = "; ".join(problem.text for problem in ordered[:SHOWN])
    hidden = len(ordered) - SHOWN
    return f"{text}; and {hidden} more X12 error(s)" if hidden > 0 else text


# ---------------------------------------------------------------------------
# Mapping one loop 2300 onto the contract


class _NotAccepted(Exception):
    """A claim this reader refuses for a stated reason (no values in it)."""


def _claim(node: Any, ctx: _Context) -> dict[str, Any]:
    institutional = ctx.form == "institutional"
    diagnoses = _diagnoses(node)
    if not diagnoses and _icd9(node):
        raise _NotAccepted(
            f"the diagnoses are qualified as ICD-9-CM (HI qualifier BK or BF); ICD-9 diagnoses are not accepted for dates of "
            f"service on or after {ICD9_END} (HIPAA requires ICD-10-CM, qualifiers ABK and ABF)"
        )
    claim_date = node.get_value("DTP[472]03")
    if claim_date is None and institutional:
        claim_date = node.get_value("DTP[434]03")
    lines, skipped = [], []
    for position, loop in enumerate(node.select("2400"), start=1):
        line = _service_line(loop, position, institutional, diagnoses, claim_date)
        if line is None:
            skipped.append(_line_number(loop, position))
        else:
            lines.append(line)
    patient = dict(ctx.dependent if ctx.dependent is not None else ctx.subscriber)
    patient["member_id"] = ctx.member_id
    facility, frequency = node.get_value("CLM05-1"), node.get_value("CLM05-3")
    claim: dict[str, Any] = {
        "claim_id": node.get_value("CLM01"),
        "form": ctx.form,
        "type_of_bill": f"0{facility}{frequency}" if institutional and facility and frequency else None,
        "place_of_service": None if institutional else facility,
        "diagnoses": diagnoses,
        "patient": patient,
        "provider": {"npi": ctx.npi},
        "prior_authorization": node.get_value("REF[G1]02") or _line_authorization(node),
        "lines": lines,
    }
    if skipped:
        claim["x12_skipped_lines"] = skipped
    return claim


def _service_line(
    loop: Any, position: int, institutional: bool, diagnoses: list[str], claim_date: str | None
) -> dict[str, Any] | None:
    if institutional:
        service, charge, units = "SV202", loop.get_value("SV203"), loop.get_value("SV205")
        revenue = loop.get_value("SV201")
        pointers: list[Any] = list(range(1, len(diagnoses) + 1))
    else:
        service, charge, units = "SV101", loop.get_value("SV102"), loop.get_value("SV104")
        revenue = None
        pointers = [_number(p) for p in (loop.get_value(f"SV107-{i}") for i in range(1, 5)) if p]
    hcpcs = loop.get_value(f"{service}-2")
    if hcpcs is None and institutional:
        return None
    line: dict[str, Any] = {
        "line": _line_number(loop, position),
        "hcpcs": hcpcs,
        "modifiers": [m for m in (loop.get_value(f"{service}-{i}") for i in range(3, 7)) if m],
        "units": units,
        "charge": charge,
        "service_date": _date(loop.get_value("DTP[472]03") or claim_date),
        "revenue_code": revenue,
        "dx_pointers": pointers,
    }
    for drug in loop.select("2410"):
        if drug.get_value("LIN02") == "N4":
            line["ndc"] = drug.get_value("LIN03")
            line["ndc_quantity"] = drug.get_value("CTP04")
            line["ndc_unit"] = drug.get_value("CTP05-1")
            break
    return line


def _line_number(loop: Any, position: int) -> int:
    number = loop.get_value("LX01")
    return int(number) if number and number.isdigit() else position


def _diagnoses(node: Any) -> list[str]:
    codes = []
    for segment in node.select("HI"):
        for i in range(1, 13):
            if segment.get_value(f"HI{i:02d}-1") in DIAGNOSIS_QUALIFIERS:
                code = segment.get_value(f"HI{i:02d}-2")
                if code:
                    codes.append(code)
    return codes


def _icd9(node: Any) -> bool:
    return any(
        segment.get_value(f"HI{i:02d}-1") in ICD9_QUALIFIERS for segment in node.select("HI") for i in range(1, 13)
    )


def _line_authorization(node: Any) -> str | None:
    for loop in node.select("2400"):
        number = loop.get_value("REF[G1]02")
        if number:
            return number
    return None


def _demographics(node: Any) -> dict[str, str | None]:
    birth = node.get_value("DMG02") if node.get_value("DMG01") == "D8" else None
    return {"birth_date": _date(birth), "sex": node.get_value("DMG03")}


def _date(value: str | None) -> str | None:
    """CCYYMMDD (or the start of a CCYYMMDD-CCYYMMDD range) as YYYY-MM-DD; anything else as given."""
    if value is None:
        return None
    match = _DATE.match(value)
    return f"{match[1]}-{match[2]}-{match[3]}" if match else value


def _number(value: str) -> Any:
    return int(value) if value.isdigit() else value


def _opens_claim(node: Any) -> bool:
    """Whether a loop 2300's first segment is a CLM, not a segment pyx12 could not place."""
    for child in getattr(node, "children", ()):
        if getattr(child, "cur_line_number", None):
            return _segment_id(getattr(child, "seg_data", None)) == "CLM"
    return True


def _first_line(node: Any) -> int:
    for child in getattr(node, "children", ()):
        line = getattr(child, "cur_line_number", None)
        if line:
            return line
    return getattr(node, "cur_line_number", None) or 0


# ---------------------------------------------------------------------------
# The payer


class _PayerResolver:
    """The reader's own payer option: one payer for every claim, or payer IDs mapped to payers.

    Without it, claims carry ``payer_id`` and ``payer_name`` and the Editor's payer map decides.
    """

    def __init__(self, payer: str | Mapping[str, str] | None):
        if payer is not None and not isinstance(payer, (str, Mapping)):
            raise TypeError("payer is a payer name, a mapping of X12 payer ids to payer names, or None")
        self.payer = payer if not isinstance(payer, Mapping) else {str(k).strip().upper(): v for k, v in payer.items()}

    def __call__(self, payer_id: str | None) -> str | None:
        if isinstance(self.payer, str):
            return self.payer
        if isinstance(self.payer, Mapping) and payer_id is not None:
            return self.payer.get(payer_id.strip().upper())
        return None
