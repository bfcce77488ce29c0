"""Reference data: the facts about the drug that are data, not policy.

Plugins contribute items through the ``j9330_register_reference_data`` hook;
the built-in plugin contributes only what is sourced (the 25 mg kit and the
temsirolimus NDCs). Prices and limits come from files the user loads: the
CMS ASP file, NDC-HCPCS crosswalk and MUE tables in their published
layouts, and contract fee schedules. Several quarters may be loaded at once;
each lookup picks the file in force on the date of service.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from attrs import define, field

from j9330_rules.facts.units import LABELED_KIT_MG
from j9330_rules.refdata import cms
from j9330_rules.refdata.code_files import Icd10CodeFile, NdcDirectory, load_icd10, load_ndc_directory
from j9330_rules.refdata.fee_schedule import FeeRate, load_fee_schedule

Paths = str | Path | Iterable[str | Path] | None
MUE_KIND_BY_FORM = {"professional": "practitioner", "institutional": "outpatient_hospital"}
#: How each file is loaded: the CLI option and the Editor argument, for messages.
OPTIONS = {
    "asp": ("--asp-file", "asp_file", "CMS ASP payment limit file"),
    "crosswalk": ("--crosswalk-file", "crosswalk_file", "CMS ASP NDC-HCPCS crosswalk"),
    "mue": ("--mue-file", "mue_file", "CMS MUE table"),
    "fee_schedule": ("--fee-schedule", "fee_schedule", "contract fee schedule"),
    "icd10": ("--icd10-file", "icd10_file", "CMS ICD-10-CM code file"),
    "ndc_directory": ("--ndc-directory", "ndc_directory", "FDA NDC Directory package file"),
}


@define(frozen=True)
class ReferenceItem:
    name: str
    value: Any
    source: str
    plugin: str = ""


def _paths(value: Paths) -> tuple[Path, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return (Path(value),)
    return tuple(Path(item) for item in value)


@define(frozen=True)
class ReferenceData:
    items: Mapping[str, ReferenceItem] = field(factory=dict)
    asp: tuple[cms.AspFile, ...] = ()
    crosswalks: tuple[cms.Crosswalk, ...] = ()
    mue: tuple[cms.MueTable, ...] = ()
    fees: tuple[FeeRate, ...] = ()
    icd10: tuple[Icd10CodeFile, ...] = ()
    ndc_directories: tuple[NdcDirectory, ...] = ()
    #: (payer, hcpcs) → that pair's fee rows in load order: each claim line looks one up.
    _fees_by_code: dict[tuple[str, str], tuple[FeeRate, ...]] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        index: dict[tuple[str, str], list[FeeRate]] = {}
        for rate in self.fees:
            index.setdefault((rate.payer, rate.hcpcs), []).append(rate)
        object.__setattr__(self, "_fees_by_code", {key: tuple(rates) for key, rates in index.items()})

    @property
    def not_loaded(self) -> list[str]:
        """The kinds of user-loaded file (the keys of OPTIONS) with none loaded."""
        loaded = {
            "asp": self.asp,
            "crosswalk": self.crosswalks,
            "mue": self.mue,
            "fee_schedule": self.fees,
            "icd10": self.icd10,
            "ndc_directory": self.ndc_directories,
        }
        return [kind for kind, items in loaded.items() if not items]

    @classmethod
    def load(
        cls,
        items: Mapping[str, ReferenceItem],
        *,
        asp_file: Paths = None,
        crosswalk_file: Paths = None,
        mue_file: Paths = None,
        fee_schedule: Paths = None,
        icd10_file: Paths = None,
        ndc_directory: Paths = None,
    ) -> ReferenceData:
        """Load the user's files; a missing or wrong-kind file raises at once."""
        every = (asp_file, crosswalk_file, mue_file, fee_schedule, icd10_file, ndc_directory)
        for path in (path for paths in every for path in _paths(paths)):
            if not path.is_file():
                raise FileNotFoundError(f"reference file not found: {path}")
        return cls(
            items=dict(items),
            asp=tuple(cms.load_asp(p) for p in _paths(asp_file)),
            crosswalks=tuple(cms.load_crosswalk(p) for p in _paths(crosswalk_file)),
            mue=tuple(cms.load_mue(p) for p in _paths(mue_file)),
            fees=tuple(rate for p in _paths(fee_schedule) for rate in load_fee_schedule(p)),
            icd10=tuple(load_icd10(p) for p in _paths(icd10_file)),
            ndc_directories=tuple(load_ndc_directory(p) for p in _paths(ndc_directory)),
        )

    def icd10_in_force(self, day: dt.date) -> tuple[Icd10CodeFile, ...]:
        """The loaded ICD-10-CM releases in force on ``day``: the latest to start (from April 1 the
        April 1 release supersedes the October one), with any loaded twice; none outside every year."""
        files = [file for file in self.icd10 if file.effective.contains(day)]
        latest = max((file.effective.effective_from for file in files), default=None)
        return tuple(file for file in files if file.effective.effective_from == latest)

    def ndc_marketed(self, code: str, day: dt.date) -> bool | None:
        """Is the NDC marketed on ``day`` per the NDC Directory (None: not loaded, or not listed)."""
        for directory in self.ndc_directories:
            found = directory.marketed(code, day)
            if found is not None:
                return found
        return None

    @property
    def kit_mg(self) -> int:
        item = self.items.get("kit_mg")
        return int(item.value) if item else LABELED_KIT_MG

    @property
    def temsirolimus_ndcs(self) -> frozenset[str]:
        item = self.items.get("temsirolimus_ndcs")
        return frozenset(item.value) if item else frozenset()

    def asp_limit(self, day: dt.date, hcpcs: str = "J9330") -> tuple[Decimal, cms.AspFile] | None:
        """The payment limit per unit in force on ``day``, with the file it came from."""
        for file in self.asp:
            row = file.rows.get(hcpcs)
            if row and row.payment_limit is not None and file.effective.contains(day):
                return row.payment_limit, file
        return None

    def crosswalk_for(self, day: dt.date) -> cms.Crosswalk | None:
        """The crosswalk in force on ``day``, else the newest loaded (NDCs rarely move)."""
        if not self.crosswalks:
            return None
        for crosswalk in self.crosswalks:
            if crosswalk.effective.contains(day):
                return crosswalk
        return max(self.crosswalks, key=lambda c: c.effective_from or dt.date.min)

    def mue_for(self, form: str, day: dt.date, hcpcs: str = "J9330") -> tuple[cms.MueRow, cms.MueTable] | None:
        """The MUE for the claim's setting: practitioner for professional claims,
        outpatient hospital for institutional ones; the newest table in force."""
        kind = MUE_KIND_BY_FORM.get(form)
        candidates = [
            table
            for table in self.mue
            if table.kind == kind
            and hcpcs in table.rows
            and (table.effective_from is None or table.effective_from <= day)
        ]
        if not candidates:
            return None
        table = max(candidates, key=lambda t: t.effective_from or dt.date.min)
        return table.rows[hcpcs], table

    def fee_rate(self, payer: str, day: dt.date, hcpcs: str = "J9330") -> FeeRate | None:
        """The first loaded row for the payer and code that covers ``day``."""
        return next((r for r in self._fees_by_code.get((payer, hcpcs), ()) if r.covers(day)), None)
