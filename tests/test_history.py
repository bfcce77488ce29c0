"""ClaimHistory: the per-patient record the FREQUENCY and UNITS_OVER_POLICY_LIMIT edits read."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import sqlite3
import threading
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from j9330_rules.errors import ClaimError
from j9330_rules.history import SCHEMA_VERSION, ClaimHistory, HistoryError
from tests.conftest import make_claim

MEMBER = "W123456789-ZZTESTMEMBER"
OTHER_MEMBER = "W987654321-ZZOTHERMEMBER"
PAYER = "medicare"
MAR_2 = date(2026, 3, 2)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite3"


@pytest.fixture
def history(db_path: Path):
    with ClaimHistory(db_path) as store:
        yield store


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def _count(path: Path, table: str) -> int:
    with _raw(path) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# -- opening --------------------------------------------------------------------------


def test_opens_in_wal_mode_with_busy_timeout_and_schema_version(db_path):
    with ClaimHistory(db_path, timeout=7.5) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7500
    with _raw(db_path) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version")]
        salt = conn.execute("SELECT value FROM meta WHERE key = 'patient_salt'").fetchone()[0]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    assert isinstance(salt, bytes) and len(salt) == 32


def test_reopening_keeps_schema_and_salt(db_path):
    with ClaimHistory(db_path) as store:
        key = store.patient_key(MEMBER)
        store.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    with ClaimHistory(db_path) as store:
        assert store.patient_key(MEMBER) == key
        assert store.window(MEMBER, PAYER, MAR_2, 0) == [(MAR_2, 20)]
    assert _count(db_path, "schema_version") == SCHEMA_VERSION  # each migration once


def test_database_file_is_owner_only(db_path):
    ClaimHistory(db_path).close()
    assert db_path.stat().st_mode & 0o077 == 0


def test_missing_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-dir" / "history.sqlite3"
    with pytest.raises(HistoryError, match="directory does not exist") as info:
        ClaimHistory(missing)
    assert "no-such-dir" in str(info.value)
    assert not missing.parent.exists()


def test_newer_schema_is_refused(db_path):
    ClaimHistory(db_path).close()
    with _raw(db_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    with pytest.raises(HistoryError, match="schema version"):
        ClaimHistory(db_path)


def test_not_a_database_is_a_history_error(db_path):
    db_path.write_bytes(b"this is not an sqlite file at all" * 100)
    with pytest.raises(HistoryError):
        ClaimHistory(db_path)


def test_closed_store_raises_and_close_is_idempotent(db_path):
    store = ClaimHistory(db_path)
    store.close()
    store.close()
    with pytest.raises(HistoryError, match="closed"):
        store.window(MEMBER, PAYER, MAR_2, 6)
    with pytest.raises(HistoryError, match="closed"):
        store.record(MEMBER, PAYER, "C1", {MAR_2: 1})


# -- record and window ------------------------------------------------------------------


def test_window_returns_other_administrations_in_date_order(history):
    history.record(MEMBER, PAYER, "C3", {date(2026, 3, 16): 25})
    history.record(MEMBER, PAYER, "C1", {date(2026, 3, 2): 20, date(2026, 3, 9): 25})
    history.record(MEMBER, PAYER, "C2", {date(2026, 3, 8): 5})
    assert history.window(MEMBER, PAYER, date(2026, 3, 9), 7) == [
        (date(2026, 3, 2), 20),
        (date(2026, 3, 8), 5),
        (date(2026, 3, 9), 25),
        (date(2026, 3, 16), 25),
    ]
    assert history.window(MEMBER, PAYER, date(2026, 3, 9), 1) == [
        (date(2026, 3, 8), 5),
        (date(2026, 3, 9), 25),
    ]


def test_window_is_per_patient_and_per_payer(history):
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    history.record(OTHER_MEMBER, PAYER, "C2", {MAR_2: 10})
    history.record(MEMBER, "aetna", "C3", {MAR_2: 15})
    assert history.window(MEMBER, PAYER, MAR_2, 7) == [(MAR_2, 20)]
    assert history.window(OTHER_MEMBER, PAYER, MAR_2, 7) == [(MAR_2, 10)]
    assert history.window(MEMBER, "aetna", MAR_2, 7) == [(MAR_2, 15)]
    assert history.window(OTHER_MEMBER, "aetna", MAR_2, 7) == []


def test_same_date_on_two_claims_gives_two_entries(history):
    history.record(MEMBER, PAYER, "C2", {MAR_2: 5})
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    assert history.window(MEMBER, PAYER, MAR_2, 0) == [(MAR_2, 20), (MAR_2, 5)]


@pytest.mark.parametrize("days_apart", [-7, -6, 6, 7])
def test_window_boundary_six_versus_seven_days(history, days_apart):
    """Inclusive window: days=6 is 'under 7 days apart'; 7 days apart is outside it, inside days=7."""
    checked = date(2026, 3, 10)
    earlier_or_later = date.fromordinal(checked.toordinal() + days_apart)
    history.record(MEMBER, PAYER, "PRIOR", {earlier_or_later: 25})
    under_seven = history.window(MEMBER, PAYER, checked, 6, exclude_claim="NEW")
    within_seven = history.window(MEMBER, PAYER, checked, 7, exclude_claim="NEW")
    assert within_seven == [(earlier_or_later, 25)]
    if abs(days_apart) == 6:
        assert under_seven == [(earlier_or_later, 25)]
    else:
        assert under_seven == []


def test_window_crosses_month_and_year_boundaries(history):
    history.record(MEMBER, PAYER, "C1", {date(2025, 12, 29): 25})
    assert history.window(MEMBER, PAYER, date(2026, 1, 4), 6) == [(date(2025, 12, 29), 25)]
    assert history.window(MEMBER, PAYER, date(2026, 1, 5), 6) == []


def test_window_days_zero_and_extreme_dates(history):
    history.record(MEMBER, PAYER, "C1", {date(1, 1, 1): 1, date(9999, 12, 31): 2})
    assert history.window(MEMBER, PAYER, date(1, 1, 3), 5) == [(date(1, 1, 1), 1)]
    assert history.window(MEMBER, PAYER, date(9999, 12, 30), 10**7) == [(date(1, 1, 1), 1), (date(9999, 12, 31), 2)]
    assert history.window(MEMBER, PAYER, date(9999, 12, 30), 0) == []


def test_rerecord_replaces_the_claim_without_double_counting(history, db_path):
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20, date(2026, 3, 9): 25})
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20, date(2026, 3, 9): 25})
    assert history.window(MEMBER, PAYER, date(2026, 3, 5), 7) == [(MAR_2, 20), (date(2026, 3, 9), 25)]
    history.record(MEMBER, PAYER, "C1", {date(2026, 3, 3): 10})  # corrected claim: old dates go
    assert history.window(MEMBER, PAYER, date(2026, 3, 5), 7) == [(date(2026, 3, 3), 10)]
    assert _count(db_path, "claims") == 1
    assert _count(db_path, "administrations") == 1


def test_rerecord_of_same_claim_id_for_another_payer_or_patient_is_separate(history):
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    history.record(MEMBER, "aetna", "C1", {MAR_2: 5})
    history.record(OTHER_MEMBER, PAYER, "C1", {MAR_2: 7})
    assert history.window(MEMBER, PAYER, MAR_2, 0) == [(MAR_2, 20)]


def test_exclude_claim_hides_the_claim_being_checked(history):
    history.record(MEMBER, PAYER, "PRIOR", {date(2026, 3, 5): 25})
    history.record(MEMBER, PAYER, "NEW", {date(2026, 3, 10): 25})
    assert history.window(MEMBER, PAYER, date(2026, 3, 10), 6, exclude_claim="NEW") == [(date(2026, 3, 5), 25)]
    assert history.window(MEMBER, PAYER, date(2026, 3, 10), 6) == [(date(2026, 3, 5), 25), (date(2026, 3, 10), 25)]
    assert history.window(MEMBER, PAYER, date(2026, 3, 10), 6, exclude_claim="UNKNOWN") == [
        (date(2026, 3, 5), 25),
        (date(2026, 3, 10), 25),
    ]


def test_empty_administrations_keeps_the_claim_with_no_dates(history, db_path):
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    history.record(MEMBER, PAYER, "C1", {})
    assert history.window(MEMBER, PAYER, MAR_2, 7) == []
    assert _count(db_path, "claims") == 1


def test_forget_removes_a_voided_claim(history):
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    assert history.forget(MEMBER, PAYER, "C1") is True
    assert history.forget(MEMBER, PAYER, "C1") is False
    assert history.window(MEMBER, PAYER, MAR_2, 7) == []


def test_failed_record_leaves_the_previous_version(history, db_path):
    history.record(MEMBER, PAYER, "C1", {MAR_2: 20})
    # Make the insert fail after the delete ran: the transaction must roll back whole.
    with _raw(db_path) as conn:
        conn.execute(
            "CREATE TRIGGER fail_insert BEFORE INSERT ON administrations"
            " WHEN NEW.units = 13 BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(HistoryError, match="refused"):
        history.record(MEMBER, PAYER, "C1", {date(2026, 3, 3): 1, date(2026, 3, 4): 13})
    assert history.window(MEMBER, PAYER, MAR_2, 7) == [(MAR_2, 20)]


@pytest.mark.parametrize(
    ("administrations", "error"),
    [
        ({datetime(2026, 3, 2, 9, 0): 20}, TypeError),
        ({"2026-03-02": 20}, TypeError),
        ({MAR_2: 2.5}, TypeError),
        ({MAR_2: True}, TypeError),
        ({MAR_2: -1}, ClaimError),
        ([(MAR_2, 1)], TypeError),
    ],
)
def test_bad_administrations_are_refused_without_writing(history, db_path, administrations, error):
    with pytest.raises(error) as info:
        history.record(MEMBER, PAYER, "C1", administrations)
    assert MEMBER not in str(info.value)
    assert _count(db_path, "claims") == 0


def test_bad_window_arguments(history):
    with pytest.raises(ClaimError):
        history.window(MEMBER, PAYER, MAR_2, -1)
    with pytest.raises(TypeError):
        history.window(MEMBER, PAYER, MAR_2, 6.0)
    with pytest.raises(TypeError):
        history.window(MEMBER, PAYER, datetime(2026, 3, 2), 6)
    with pytest.raises(ClaimError):
        history.window("", PAYER, MAR_2, 6)
    with pytest.raises(TypeError):
        history.window(12345, PAYER, MAR_2, 6)


# -- patient identifiers ---------------------------------------------------------------


def test_patient_key_is_a_salted_hmac(history, tmp_path):
    key = history.patient_key(MEMBER)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == history.patient_key(MEMBER)
    assert key != history.patient_key(OTHER_MEMBER)
    assert key != hashlib.sha256(MEMBER.encode()).hexdigest()
    with ClaimHistory(tmp_path / "another.sqlite3") as other:
        assert other.patient_key(MEMBER) != key  # a different database draws a different salt


def test_clear_identifier_never_reaches_the_database_files(db_path):
    with ClaimHistory(db_path) as store:
        for number in range(20):
            store.record(MEMBER, PAYER, f"C{number}", {date(2026, 1, 1 + number): 25})
        store.record(OTHER_MEMBER, PAYER, "X1", {MAR_2: 1})
        # Look while the WAL is live and after checkpoint on close.
        live = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
        key = store.patient_key(MEMBER)
    closed = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for blob in (live, closed):
        for member in (MEMBER, OTHER_MEMBER):
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert member.encode(encoding) not in blob
    assert key.encode() in closed  # sanity: the hashed key is what is stored (checkpointed on close)
    with _raw(db_path) as conn:
        stored = {row[0] for row in conn.execute("SELECT patient FROM administrations")}
    assert key in stored and MEMBER not in stored


def test_no_identifier_in_errors_or_logs(db_path, caplog):
    caplog.set_level(logging.DEBUG)
    with ClaimHistory(db_path) as store:
        store.record(MEMBER, PAYER, "C1", {MAR_2: 20})
        key = store.patient_key(MEMBER)
        messages = []
        for call in (
            lambda: store.record(MEMBER, PAYER, "C1", {MAR_2: -5}),
            lambda: store.record(MEMBER, PAYER, "C1", {datetime(2026, 3, 2): 5}),
            lambda: store.window(MEMBER, PAYER, MAR_2, -1),
            lambda: store.record(MEMBER, "", "C1", {MAR_2: 1}),
        ):
            with pytest.raises((ClaimError, TypeError)) as info:
                call()
            messages.append(str(info.value))
    with pytest.raises(HistoryError) as info:
        store.record(MEMBER, PAYER, "C1", {MAR_2: 1})
    messages.append(str(info.value))
    messages.extend(record.getMessage() for record in caplog.records)
    for text in messages:
        assert MEMBER not in text and key not in text


# -- threads and processes -------------------------------------------------------------


def test_one_store_shared_by_threads(history, db_path):
    def worker(thread: int) -> None:
        for number in range(50):
            history.record(MEMBER, PAYER, f"T{thread}-{number}", {date(2026, 1, 1): 1})
            history.window(MEMBER, PAYER, date(2026, 1, 1), 6)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _count(db_path, "claims") == 200
    assert sum(units for _, units in history.window(MEMBER, PAYER, date(2026, 1, 1), 0)) == 200


PROCESSES = 4
CLAIMS_PER_PROCESS = 200
RERECORDS_PER_PROCESS = 50


def _record_distinct_claims(path: str, worker: int, barrier, results) -> None:
    barrier.wait()  # every process opens the brand-new file at the same moment
    with ClaimHistory(path) as store:
        for number in range(CLAIMS_PER_PROCESS):
            store.record(
                MEMBER,
                PAYER,
                f"P{worker}-C{number:03d}",
                {date.fromordinal(date(2026, 1, 1).toordinal() + number): 1},
            )
        results.put((worker, store.patient_key(MEMBER)))


def _rerecord_same_claim(path: str, worker: int, barrier, results) -> None:
    with ClaimHistory(path) as store:
        barrier.wait()
        for number in range(RERECORDS_PER_PROCESS):
            # Each version has worker-specific dates and units, so a mix of versions would show.
            first = date(2026, 2, 1 + worker)
            store.record(MEMBER, PAYER, "SHARED", {first: 100 * worker + number, date(2026, 2, 20 + worker): worker})
        results.put((worker, "done"))


def _run_processes(target, path: Path) -> list[tuple[int, str]]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=target, args=(str(path), n, barrier, results)) for n in range(PROCESSES)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return outcomes


def test_concurrent_processes_lose_no_claims(db_path):
    outcomes = _run_processes(_record_distinct_claims, db_path)
    total = PROCESSES * CLAIMS_PER_PROCESS
    assert _count(db_path, "claims") == total
    assert _count(db_path, "administrations") == total
    with _raw(db_path) as conn:
        claim_ids = {row[0] for row in conn.execute("SELECT claim_id FROM claims")}
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'patient_salt'").fetchone()[0] == 1
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert claim_ids == {f"P{w}-C{n:03d}" for w in range(PROCESSES) for n in range(CLAIMS_PER_PROCESS)}
    # All racing first openers agreed on one salt, so one patient has one key.
    assert len({key for _, key in outcomes}) == 1
    with ClaimHistory(db_path) as store:
        assert {key for _, key in outcomes} == {store.patient_key(MEMBER)}
        window = store.window(MEMBER, PAYER, date(2026, 1, 1), CLAIMS_PER_PROCESS)
    assert len(window) == total


def test_concurrent_rerecords_of_one_claim_leave_exactly_one_copy(db_path):
    ClaimHistory(db_path).close()
    _run_processes(_rerecord_same_claim, db_path)
    assert _count(db_path, "claims") == 1
    with ClaimHistory(db_path) as store:
        rows = store.window(MEMBER, PAYER, date(2026, 2, 12), 30)
    # Exactly one writer's last version, whole.
    assert len(rows) == 2
    (first_day, first_units), (last_day, last_units) = rows
    worker = last_units
    assert first_day == date(2026, 2, 1 + worker)
    assert last_day == date(2026, 2, 20 + worker)
    assert first_units == 100 * worker + RERECORDS_PER_PROCESS - 1


def _use_inherited(store: ClaimHistory, results) -> None:  # pragma: no cover - runs in a fork
    try:
        store.window(MEMBER, PAYER, MAR_2, 6)
    except HistoryError as exc:
        results.put(str(exc))
    else:
        results.put("no error")


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_store_inherited_across_fork_is_refused(history):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=_use_inherited, args=(history, results))
    process.start()
    message = results.get(timeout=30)
    process.join(timeout=30)
    assert "another process" in message
    assert history.window(MEMBER, PAYER, MAR_2, 6) == []  # the parent's connection still works


def _member_claim(i):
    claim = make_claim(claim_id=f"C{i}")
    claim["patient"]["member_id"] = f"M{i}"
    return claim


def _failing_after(editor, n):
    """The editor's history store fails (as on a full disk) from its n+1-th record on."""
    from j9330_rules import HistoryError

    record = editor.history.record
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n:
            raise HistoryError("claim history: recording a claim failed: database or disk is full")
        return record(*args, **kwargs)

    editor.history.record = failing


def test_a_history_failure_stops_check_many_instead_of_stripping_later_claims(tmp_path):
    from j9330_rules import Editor, HistoryError

    editor = Editor(history=tmp_path / "h.sqlite3")
    _failing_after(editor, 3)
    claims = [_member_claim(i) for i in range(10)]
    seen = []
    with pytest.raises(HistoryError, match="disk is full"):
        for result in editor.check_many(claims):
            seen.append(result)
    assert [r.claim_id for r in seen] == ["C0", "C1", "C2"]
    assert all(r.error is None for r in seen)


def test_the_cli_says_why_the_run_stopped_and_keeps_the_results_so_far(tmp_path, monkeypatch):
    import j9330_rules.cli as cli
    from j9330_rules import Editor

    built = Editor

    def editor_failing(**options):
        editor = built(**options)
        _failing_after(editor, 2)
        return editor

    monkeypatch.setattr(cli, "Editor", editor_failing)
    path = tmp_path / "claims.ndjson"
    path.write_text(
        "".join(json.dumps(_member_claim(i)) + "\n" for i in range(5)),
        encoding="utf-8",
    )
    out = tmp_path / "out.json"
    with pytest.raises(SystemExit) as exit_:
        cli.entry(
            [
                "--no-config",
                "check",
                "--format",
                "json",
                "--history",
                str(tmp_path / "h.sqlite3"),
                "-o",
                str(out),
                str(path),
            ]
        )
    assert exit_.value.code == cli.EXIT_RUN_FAILED
    assert [r["claim_id"] for r in json.loads(out.read_text(encoding="utf-8"))] == ["C0", "C1"]


def test_units_by_date_sums_each_date_once_whatever_the_claims(history):
    """One entry per date, so a member with thousands of claims on one date costs one row."""
    for n in range(50):
        history.record(MEMBER, PAYER, f"C{n}", {MAR_2: 2})
    history.record(MEMBER, PAYER, "LATER", {date(2026, 3, 5): 25})
    assert history.units_by_date(MEMBER, PAYER, MAR_2, 6, exclude_claim="C0") == [(MAR_2, 98), (date(2026, 3, 5), 25)]
    assert len(history.window(MEMBER, PAYER, MAR_2, 6)) == 51  # the raw entries, claim by claim
    with pytest.raises(ClaimError):
        history.units_by_date(MEMBER, PAYER, MAR_2, -1)


def test_the_date_totals_agree_with_the_claims_through_re_records_and_forgets(history):
    """units_by_date reads kept totals: after replacing and forgetting claims they still equal the
    sum of the claims' own rows (window), date by date, with the checked claim left out."""
    from collections import Counter

    history.record(MEMBER, PAYER, "A", {MAR_2: 20, date(2026, 3, 3): 5})
    history.record(MEMBER, PAYER, "B", {MAR_2: 25})
    history.record(MEMBER, PAYER, "A", {MAR_2: 10})  # re-recorded: replaces A's dates
    history.record(MEMBER, PAYER, "C", {date(2026, 3, 4): 0})  # a zero-unit date still counts
    history.record(MEMBER, PAYER, "D", {MAR_2: 7})
    assert history.forget(MEMBER, PAYER, "D")
    for exclude in (None, "A", "B", "C", "NEW"):
        summed = Counter()
        for day, units in history.window(MEMBER, PAYER, MAR_2, 6, exclude_claim=exclude):
            summed[day] += units
        assert history.units_by_date(MEMBER, PAYER, MAR_2, 6, exclude_claim=exclude) == sorted(summed.items())


def test_a_version_1_file_gets_its_date_totals(db_path):
    history = ClaimHistory(db_path)
    history.record(MEMBER, PAYER, "OLD", {MAR_2: 20})
    history.close()
    with _raw(db_path) as conn:  # as a version-1 file was: no totals table
        conn.execute("DROP TABLE date_totals")
        conn.execute("DELETE FROM schema_version WHERE version = 2")
    with ClaimHistory(db_path) as reopened:
        assert reopened.units_by_date(MEMBER, PAYER, MAR_2, 0) == [(MAR_2, 20)]


# -- records held back (a worker's chunk) ----------------------------------------------

_held_records = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C", "D"]),  # claim id: repeats re-record
        st.sampled_from([MEMBER, OTHER_MEMBER]),
        st.dictionaries(st.integers(0, 12).map(lambda d: date(2026, 3, 1 + d)), st.integers(0, 30), max_size=3),
    ),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=_held_records, held=_held_records, around=st.integers(0, 12), days=st.integers(0, 7))
def test_held_records_read_as_they_will_once_written(tmp_path_factory, stored, held, around, days):
    """While records are held a store reads exactly as it will once they are written, for every
    claim checked (excluded) or not; forget and drop behave as documented."""
    path = tmp_path_factory.mktemp("held") / "h.sqlite3"
    centre = date(2026, 3, 1 + around)
    with ClaimHistory(path) as store:
        for claim_id, member, administrations in stored:
            store.record(member, PAYER, claim_id, administrations)
        store.hold()
        for claim_id, member, administrations in held:
            store.record(member, PAYER, claim_id, administrations)

        def reads():
            return [
                (read(member, PAYER, centre, days, exclude_claim=exclude))
                for read in (store.window, store.units_by_date)
                for member in (MEMBER, OTHER_MEMBER)
                for exclude in (None, "A", "B", "E")
            ]

        while_held = reads()
        with pytest.raises(HistoryError, match="held"):
            store.forget(MEMBER, PAYER, "A")
        assert store.write_held() == len({(claim_id, member) for claim_id, member, _ in held})
        assert while_held == reads()
        store.hold()
        store.record(MEMBER, PAYER, "Z", {centre: 5})
        store.drop_held()
        assert reads() == while_held  # dropped: nothing of it was written
