"""Payer IDs and payer names, as claims carry them, onto the payers the plugins register.

An 837 names its payer in loop 2010BB (NM1*PR: NM109 the payer ID, NM103 the name) and a FHIR
Claim in ``insurer`` or the coverage's ``payor``; neither says which plugin applies. The readers
pass both on as ``payer_id`` and ``payer_name``, and the Editor maps them here, in this order:

1. the user's map (``Editor(payer_map=...)``, ``--payer-map FILE``), by ID, then by name;
2. the payer IDs the plugins declare (``Payer.payer_ids``, each with its public source);
3. an ID or name that is a registered payer's name or display name (``MEDICARE``, ``Aetna``).

A payer ID or a payer's name is not patient data, so messages name them.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import define, field

from j9330_rules.errors import ClaimError, PayerMapError
from j9330_rules.plugins.payer import Payer

__all__ = ["PayerMap", "PayerMapError", "PayerResolver"]

#: A payer ID the error may quote: short, letters and digits with at least one digit (as payer IDs
#: are: 60054, SB580). A payer *name* is free text, which may be a patient's name typed into the
#: wrong field, so it is never quoted.
_SHOWN_ID = re.compile(r"(?=.*[0-9])[A-Z0-9-]{1,10}")
_AMBIGUOUS = ""  # an ID two plugins declare: only the user's map can settle it


def _id(value: Any) -> str:
    return str(value).strip().upper()


def _name(value: Any) -> str:
    return " ".join(str(value).split()).casefold()


@define(frozen=True)
class PayerMap:
    """The user's map: payer ID → payer, and payer name → payer (names compared without case)."""

    ids: dict[str, str] = field(factory=dict, converter=lambda m: {_id(k): str(v) for k, v in m.items()})
    names: dict[str, str] = field(factory=dict, converter=lambda m: {_name(k): str(v) for k, v in m.items()})
    source: str = "the payer map"

    @classmethod
    def of(cls, value: Any) -> PayerMap:
        """A map from a file path, a mapping of payer IDs, or a PayerMap; None is empty."""
        if value is None:
            return cls()
        if isinstance(value, PayerMap):
            return value
        if isinstance(value, (str, Path)):
            return cls.load(value)
        if isinstance(value, Mapping):
            return cls(ids=value, source="payer_map")
        raise TypeError("payer_map is a file path, a mapping of payer IDs to payer names, or a PayerMap")

    @classmethod
    def load(cls, path: str | Path) -> PayerMap:
        """A CSV (columns ``payer`` and ``payer_id`` and/or ``payer_name``) or TOML (``[ids]``, ``[names]``)."""
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise PayerMapError(f"{path}: cannot read the payer map ({type(exc).__name__})") from None
        if path.suffix.lower() == ".toml":
            return cls._toml(path, text)
        return cls._csv(path, text)

    @classmethod
    def _toml(cls, path: Path, text: str) -> PayerMap:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PayerMapError(f"{path}: not valid TOML ({exc})") from None
        unknown = set(data) - {"ids", "names"}
        if unknown:
            raise PayerMapError(
                f"{path}: unknown table(s) {', '.join(sorted(unknown))}; a payer map has [ids] and [names]"
            )
        for table in ("ids", "names"):
            entries = data.get(table, {})
            if not isinstance(entries, dict) or not all(isinstance(v, str) for v in entries.values()):
                raise PayerMapError(f'{path}: [{table}] maps each key to a payer name, as in "60054" = "aetna"')
        return cls(ids=data.get("ids", {}), names=data.get("names", {}), source=str(path))

    @classmethod
    def _csv(cls, path: Path, text: str) -> PayerMap:
        rows = csv.DictReader(io.StringIO(text, newline=""))
        columns = {(name or "").strip() for name in rows.fieldnames or ()}
        if "payer" not in columns or not columns & {"payer_id", "payer_name"}:
            raise PayerMapError(f"{path}: line 1: the header names payer and payer_id and/or payer_name")
        ids: dict[str, str] = {}
        names: dict[str, str] = {}
        for line, row in enumerate(rows, start=2):
            row = {(key or "").strip(): (value or "").strip() for key, value in row.items() if isinstance(value, str)}
            payer, payer_id, payer_name = row.get("payer", ""), row.get("payer_id", ""), row.get("payer_name", "")
            if not (payer or payer_id or payer_name):
                continue
            if not payer or not (payer_id or payer_name):
                raise PayerMapError(f"{path}: line {line}: a row names a payer and a payer_id or payer_name")
            for table, key in ((ids, _id(payer_id)), (names, _name(payer_name))):
                if not key:
                    continue
                if table.get(key, payer) != payer:
                    raise PayerMapError(f"{path}: line {line}: {key} is mapped twice, to different payers")
                table[key] = payer
        return cls(ids=ids, names=names, source=str(path))


class PayerResolver:
    """The payer a claim's ``payer_id`` and ``payer_name`` stand for, under one Editor's plugins."""

    def __init__(self, user: PayerMap, payers: Mapping[str, Payer]):
        known = ", ".join(sorted(payers)) or "none"
        for table, entries in (("payer ID", user.ids), ("payer name", user.names)):
            for key, payer in entries.items():
                if payer not in payers:
                    raise PayerMapError(
                        f"{user.source}: {table} {key} maps to {payer!r}, which is not a loaded payer; the known payers are: {known}"
                    )
        declared: dict[str, str] = {}
        for payer in payers.values():
            for entry in payer.payer_ids:
                key = _id(entry.id)
                declared[key] = payer.name if declared.get(key, payer.name) == payer.name else _AMBIGUOUS
        fallback = {}
        for payer in payers.values():
            fallback[_name(payer.name)] = payer.name
            fallback.setdefault(_name(payer.display_name), payer.name)
        self.user = user
        self.declared = declared
        self.fallback = fallback
        self.known = known

    def __call__(self, payer_id: Any, payer_name: Any) -> str:
        """The payer's name; a ClaimError that names the ID when nothing maps it."""
        key = _id(payer_id) if isinstance(payer_id, str) and payer_id.strip() else None
        name = _name(payer_name) if isinstance(payer_name, str) and payer_name.strip() else None
        found = (
            (key and self.user.ids.get(key))
            or (name and self.user.names.get(name))
            or (key and self.declared.get(key))
            or (key and self.fallback.get(_name(key)))
            or (name and self.fallback.get(name))
        )
        if found:
            return found
        if key and self.declared.get(key) == _AMBIGUOUS:
            raise ClaimError(
                f"$.payer_id: payer ID {key} is declared by more than one plugin; map it with --payer-map FILE"
            )
        if key is None and name is None:
            raise ClaimError("$.payer: required field missing")
        if key and _SHOWN_ID.fullmatch(key):
            shown = f"payer ID {key}"
        else:
            shown = "the payer ID" if key else "the payer name (free text, not quoted)"
        raise ClaimError(
            f"$.payer_id: {shown} is not mapped to a payer; add it to a payer map (--payer-map FILE, "
            f"docs/payer-map.md); the known payers are: {self.known}"
        )
