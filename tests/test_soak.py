"""Soak: a million consecutive claims through one durable-rules Editor's check_many
(and 200,000 through a compiled one).

Every result must equal the result of its template checked on its own (so no
engine state is shared between claims), nothing may crash, and memory must
level off (within 10% from claim 100,000 on): the adapter deletes the one
engine session after every claim, and the compiled engine's memos are bounded.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import pytest

from j9330_rules import Editor
from tests.conftest import ROOT, make_claim

#: Claims per engine: durable-rules keeps state in C between calls, so it soaks longest.
TOTALS = {"durable": 1_000_000, "compiled": 200_000}
BASELINE_AT = 100_000


def vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def templates() -> list[dict]:
    """Firing, clean, multi-date, per-payer and invalid claims, and claims no rule matches."""
    firing = make_claim()
    firing["lines"][0]["units"] = 21  # UNITS_DOSE_MISMATCH and WASTE_ARITHMETIC

    twins = make_claim()
    twins["lines"] = [dict(twins["lines"][0], units=21), dict(twins["lines"][0], line=2, units=21), twins["lines"][2]]

    two_dates = copy.deepcopy(firing)
    two_dates["lines"] += [
        {
            "line": 4,
            "hcpcs": "J9330",
            "modifiers": ["JZ"],
            "units": 25,
            "service_date": "2026-02-23",
            "ndc": "00008117901",
            "dx_pointers": [1],
            "dose_mg": "25",
            "documentation": {"lot": "X1", "expiration": "2027-01-31", "route": "IV"},
        },
        {"line": 5, "hcpcs": "96413", "units": 1, "service_date": "2026-02-23", "dx_pointers": [1]},
    ]

    tiny_dose = make_claim()
    tiny_dose["lines"][0]["dose_mg"] = "0.00001"

    no_ndc = make_claim(payer="aetna")
    for line in no_ndc["lines"]:
        line.pop("ndc", None)

    no_drug_line = make_claim(lines=[make_claim()["lines"][2]])  # only the sentinel fires

    found = [
        make_claim(),
        no_drug_line,
        {**no_drug_line, "payer": "bcbs"},
        firing,
        make_claim(payer="aetna"),
        {**firing, "payer": "aetna"},
        make_claim(payer="bcbs"),
        {**firing, "payer": "cigna"},
        make_claim(payer="uhc"),
        twins,
        two_dates,
        tiny_dose,
        no_ndc,
        make_claim(payer="no_such_payer"),  # a ClaimError: a result with ``error``
        make_claim(lines=[]),  # invalid: no lines
    ]
    for path in sorted((ROOT / "examples").glob("*.json")):
        found.append(json.loads(path.read_text()))
    for path in sorted((ROOT / "examples").glob("*.ndjson")):
        found += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def outcome(result) -> tuple:
    return (result.payer, result.findings, result.error, result.payment)


@pytest.mark.slow
@pytest.mark.parametrize("engine", sorted(TOTALS))
def test_soak_claims_share_no_state_and_memory_levels_off(engine):
    total = TOTALS[engine]
    editor = Editor(engine=engine)
    bases = templates()
    # Expected once per template, each checked alone by a fresh editor.
    alone = Editor(engine=engine)
    expected = [outcome(next(alone.check_many([template]))) for template in bases]

    def fired(findings) -> bool:  # a rule fired (host findings such as PAYER_POLICY_NOT_PROVIDED aside)
        return any(not (f.rule_id or "").startswith("HOST-") for f in findings)

    firing = sum(1 for _, findings, error, _ in expected if error is None and fired(findings))
    not_firing = sum(1 for _, findings, error, _ in expected if error is None and not fired(findings))
    failing = sum(1 for *_, error, _ in expected if error is not None)
    assert firing >= 5 and not_firing >= 2 and failing >= 2, (firing, not_firing, failing)
    assert len({repr(outcome) for outcome in expected}) >= 10  # the templates really differ

    n = len(bases)
    # A deterministic order that is not a plain cycle: firing and clean claims follow each other in many ways.
    order = [(index * 7 + index // n) % n for index in range(total)]

    def claims():
        for index, which in enumerate(order):
            yield {**bases[which], "claim_id": f"SOAK-{index:06d}"}

    checked = 0
    rss_baseline = rss_end = 0
    started = time.perf_counter()
    for index, result in enumerate(editor.check_many(claims())):
        which = order[index]
        assert result.claim_id == f"SOAK-{index:06d}"
        assert outcome(result) == expected[which], (index, which)
        checked += 1
        if checked == BASELINE_AT:
            rss_baseline = vm_rss_kib()
    rss_end = vm_rss_kib()
    elapsed = time.perf_counter() - started

    assert checked == total
    growth = rss_end - rss_baseline
    allowed = max(rss_baseline // 10, 20 * 1024)
    print(
        f"\nsoak ({engine}): {total} claims in {elapsed:.1f} s ({total / elapsed:.0f} claims/s); "
        f"VmRSS {rss_baseline} KiB at claim {BASELINE_AT}, {rss_end} KiB at claim {total} "
        f"(growth {growth} KiB, allowed {allowed} KiB)"
    )
    assert growth < allowed, (rss_baseline, rss_end)
