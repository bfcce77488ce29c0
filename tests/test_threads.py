"""Editor.check from several threads: safe, and equal to checking the same claims serially.

The engine's C calls are serialised by ``engine._LOCK``; the Editor holds its own
lock around the whole claim (model, history, facts, engine, benchmark, record).
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from j9330_rules import Editor, hookimpl
from j9330_rules.writers.serialise import result_to_dict
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, make_claim
from tests.test_parallel import mixed_claim

THREADS, PER_THREAD = 8, 200


def outcome(editor: Editor, claim) -> dict:
    """check() as data: the result, or the error it raised."""
    try:
        return result_to_dict(editor.check(claim))
    except Exception as exc:
        return {"raised": type(exc).__name__, "message": str(exc)}


@pytest.fixture
def fast_switching():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    yield
    sys.setswitchinterval(interval)


def run_threads(work, count: int = THREADS) -> list:
    barrier = threading.Barrier(count)

    def start(number: int):
        barrier.wait()  # all threads begin together
        return work(number)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def test_8_threads_of_200_claims_equal_serial(editor, fast_switching):
    batches = [[mixed_claim(thread * PER_THREAD + index) for index in range(PER_THREAD)] for thread in range(THREADS)]
    serial = [[outcome(editor, claim) for claim in batch] for batch in batches]
    assert sum("raised" in o for batch in serial for o in batch) > 100  # bad claims raise in threads too
    concurrent = run_threads(lambda number: [outcome(editor, claim) for claim in batches[number]])
    assert concurrent == serial


def test_check_many_from_threads_equals_serial(editor, fast_switching):
    batches = [[mixed_claim(5000 + thread * 50 + index) for index in range(50)] for thread in range(THREADS)]
    serial = [[result_to_dict(r) for r in editor.check_many(batch)] for batch in batches]
    concurrent = run_threads(lambda number: [result_to_dict(r) for r in editor.check_many(batches[number])])
    assert concurrent == serial


class Overlap:
    """TEST-ONLY plugin: counts how many checks are inside the pipeline at once."""

    def __init__(self):
        self.active = 0
        self.most = 0

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        self.active += 1
        self.most = max(self.most, self.active)
        time.sleep(0.0005)  # give other threads every chance to enter
        self.active -= 1
        return None


def test_checks_of_one_editor_run_one_at_a_time():
    overlap = Overlap()
    editor = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, plugins=[overlap])
    results = run_threads(lambda number: [editor.check(make_claim(claim_id=f"O-{number}-{i}")) for i in range(25)])
    assert all(r.error is None for batch in results for r in batch)
    assert overlap.most == 1


def test_threads_sharing_a_claim_history_equal_serial(tmp_path, fast_switching):
    """Each thread checks its own patients' doses in order; the history makes FREQUENCY depend on it."""

    def batch(thread: int) -> list[dict]:
        claims = []
        for dose in range(12):
            for patient in range(3):
                claim = make_claim(claim_id=f"T{thread}-P{patient}-{dose}")
                claim["patient"]["member_id"] = f"MEMBER-{thread}-{patient}"
                day = dt.date(2026, 1, 5) + dt.timedelta(days=dose * (4 + (thread + patient) % 5))
                for line in claim["lines"]:
                    line["service_date"] = day.isoformat()
                claims.append(claim)
        return claims

    batches = [batch(thread) for thread in range(THREADS)]
    serial_editor = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history=tmp_path / "serial.sqlite3")
    serial = [[outcome(serial_editor, claim) for claim in claims] for claims in batches]
    flagged = sum(any(f["code"] == "FREQUENCY" for f in o["findings"]) for claims in serial for o in claims)
    assert 0 < flagged < THREADS * 36
    shared = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history=tmp_path / "threads.sqlite3")
    concurrent = run_threads(lambda number: [outcome(shared, claim) for claim in batches[number]])
    assert concurrent == serial


def test_the_editor_lock_is_reentrant_and_separate_from_the_engine_lock(editor):
    from j9330_rules.engines import durable as engine

    with editor._lock:  # a plugin calling back into check() from inside a check must not deadlock
        assert editor.check(make_claim()).error is None
    assert editor._lock is not engine._LOCK
