"""What every reader shares."""

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
