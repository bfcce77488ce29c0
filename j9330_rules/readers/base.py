"""What every reader shares."""

import codecs
import json
from decimal import InvalidOperation

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
