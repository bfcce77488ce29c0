"""What reference data is in force: bundled items and the J9330 rows of loaded files.

A billing manager asks "which ASP quarter am I pricing with?" before trusting a
benchmark; this answers it, and says plainly what is not loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.table import Table

from j9330_rules.refdata.reference import OPTIONS, ReferenceData

NOT_LOADED = "not loaded"


def _period(file) -> str:
    return file.effective.span(unknown=getattr(file, "quarter", None) or "period unknown")


def reference_tables(reference: ReferenceData) -> Iterator[Table]:
    bundled = Table("Item", "Value", "Source", title="Bundled reference data")
    for item in reference.items.values():
        value = ", ".join(item.value) if isinstance(item.value, list) else str(item.value)
        bundled.add_row(item.name, value, item.source)
    yield bundled

    files = Table("Kind", "File", "In force", "J9330", title="Loaded files")
    for asp in reference.asp:
        row = asp.rows.get("J9330")
        limit = (
            f"payment limit {row.payment_limit} per unit ({row.dosage})"
            if row and row.payment_limit is not None
            else "no J9330 payment limit"
        )
        files.add_row("ASP", asp.path.name, _period(asp), limit)
    for crosswalk in reference.crosswalks:
        rows = [r for r in crosswalk.entries if r.hcpcs == "J9330"]
        summary = "; ".join(f"{r.ndc} {r.drug_name}: {r.bill_units_pkg} units/package" for r in rows) or "no J9330 NDCs"
        files.add_row("crosswalk", crosswalk.path.name, _period(crosswalk), summary)
    for table in reference.mue:
        row = table.rows.get("J9330")
        summary = f"{table.kind.replace('_', ' ')} MUE {row.value} (MAI {row.mai})" if row else "no J9330 MUE"
        files.add_row("MUE", table.path.name, _period(table), summary)
    for fee in reference.fees:
        files.add_row(
            "fee schedule",
            fee.path.name,
            fee.effective.span(),
            f"{fee.payer}: {fee.rate_per_unit} per unit",
        )
    for code_file in reference.icd10:
        billable = sum(code_file.codes.values())
        headers = len(code_file.codes) - billable
        files.add_row(
            "ICD-10-CM",
            Path(code_file.path).name,
            code_file.effective.span(),
            f"FY{code_file.fiscal_year} {code_file.release} release: {billable} billable codes"
            + (f", {headers} headers" if headers else " (a codes file: headers not listed)"),
        )
    for directory in reference.ndc_directories:
        listed = [
            f"{code} marketed {directory.packages[code].describe()}"
            for code in sorted(reference.temsirolimus_ndcs)
            if code in directory.packages
        ]
        summary = f"{len(directory.packages)} packages; " + ("; ".join(listed) or "no bundled temsirolimus NDC listed")
        files.add_row("NDC Directory", Path(directory.path).name, "as downloaded", summary)
    for kind in reference.not_loaded:
        option, argument, what = OPTIONS[kind]
        files.add_row(what, NOT_LOADED, "-", f"load with {option} (Editor({argument}=...))")
    yield files
