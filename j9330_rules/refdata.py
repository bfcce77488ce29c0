"""Reference data: the facts about the drug that are data, not policy.

Plugins contribute items through the ``j9330_register_reference_data`` hook;
the built-in plugin contributes only what is sourced (the 25 mg kit and the
temsirolimus NDCs). The CMS files (ASP, crosswalk, MUE) are paths the user
gives; until they are loaded, edits that need them say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import define, field

from j9330_rules.units import LABELED_KIT_MG


@define(frozen=True)
class ReferenceItem:
    name: str
    value: Any
    source: str
    plugin: str = ""


def _optional_path(value: str | Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"reference file not found: {path}")
    return path


@define(frozen=True)
class ReferenceData:
    items: Mapping[str, ReferenceItem] = field(factory=dict)
    asp_file: Path | None = field(default=None, converter=_optional_path)
    crosswalk_file: Path | None = field(default=None, converter=_optional_path)
    mue_file: Path | None = field(default=None, converter=_optional_path)

    @property
    def kit_mg(self) -> int:
        item = self.items.get("kit_mg")
        return int(item.value) if item else LABELED_KIT_MG

    @property
    def temsirolimus_ndcs(self) -> frozenset[str]:
        item = self.items.get("temsirolimus_ndcs")
        return frozenset(item.value) if item else frozenset()
