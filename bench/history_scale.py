"""Claim history at scale: N claims of one member on one date against N claims of N members.

    python bench/history_scale.py               # 16,000 claims each way
    python bench/history_scale.py --claims 4000

A placeholder member id in a feed puts every claim under one member, so each check reads that
member's history: the time must stay near the distinct-member run's, not grow with N squared.
The claims are the contract's clean example (made-up data) with fresh claim ids.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from j9330_rules import Editor

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "01-clean-partial-kit.json"


def claims(n: int, *, one_member: bool) -> list[dict]:
    base = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        claim = copy.deepcopy(base)
        claim["claim_id"] = f"H-{i:06d}"
        claim["patient"]["member_id"] = "PLACEHOLDER" if one_member else f"M{i:06d}"
        out.append(claim)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=16_000)
    args = parser.parse_args()
    seconds = {}
    for one_member in (False, True):
        with tempfile.TemporaryDirectory() as folder:
            editor = Editor(history=Path(folder) / "history.sqlite3")
            batch = claims(args.claims, one_member=one_member)
            started = time.perf_counter()
            results = list(editor.check_many(batch))
            seconds[one_member] = time.perf_counter() - started
            editor.history.close()
        label = "one member, one date" if one_member else "distinct members"
        frequency = sum(any(f.code == "FREQUENCY" for f in r.findings) for r in results)
        print(f"{label:>22}: {args.claims:,} claims in {seconds[one_member]:.1f} s ({frequency:,} with FREQUENCY)")
    print(f"one member / distinct members: {seconds[True] / seconds[False]:.2f}x the time")


if __name__ == "__main__":
    main()
