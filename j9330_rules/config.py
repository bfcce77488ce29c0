"""EditorConfig: everything an Editor is built from, as one frozen, picklable value.

Worker processes and Spark executors build their Editor from the same config, so a keyword
added here reaches all of them without being listed anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from attrs import define, field

__all__ = ["ENGINE_NAMES", "EditorConfig"]

ENGINE_NAMES = ("compiled", "durable")

Paths = str | Path | tuple[str | Path, ...] | None


def _paths(value: Any) -> Paths:
    """One path as given; several (a list of quarters) as a tuple, so the config stays frozen."""
    if value is None or isinstance(value, (str, Path)):
        return value
    return tuple(value)


def _overrides(value: Any) -> Any:
    if value is None or isinstance(value, (str, Path)):
        return value
    return tuple(value)


def _payer_map(value: Any) -> Any:
    from j9330_rules.plugins.payer_map import PayerMap

    return value if value is None or isinstance(value, (str, Path, PayerMap)) else PayerMap.of(value)


def _engine(_instance: Any, _attribute: Any, value: str) -> None:
    if value not in ENGINE_NAMES:
        raise ValueError(f"engine must be one of {', '.join(ENGINE_NAMES)}, not {value!r}")


@define(frozen=True, kw_only=True)
class EditorConfig:
    """How to build an Editor (docs/reference-data.md for the files, docs/engine.md for engines).

    ``plugins`` are extra plugin objects (tests, notebooks); ``entry_points=False`` skips the
    installed ones. ``overrides`` is a file or a sequence of ``Override``.
    """

    asp_file: Paths = field(default=None, converter=_paths)
    crosswalk_file: Paths = field(default=None, converter=_paths)
    mue_file: Paths = field(default=None, converter=_paths)
    fee_schedule: Paths = field(default=None, converter=_paths)
    icd10_file: Paths = field(default=None, converter=_paths)
    ndc_directory: Paths = field(default=None, converter=_paths)
    history: str | Path | None = None
    #: Payer IDs and names onto payers: a CSV or TOML file, a mapping of IDs, or a PayerMap.
    payer_map: Any = field(default=None, converter=_payer_map)
    overrides: Any = field(default=None, converter=_overrides)
    plugins: tuple[Any, ...] = field(default=(), converter=tuple)
    entry_points: bool = True
    engine: str = field(default="compiled", validator=_engine)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(attrs.fields_dict(cls))

    def evolve(self, **changes: Any) -> EditorConfig:
        return attrs.evolve(self, **changes)
