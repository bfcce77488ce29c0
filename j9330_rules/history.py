"""Claim history: the past J9330 administrations of each patient, per payer.

The details (how it works, and why) are in docs/internals.md, "Claim history".
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from j9330_rules.errors import ClaimError, HistoryError

if TYPE_CHECKING:
    from j9330_rules.model import Result

__all__ = ["SCHEMA_VERSION", "ClaimHistory", "HistoryError"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
_SALT_BYTES = 32
_T = TypeVar("_T")

# Migrations by the version they bring the database to. Each runs inside the
# BEGIN IMMEDIATE transaction that opens the database, so it is applied once
# however many processes open the file together. Statements must be idempotent
# (IF NOT EXISTS) because version 1 also runs on files that predate the
# version table.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS claims (
               patient  TEXT NOT NULL,
               payer    TEXT NOT NULL,
               claim_id TEXT NOT NULL,
               recorded_at TEXT NOT NULL,
               PRIMARY KEY (patient, payer, claim_id)
           ) WITHOUT ROWID""",
        """CREATE TABLE IF NOT EXISTS administrations (
               patient      TEXT NOT NULL,
               payer        TEXT NOT NULL,
               claim_id     TEXT NOT NULL,
               service_date TEXT NOT NULL,
               units        INTEGER NOT NULL CHECK (units >= 0),
               PRIMARY KEY (patient, payer, claim_id, service_date)
           ) WITHOUT ROWID""",
        """CREATE INDEX IF NOT EXISTS administrations_by_date
               ON administrations (patient, payer, service_date)""",
    ),
    # Units and claims per (patient, payer, date), kept with every record and forget, so a check
    # reads one row per date however many claims one member has on it.
    2: (
        """CREATE TABLE IF NOT EXISTS date_totals (
               patient      TEXT NOT NULL,
               payer        TEXT NOT NULL,
               service_date TEXT NOT NULL,
               units        INTEGER NOT NULL,
               claims       INTEGER NOT NULL,
               PRIMARY KEY (patient, payer, service_date)
           ) WITHOUT ROWID""",
        """INSERT OR REPLACE INTO date_totals (patient, payer, service_date, units, claims)
               SELECT patient, payer, service_date, SUM(units), COUNT(*) FROM administrations
               GROUP BY patient, payer, service_date""",
    ),
}


def records_history(result: Result) -> bool:
    """Whether checking a claim records it in the claim history: it was checked and does not block."""
    return result.error is None and not result.blocking


class ClaimHistory:
    """Past J9330 administrations per (patient, payer), in one SQLite file.

    ``path`` is the database file; it is created (mode 0600) if missing, but
    its directory must exist. ``timeout`` is how long, in seconds, a call waits
    for another connection's write lock before raising ``HistoryError``.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0):
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise ClaimError("timeout: must be a non-negative number of seconds")
        self.path = Path(path)
        self._timeout = float(timeout)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conn: sqlite3.Connection | None = None
        self._held: dict[tuple[str, str, str], list[tuple[str, int]]] | None = None
        directory = self.path.parent
        if not directory.is_dir():
            raise HistoryError(f"claim history: directory does not exist: {directory}")
        self._create_private(self.path)
        try:
            self._conn = sqlite3.connect(
                self.path,
                timeout=self._timeout,
                isolation_level=None,  # autocommit: transactions are explicit BEGIN IMMEDIATE/COMMIT
                check_same_thread=False,  # shared between threads, serialised by self._lock
            )
        except sqlite3.Error as exc:
            raise HistoryError(f"claim history: cannot open {self.path}: {exc}") from None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            self._enable_wal()
            self._salt = self._prepare()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise
        log.debug("claim history opened: %s", self.path)

    # -- public API -----------------------------------------------------------------

    def patient_key(self, identifier: str) -> str:
        """The stored key for a patient identifier: hex HMAC-SHA256 under this database's salt."""
        if not isinstance(identifier, str):
            raise TypeError("patient: must be a str")
        if not identifier:
            raise ClaimError("patient: must not be empty")
        return hmac.new(self._salt, identifier.encode("utf-8"), hashlib.sha256).hexdigest()

    def record(self, patient: str, payer: str, claim_id: str, administrations: Mapping[date, int]) -> None:
        """Record the units administered per date of service on one claim.

        Recording the same (patient, payer, claim_id) again replaces that
        claim's dates and units, in one transaction, so re-checking a claim
        never double-counts. An empty mapping keeps the claim with no dates.
        """
        key = self.patient_key(patient)
        _check_text("payer", payer)
        _check_text("claim_id", claim_id)
        if not isinstance(administrations, Mapping):
            raise TypeError("administrations: must be a mapping of date to units")
        rows = sorted((_iso(day, "administrations"), _units(units)) for day, units in administrations.items())
        if self._held is not None:
            self._held.pop((key, payer, claim_id), None)
            self._held[(key, payer, claim_id)] = rows
            return
        now = _now()
        self._write(lambda conn: _record_rows(conn, key, payer, claim_id, rows, now))

    # -- records held back: what a worker does for one chunk of claims ---------------

    def hold(self) -> None:
        """Keep later records in memory, seen by this object's reads, until :meth:`write_held`.

        A worker holds a chunk's records and writes them once it has sent the chunk's results,
        so a worker killed mid-chunk leaves nothing of the chunk behind: its claims are
        re-checked against the history as it was before the chunk, as the serial path sees it.
        """
        self._held = {}

    def write_held(self) -> int:
        """Write the held records in one transaction and stop holding; the number written."""
        held, self._held = self._held or {}, None
        if held:
            now = _now()

            def write(conn: sqlite3.Connection) -> None:
                for (key, payer, claim_id), rows in held.items():
                    _record_rows(conn, key, payer, claim_id, rows, now)

            self._write(write)
        return len(held)

    def drop_held(self) -> None:
        """Forget the held records and stop holding."""
        self._held = None

    def forget(self, patient: str, payer: str, claim_id: str) -> bool:
        """Remove a claim (voided, reversed, denied); True when it was recorded."""
        if self._held is not None:
            raise HistoryError("claim history: forget() while records are held; write_held() first")
        key = self.patient_key(patient)
        _check_text("payer", payer)
        _check_text("claim_id", claim_id)

        def write(conn: sqlite3.Connection) -> bool:
            _remove_administrations(conn, key, payer, claim_id)
            cursor = conn.execute(
                "DELETE FROM claims WHERE patient = ? AND payer = ? AND claim_id = ?", (key, payer, claim_id)
            )
            return cursor.rowcount > 0

        return self._write(write)

    def window(
        self, patient: str, payer: str, around: date, days: int, exclude_claim: str | None = None
    ) -> list[tuple[date, int]]:
        """The recorded administrations within ``days`` days of ``around``, by date.

        Inclusive: a date of service ``d`` is in the window when
        ``abs(d - around) <= days``, so ``days=6`` finds administrations fewer
        than 7 days apart and ``days=0`` the same day only. Administrations
        of ``exclude_claim`` (the claim being checked) are left out. Each
        claim's date is its own entry; two claims on one date give two entries
        (ordered by date, then claim id).
        """
        key, low, high = self._range(patient, payer, around, days, exclude_claim)
        sql = (
            "SELECT service_date, claim_id, units FROM administrations"
            " WHERE patient = ? AND payer = ? AND service_date BETWEEN ? AND ?"
        )
        params: tuple[str, ...] = (key, payer, low, high)
        if exclude_claim is not None:
            sql += " AND claim_id <> ?"
            params += (exclude_claim,)
        held = self._held_for(key, payer)
        if held:  # the held claims' stored rows are replaced by what is held
            sql += f" AND claim_id NOT IN ({', '.join('?' * len(held))})"
            params += tuple(held)
        rows = self._read(lambda conn: conn.execute(sql + " ORDER BY service_date, claim_id", params).fetchall())
        entries = rows + [
            (day, claim_id, units)
            for claim_id, days in held.items()
            if claim_id != exclude_claim
            for day, units in days
            if low <= day <= high
        ]
        return [(date.fromisoformat(day), units) for day, _claim, units in sorted(entries)]

    def units_by_date(
        self, patient: str, payer: str, around: date, days: int, exclude_claim: str | None = None
    ) -> list[tuple[date, int]]:
        """As :meth:`window`, with one entry per date: the units of every claim on it summed.

        What the dosing-interval and unit-limit facts need (the nearest other date, the units in
        a window), in at most ``2 * days + 1`` rows however many claims one member has on a date:
        the totals are kept per date as claims are recorded, so a feed with a placeholder member id
        costs one indexed read per claim, not a scan of that member's claims."""
        key, low, high = self._range(patient, payer, around, days, exclude_claim)

        held = self._held_for(key, payer)
        # The stored rows of the claim checked and of the held claims are taken out of the totals
        # (the held ones are replaced by what is held).
        taken = sorted({*held, *([exclude_claim] if exclude_claim is not None else [])})

        def read(conn: sqlite3.Connection) -> tuple[list[tuple[str, int, int]], list[tuple[str, int]]]:
            totals = conn.execute(
                "SELECT service_date, units, claims FROM date_totals"
                " WHERE patient = ? AND payer = ? AND service_date BETWEEN ? AND ? ORDER BY service_date",
                (key, payer, low, high),
            ).fetchall()
            if not taken:
                return totals, []
            stored = conn.execute(
                "SELECT service_date, units FROM administrations WHERE patient = ? AND payer = ?"
                f" AND claim_id IN ({', '.join('?' * len(taken))})",
                (key, payer, *taken),
            ).fetchall()
            return totals, stored

        totals, stored = self._read(read)
        if not stored and not held:
            return [(date.fromisoformat(day), units) for day, units, claims in totals if claims > 0]
        by_date = {day: [units, claims] for day, units, claims in totals}
        for day, units in stored:
            if day in by_date:
                by_date[day][0] -= units
                by_date[day][1] -= 1
        for claim_id, days in held.items():
            if claim_id == exclude_claim:
                continue
            for day, units in days:
                if low <= day <= high:
                    total = by_date.setdefault(day, [0, 0])
                    total[0] += units
                    total[1] += 1
        return [(date.fromisoformat(day), units) for day, (units, claims) in sorted(by_date.items()) if claims > 0]

    def _held_for(self, key: str, payer: str) -> dict[str, list[tuple[str, int]]]:
        """The held records of one patient and payer, by claim id."""
        if not self._held:
            return {}
        return {claim_id: rows for (k, p, claim_id), rows in self._held.items() if k == key and p == payer}

    def _range(
        self, patient: str, payer: str, around: date, days: int, exclude_claim: str | None
    ) -> tuple[str, str, str]:
        """The arguments of a window checked: the patient's key and the first and last day."""
        key = self.patient_key(patient)
        _check_text("payer", payer)
        centre = _as_date(around, "around")
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError("days: must be an int")
        if days < 0:
            raise ClaimError("days: must not be negative")
        if exclude_claim is not None:
            _check_text("exclude_claim", exclude_claim)
        return key, _shift(centre, -days).isoformat(), _shift(centre, days).isoformat()

    def close(self) -> None:
        """Close the connection; later calls raise ``HistoryError``. Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and os.getpid() == self._pid:
                conn.close()

    def __enter__(self) -> ClaimHistory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"<ClaimHistory {str(self.path)!r} {state}>"

    # -- internals ------------------------------------------------------------------

    @staticmethod
    def _create_private(path: Path) -> None:
        """Create the file owner-only if missing (SQLite gives -wal/-shm the same mode)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise HistoryError(f"claim history: cannot create {path}: {exc.strerror}") from None
        os.close(fd)

    def _enable_wal(self) -> None:
        """Switch to WAL; retried while other first openers hold the lock it needs."""
        assert self._conn is not None
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise HistoryError(f"claim history: cannot enable WAL on {self.path}: {exc}") from None
                time.sleep(0.01)
            except sqlite3.DatabaseError as exc:
                raise HistoryError(f"claim history: {self.path} is not a usable database: {exc}") from None
        if str(mode).lower() != "wal":
            raise HistoryError(f"claim history: {self.path} does not support WAL (journal mode {mode})")

    def _prepare(self) -> bytes:
        """Create or migrate the schema and the salt in one write transaction; return the salt."""

        def write(conn: sqlite3.Connection) -> bytes:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ( version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise HistoryError(
                    f"claim history: {self.path} has schema version {current}; "
                    f"this j9330-rules reads up to {SCHEMA_VERSION}"
                )
            now = datetime.now().astimezone().isoformat(timespec="seconds")
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version, now))
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('patient_salt', ?)",
                (secrets.token_bytes(_SALT_BYTES),),
            )
            salt = conn.execute("SELECT value FROM meta WHERE key = 'patient_salt'").fetchone()[0]
            if not isinstance(salt, bytes) or len(salt) < 16:
                raise HistoryError(f"claim history: {self.path} has a damaged patient salt")
            return salt

        return self._write(write)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise HistoryError("claim history: closed")
            if os.getpid() != self._pid:
                raise HistoryError("claim history: opened in another process; open a ClaimHistory per process")
            yield self._conn

    def _write(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``body`` in one BEGIN IMMEDIATE transaction; commit, or roll back on any error."""
        with self._connection() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _store_error("write", exc) from None
            try:
                result = body(conn)
                conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite already rolled back (e.g. on SQLITE_FULL)
                if isinstance(exc, sqlite3.Error):
                    raise _store_error("write", exc) from None
                raise
            return result

    def _read(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._connection() as conn:
            try:
                return body(conn)
            except sqlite3.Error as exc:
                raise _store_error("read", exc) from None


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _record_rows(
    conn: sqlite3.Connection, key: str, payer: str, claim_id: str, rows: list[tuple[str, int]], now: str
) -> None:
    """One claim's record, replacing any earlier one (inside the caller's transaction)."""
    _remove_administrations(conn, key, payer, claim_id)
    conn.execute(
        "INSERT OR REPLACE INTO claims (patient, payer, claim_id, recorded_at) VALUES (?, ?, ?, ?)",
        (key, payer, claim_id, now),
    )
    conn.executemany(
        "INSERT INTO administrations (patient, payer, claim_id, service_date, units) VALUES (?, ?, ?, ?, ?)",
        [(key, payer, claim_id, day, units) for day, units in rows],
    )
    conn.executemany(
        "INSERT INTO date_totals (patient, payer, service_date, units, claims) VALUES (?, ?, ?, ?, 1)"
        " ON CONFLICT (patient, payer, service_date)"
        " DO UPDATE SET units = units + excluded.units, claims = claims + 1",
        [(key, payer, day, units) for day, units in rows],
    )


def _remove_administrations(conn: sqlite3.Connection, key: str, payer: str, claim_id: str) -> None:
    """Take one claim's administrations out, and out of the per-date totals."""
    old = conn.execute(
        "SELECT service_date, units FROM administrations WHERE patient = ? AND payer = ? AND claim_id = ?",
        (key, payer, claim_id),
    ).fetchall()
    if not old:
        return
    conn.executemany(
        "UPDATE date_totals SET units = units - ?, claims = claims - 1"
        " WHERE patient = ? AND payer = ? AND service_date = ?",
        [(units, key, payer, day) for day, units in old],
    )
    conn.executemany(
        "DELETE FROM date_totals WHERE patient = ? AND payer = ? AND service_date = ? AND claims <= 0",
        [(key, payer, day) for day, _units in old],
    )
    conn.execute("DELETE FROM administrations WHERE patient = ? AND payer = ? AND claim_id = ?", (key, payer, claim_id))


def _store_error(action: str, exc: sqlite3.Error) -> HistoryError:
    # SQLite's messages name tables, columns and constraints, never bound values.
    if _is_busy(exc):
        return HistoryError(f"claim history: {action} timed out waiting for another writer ({exc})")
    return HistoryError(f"claim history: {action} failed: {exc}")


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name}: must be a str")
    if not value:
        raise ClaimError(f"{name}: must not be empty")


def _as_date(value: object, name: str) -> date:
    # datetime is a date subclass whose isoformat() carries a time: refuse it
    # rather than store text that no longer compares like a date.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name}: must be a datetime.date (not a datetime)")
    return value


def _iso(value: object, name: str) -> str:
    return _as_date(value, f"{name}: each key").isoformat()


def _units(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("administrations: each value must be an int number of units")
    if value < 0:
        raise ClaimError("administrations: units must not be negative")
    return value


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min
