"""X12 837 reading at scale: one transaction set of N claims, clean or with an error in each.

    python bench/x12_scale.py                 # 1,600 and 16,000 claims, clean and with errors
    python bench/x12_scale.py --claims 800 --where subscriber

Each claim is the clean fixture's subscriber loop (tests/fixtures/x12/837p_clean.x12, made-up
data) under its own HL, all in one ST/SE, as real batches carry thousands of claims in one set.
"With errors" gives every claim an invalid date of service, an error inside its own loop 2300
(``--where subscriber``: an invalid date of birth in its subscriber loop 2010BA instead): each
claim must still get exactly one result, and the time must grow linearly with N. The text is
read as bytes from a stream, as a file is; "peak MB" is the process's peak RSS so far.
"""

from __future__ import annotations

import argparse
import io
import resource
import time
from pathlib import Path

from j9330_rules.readers import read_stream

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "x12" / "837p_clean.x12"


def batch(claims: int, *, errors: bool, where: str = "claim") -> str:
    segments = [s.strip() for s in FIXTURE.read_text(encoding="utf-8").split("~") if s.strip()]
    head, subscriber, tail = segments[:12], segments[12:34], segments[35:]
    body = []
    for n in range(claims):
        loop = [s.replace("CLM-0001", f"CLM-{n:06d}") for s in subscriber]
        loop[0] = f"HL*{n + 2}*1*22*0"
        if errors and where == "subscriber":
            loop[5] = "DMG*D8*19561302*F"  # the subscriber's date of birth: month 13
        elif errors:
            loop[11] = "DTP*472*D8*2026ABCD"  # the first line's date of service: not a date
        body += loop
    transaction = head[2:] + body
    se = f"SE*{len(transaction) + 1}*0001"
    return "~\n".join([*head[:2], *transaction, se, *tail]) + "~\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, nargs="*", default=[1600, 16000])
    parser.add_argument("--where", choices=["claim", "subscriber"], default="claim", help="where the errors are")
    args = parser.parse_args()
    print(
        f"{'claims':>8} {'errors':>7} {'seconds':>8} {'claims/s':>9} {'results':>8} {'unreadable':>10} {'peak MB':>8}"
    )
    rates = {}
    for n in args.claims:
        for errors in (False, True):
            data = batch(n, errors=errors, where=args.where).encode()
            started = time.perf_counter()
            results = unreadable = 0
            for item in read_stream(io.BytesIO(data), "bench.x12", "x12"):  # counted, not kept: the reader's memory
                results += 1
                unreadable += not isinstance(item, dict)
            seconds = time.perf_counter() - started
            rates[n, errors] = n / seconds
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{n:>8,} {errors!s:>7} {seconds:>8.2f} {n / seconds:>9,.0f} {results:>8,} {unreadable:>10,}"
                f" {peak:>8.0f}"
            )
            assert results == n, f"{n} claims gave {results} results"
    if len(args.claims) > 1:
        small, large = min(args.claims), max(args.claims)
        for errors in (False, True):
            ratio = rates[large, errors] / rates[small, errors]
            print(f"with errors={errors}: claims/s at {large:,} is {ratio:.2f}x that at {small:,} (1.00 = linear)")


if __name__ == "__main__":
    main()
