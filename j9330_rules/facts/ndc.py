"""National Drug Code normalisation.

Claims carry the 11-digit 5-4-2 form. Labels print 10-digit NDCs as 4-4-2,
5-3-2 or 5-4-1; the 11-digit form pads the short segment with a leading zero.
So a genuine 11-digit NDC always has a zero where the padding went: the first
digit of the labeler, product or package segment.
"""

from __future__ import annotations

import functools
import re

_HYPHENATED = re.compile(r"^([0-9]{4,5})-([0-9]{3,4})-([0-9]{1,2})$")
_PAD_TO = (5, 4, 2)


@functools.lru_cache(maxsize=8192)  # a batch repeats a few NDCs; each is read at every step
def normalise(text: str) -> str | None:
    """The 11-digit NDC for ``text``, or None when it is not a valid NDC."""
    text = text.strip()
    match = _HYPHENATED.match(text)
    if match:
        segments = match.groups()
        if sum(map(len, segments)) not in (10, 11):
            return None
        digits = "".join(seg.zfill(width) for seg, width in zip(segments, _PAD_TO))
    elif len(text) == 11 and _is_ascii_digits(text):
        digits = text
    else:
        return None
    return digits if has_valid_origin(digits) else None


def has_valid_origin(digits: str) -> bool:
    """True when an 11-digit NDC can come from a 4-4-2, 5-3-2 or 5-4-1 NDC."""
    return len(digits) == 11 and _is_ascii_digits(digits) and "0" in (digits[0], digits[5], digits[9])


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts other scripts' digits, which no NDC uses.
    return text.isascii() and text.isdigit()
