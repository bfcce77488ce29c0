"""Workers killed at random with a claim history on: the results must equal the serial run's.

    python bench/worker_kills.py                  # 8,000 claims, a worker killed every 0.5 s
    python bench/worker_kills.py --claims 2000 --every 0.2

The claims are the contract's clean example (made-up data) for 400 members, each dosed every 3
to 8 days in interleaved rounds, so the FREQUENCY edit depends on the order a member's claims
are seen. The serial run is the reference. The parallel run (workers=2) has a thread that sends
SIGKILL to a random worker at intervals, wherever it is: checking a chunk, writing its records,
or between. The comparison counts results that differ and history rows that differ.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from j9330_rules import Editor
from j9330_rules.writers.serialise import result_to_dict

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "01-clean-partial-kit.json"


def claims(n: int, members: int) -> list[dict]:
    base = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        member, round_ = i % members, i // members
        claim = copy.deepcopy(base)
        claim["claim_id"] = f"K-{i:06d}"
        claim["patient"]["member_id"] = f"M{member:05d}"
        day = dt.date(2026, 1, 5) + dt.timedelta(days=round_ * (3 + member % 6))
        for line in claim["lines"]:
            line["service_date"] = day.isoformat()
        out.append(claim)
    return out


def stored(path: Path) -> list[tuple]:
    """The history's administrations (patient keys differ per file: compared by claim id)."""
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT claim_id, service_date, units FROM administrations"))


def killer(stop: threading.Event, every: float, kills: list[int]) -> None:
    rng = random.Random(9330)
    while not stop.wait(every * rng.uniform(0.5, 1.5)):
        workers = [p for p in multiprocessing.active_children() if p.name.startswith("j9330-rules-worker")]
        if workers:
            try:
                os.kill(rng.choice(workers).pid, signal.SIGKILL)
                kills.append(1)
            except (ProcessLookupError, ValueError):
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=8_000)
    parser.add_argument("--members", type=int, default=400)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between kills, on average")
    args = parser.parse_args()
    batch = claims(args.claims, args.members)
    with tempfile.TemporaryDirectory() as folder:
        serial_path, parallel_path = Path(folder) / "serial.sqlite3", Path(folder) / "parallel.sqlite3"
        started = time.perf_counter()
        expected = [result_to_dict(r) for r in Editor(history=serial_path).check_many(batch)]
        serial_s = time.perf_counter() - started
        stop, kills = threading.Event(), []
        thread = threading.Thread(target=killer, args=(stop, args.every, kills), daemon=True)
        started = time.perf_counter()
        thread.start()
        try:
            got = [result_to_dict(r) for r in Editor(history=parallel_path).check_many(batch, workers=2)]
        finally:
            stop.set()
            thread.join()
        parallel_s = time.perf_counter() - started
        differ = sum(a != b for a, b in zip(expected, got, strict=True))
        frequency = sum(any(f["code"] == "FREQUENCY" for f in r["findings"]) for r in expected)
        rows_serial, rows_parallel = stored(serial_path), stored(parallel_path)
    print(f"serial: {len(expected):,} results in {serial_s:.1f} s, {frequency:,} with FREQUENCY")
    print(f"workers=2 with {len(kills)} workers killed (SIGKILL): {len(got):,} results in {parallel_s:.1f} s")
    print(f"results that differ from the serial run: {differ} of {len(expected):,}")
    print(
        f"history rows: serial {len(rows_serial):,}, parallel {len(rows_parallel):,}; "
        f"{'identical' if rows_serial == rows_parallel else 'DIFFERENT'}"
    )


if __name__ == "__main__":
    main()
