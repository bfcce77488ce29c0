"""Results → plain JSON-able dicts, through one cattrs converter.

Decimals become strings so that money keeps its cents exactly in JSON.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cattrs

from j9330_rules.model import Result

_CONVERTER = cattrs.Converter()
_CONVERTER.register_unstructure_hook(Decimal, str)


def result_to_dict(result: Result) -> dict[str, Any]:
    data = _CONVERTER.unstructure(result)
    data["blocking"] = result.blocking
    return data
