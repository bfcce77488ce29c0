"""Results → plain JSON-able dicts, through one cattrs converter.

Decimals become strings so that money keeps its cents exactly in JSON.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import cattrs

from j9330_rules.model import Result

_CONVERTER = cattrs.Converter()
_CONVERTER.register_unstructure_hook(Decimal, str)
_CONVERTER.register_unstructure_hook(dt.date, dt.date.isoformat)


def result_to_dict(result: Result, *, audit: bool = True) -> dict[str, Any]:
    """The result as JSON-able data, with its derived blocking flag and dispositions."""
    data = _CONVERTER.unstructure(result)
    data["blocking"] = result.blocking
    data["disposition"] = result.disposition
    data["line_dispositions"] = {str(line): value for line, value in result.line_dispositions.items()}
    if not audit:
        data.pop("audit", None)
    return data
