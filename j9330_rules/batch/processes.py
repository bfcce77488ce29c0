"""Checking claims in worker processes: ``Editor.check_many(claims, workers=N)``.

The details (how it works, and why) are in docs/internals.md, "Worker processes".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import importlib.machinery
import itertools
import logging
import multiprocessing
import os
import pickle
import select
import signal
import struct
import sys
import time
import types
import zlib
from collections.abc import Iterable, Iterator, Mapping
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from attrs import define, field

from j9330_rules.batch import wire
from j9330_rules.config import EditorConfig
from j9330_rules.errors import HistoryError, WorkerStartupError
from j9330_rules.history import records_history
from j9330_rules.model import Claim, Result

if TYPE_CHECKING:
    from j9330_rules.editor import Editor

__all__ = [
    "CHUNK_SIZE",
    "CRASHED",
    "DEFAULT_TIMEOUT",
    "TIMED_OUT",
    "UNREADABLE_RESULT",
    "WINDOW_PER_WORKER",
    "WorkerStartupError",
    "check_parallel",
    "default_window",
]

log = logging.getLogger(__name__)

CRASHED = "the worker checking this claim crashed"
UNREADABLE_RESULT = "internal error (the result sent by the worker could not be read)"
TIMED_OUT = "the check of this claim did not finish within the time allowed (check_many timeout=, check --timeout)"
#: Seconds a worker may spend on one claim before it is stopped and the claim re-run alone; a
#: claim that takes longer again, alone, gets the TIMED_OUT error result.
DEFAULT_TIMEOUT = 300.0
CHUNK_SIZE = 8
WINDOW_PER_WORKER = 256  # claims pulled ahead of the caller, per worker (32 chunks of 8)
MAX_START_FAILURES = 3
# Never plain fork: the parent may hold the engine's state, threads and SQLite connections.
# forkserver forks each worker from a clean server process that has only imported the
# package (workers start in ~30 ms instead of ~1 s); spawn where it is missing, or when a
# plugin's class lives in __main__ (which spawn re-imports and the forkserver does not).
_PRELOAD = ["j9330_rules.editor", "j9330_rules.batch.processes"]
_PICKLE = pickle.HIGHEST_PROTOCOL
_HEADER = struct.Struct("!Q")  # the length of each task message on the task pipe
_INSTALL_HINT = (
    "install it as an entry-point plugin (group 'j9330_rules', see docs/plugins.md), "
    "which every worker loads itself, or check with workers=1"
)


def default_window(workers: int) -> int:
    return workers * WINDOW_PER_WORKER


# -- the parent ---------------------------------------------------------------------------


def check_parallel(
    editor: Editor,
    claims: Iterable[Any],
    *,
    as_of: dt.date | None = None,
    workers: int,
    chunk_size: int = CHUNK_SIZE,
    window: int | None = None,
    timeout: float | None = None,
) -> Iterator[Result]:
    """Check ``claims`` in ``workers`` processes; see the module docstring.

    Validates eagerly (bad numbers, plugins that cannot be sent raise here);
    the workers start when the first result is asked for.
    """
    for name, value in (("workers", workers), ("chunk_size", chunk_size), ("window", window)):
        if value is None and name == "window":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: must be a whole number of at least 1")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError("timeout: must be a number of seconds above 0")
    window = default_window(workers) if window is None else window
    payload = portable_config(type(editor), editor.config)
    affinity = editor.history is not None
    context = _context(editor.config.plugins)
    return _Pool(context, payload, as_of, workers, chunk_size, window, affinity, float(timeout)).results(iter(claims))


def _context(plugins: Iterable[Any]) -> Any:
    in_main = any(type(plugin).__module__ == "__main__" for plugin in plugins)
    if in_main or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)  # used when the server starts (once per process)
    return context


def portable_config(build: type, config: EditorConfig) -> bytes:
    """The Editor class and its config, pickled for the workers; plugin modules go by name."""
    plugins = []
    for plugin in config.plugins:
        if isinstance(plugin, types.ModuleType):
            if not _importable(plugin):
                raise TypeError(
                    f"check_many(workers=...) cannot send the plugin module {plugin.__name__!r} to the "
                    f"worker processes: it cannot be imported by name there; {_INSTALL_HINT}"
                )
            plugins.append(_ModuleRef(plugin.__name__))
            continue
        try:
            pickle.dumps(plugin, _PICKLE)
        except Exception as exc:
            raise TypeError(
                f"check_many(workers=...) cannot send the plugin {type(plugin).__name__} to the worker "
                f"processes (it cannot be pickled: {type(exc).__name__}: {exc}); {_INSTALL_HINT}"
            ) from None
        plugins.append(plugin)
    try:
        return pickle.dumps((build, config.evolve(plugins=tuple(plugins))), _PICKLE)
    except Exception as exc:
        raise TypeError(
            f"check_many(workers=...) cannot send the Editor's arguments to the worker processes "
            f"({type(exc).__name__}: {exc})"
        ) from None


def _importable(module: types.ModuleType) -> bool:
    """Whether a fresh interpreter with this sys.path imports the module by its name."""
    name = module.__name__
    if sys.modules.get(name) is not module or name == "__main__":
        return False
    top = name.partition(".")[0]
    return top in sys.builtin_module_names or importlib.machinery.PathFinder.find_spec(top) is not None


@define(frozen=True)
class _ModuleRef:
    name: str

    def load(self) -> types.ModuleType:
        return importlib.import_module(self.name)


@define
class _Task:
    id: int
    items: list[tuple[int, bytes]]  # (input index, pickled claim)
    alone: bool = False  # one claim re-run after its chunk crashed a worker: a crash now is its own
    end: int = 0  # where the task's message ends in the bytes written to the worker
    # With a history: the results, sent before the worker writes the chunk's records. They count
    # once it says the records are written; if it dies in between, the claims are recorded again.
    results: list[Result] | None = None
    record: list[int] | None = None  # a record-only task: the input indexes whose claims to record


@define(eq=False)
class _Worker:
    """A worker process seen from the parent.

    Tasks are written to its pipe without ever blocking (``outbox`` holds what the
    pipe did not take yet, sent when the pipe is writable), so the parent always
    reads results and never deadlocks against a worker blocked writing them.
    """

    slot: int
    process: Any
    tasks: Connection  # parent → worker: framed pickles, written raw and non-blocking
    results: Connection  # worker → parent: Connection.send / recv
    inflight: dict[int, _Task] = field(factory=dict)
    load: int = 0  # claims in flight
    ready: bool = False
    broken: bool = False  # the task pipe failed: the worker is gone
    outbox: bytearray = field(factory=bytearray)
    queued: int = 0  # bytes queued since start
    written: int = 0  # bytes the pipe took
    progress: float = 0.0  # when it last finished a task, or was given one while idle
    timed_out: bool = False  # stopped by the parent: its current task took too long

    def send(self, task: _Task) -> None:
        message = pickle.dumps((task.id, task.items, task.record), _PICKLE)
        if not self.inflight:
            self.progress = time.monotonic()
        self.inflight[task.id] = task
        self.load += len(task.items)
        self.queued += _HEADER.size + len(message)
        task.end = self.queued
        if not self.broken:
            self.outbox += _HEADER.pack(len(message))
            self.outbox += message
            self.flush()

    def sent(self, task: _Task) -> bool:
        """Whether the worker can have started the task (its whole message left the parent)."""
        return self.written >= task.end

    def flush(self) -> None:
        while self.outbox and not self.broken:
            try:
                count = os.write(self.tasks.fileno(), self.outbox)
            except BlockingIOError:
                return
            except OSError:  # EPIPE: the worker is gone, its sentinel reports it
                self.broken = True
                self.outbox.clear()
                return
            del self.outbox[:count]
            self.written += count

    def stop(self, *, graceful: bool) -> None:
        for conn in (self.tasks, self.results):
            try:
                conn.close()
            except OSError:
                pass
        self.process.join(timeout=5 if graceful else 0.2)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.process.close()


class _Pool:
    def __init__(
        self,
        context: Any,
        payload: bytes,
        as_of: dt.date | None,
        workers: int,
        chunk_size: int,
        window: int,
        affinity: bool,
        timeout: float,
    ):
        self.context = context
        self.payload = payload
        # The forkserver was started earlier, maybe elsewhere: give workers this process's
        # directory, environment (J9330_RULES_LOAD_PLUGINS...) and sys.path as of this call.
        self.setting = (os.getcwd(), dict(os.environ), list(sys.path))
        self.as_of = as_of
        self.count = workers
        self.window = window
        self.chunk_size = min(chunk_size, window)
        self.affinity = affinity
        self.workers: list[_Worker] = []
        self.ids = itertools.count()
        self.done: dict[int, Result] = {}  # results not yet yielded, by input index
        # The claims in flight, by input index: a claim that crashed its worker gets its error
        # result from the object here, never by unpickling its blob (which may be what kills).
        self.claims: dict[int, Any] = {}
        self.start_failures = 0  # workers in a row that died before they were ready
        self.stopped: HistoryError | None = None  # a worker's history store failed
        self.stop_at: int | None = None  # then: results are given up to this input index
        self.timeout = timeout  # seconds per claim of a worker's current task

    # -- the main loop ----------------------------------------------------------------

    def results(self, source: Iterator[Any]) -> Iterator[Result]:
        pulled = 0  # inputs taken from source
        yielded = 0  # results given to the caller
        exhausted = False
        failure: BaseException | None = None
        finished = False
        try:
            self.workers = [self._start(slot) for slot in range(self.count)]
            while True:
                if not exhausted and self.stopped is None:
                    pulled, exhausted, failure = self._fill(source, pulled, yielded)
                while yielded in self.done and (self.stop_at is None or yielded < self.stop_at):
                    result = self.done.pop(yielded)
                    self.claims.pop(yielded, None)
                    yielded += 1
                    yield result
                if self.stopped is not None and (
                    yielded == self.stop_at or not any(worker.inflight for worker in self.workers)
                ):
                    break
                if exhausted and yielded == pulled:
                    break
                if not exhausted and self.window - (pulled - yielded) >= self.chunk_size:
                    continue  # the caller took a chunk's worth of results: pull more first
                if not any(worker.inflight for worker in self.workers):  # pragma: no cover - a bug
                    raise RuntimeError("parallel check: no claim in flight, yet results are missing")
                self._wait()
            finished = True
        finally:
            for worker in self.workers:
                worker.stop(graceful=finished)
        if self.stopped is not None:
            raise self.stopped
        if failure is not None:
            raise failure

    def _fill(self, source: Iterator[Any], pulled: int, yielded: int) -> tuple[int, bool, BaseException | None]:
        """Pull claims while the window allows, chunk them and send the chunks.

        A chunk is begun only with room for all of it, so chunks stay full (a trickle of
        one-claim chunks would cost a message each); with patient affinity the
        per-worker chunks are sent part-full at the end.
        """
        shared: list[tuple[int, bytes]] = []
        by_slot: dict[int, list[tuple[int, bytes]]] = {}
        exhausted, failure = False, None
        while pulled - yielded < self.window:
            if not shared and not self.affinity and self.window - (pulled - yielded) < self.chunk_size:
                break
            try:
                claim = next(source)
            except StopIteration:
                exhausted = True
                break
            except Exception as exc:  # as in the serial path: raised after the earlier results
                exhausted, failure = True, exc
                break
            index = pulled
            pulled += 1
            try:
                blob = pickle.dumps(claim, _PICKLE)
            except Exception as exc:
                self.done[index] = _error(
                    claim, f"internal error (the claim cannot be sent to a worker: {type(exc).__name__})"
                )
                continue
            self.claims[index] = claim
            slot = self._slot(claim)
            chunk = shared if slot is None else by_slot.setdefault(slot, [])
            chunk.append((index, blob))
            if len(chunk) >= self.chunk_size:
                self._send(slot, chunk)
                chunk.clear()
        for slot, chunk in [(None, shared), *by_slot.items()]:
            if chunk:
                self._send(slot, chunk)
        return pulled, exhausted, failure

    def _slot(self, claim: Any) -> int | None:
        """The worker for the claim's patient when a claim history is kept (serial history order)."""
        if not self.affinity:
            return None
        member = _member_id(claim)
        return None if member is None else zlib.crc32(member.encode("utf-8", "surrogatepass")) % self.count

    def _send(
        self, slot: int | None, items: list[tuple[int, bytes]], *, alone: bool = False, record: list[int] | None = None
    ) -> _Task:
        worker = min(self.workers, key=lambda w: w.load) if slot is None else self.workers[slot]
        task = _Task(next(self.ids), list(items), alone, record=record)
        worker.send(task)
        return task

    def _wait(self) -> None:
        """Wait for results, a dead worker, or room in a task pipe; handle what came."""
        poller = select.poll()
        owners: dict[int, tuple[_Worker, str]] = {}
        for worker in self.workers:
            for fd, what, mask in (
                (worker.results.fileno(), "results", select.POLLIN),
                (worker.process.sentinel, "sentinel", select.POLLIN),
                (worker.tasks.fileno(), "tasks", select.POLLOUT),
            ):
                if what == "tasks" and (not worker.outbox or worker.broken):
                    continue
                owners[fd] = (worker, what)
                poller.register(fd, mask)
        for fd, _event in poller.poll(self._until_overdue()):
            worker, what = owners[fd]
            if self.workers[worker.slot] is not worker:
                continue  # already found dead and replaced in this round
            if what == "tasks":
                worker.flush()
            elif what == "sentinel" or not self._receive(worker):
                self._died(worker)

        now = time.monotonic()
        for worker in list(self.workers):
            if worker.ready and worker.inflight and now > self._deadline(worker):
                log.error("a worker process took over %.0f s per claim on its chunk; stopping it", self.timeout)
                worker.timed_out = True
                worker.process.kill()
                self._died(worker)

    def _deadline(self, worker: _Worker) -> float:
        current = min(worker.inflight.values(), key=lambda task: task.id)
        return worker.progress + self.timeout * len(current.items)

    def _until_overdue(self) -> int | None:
        """Milliseconds to wait for the workers before the first busy one is overdue."""
        deadlines = [self._deadline(w) for w in self.workers if w.ready and w.inflight]
        if not deadlines:
            return None
        return max(0, int((min(deadlines) - time.monotonic()) * 1000) + 1)

    # -- messages and deaths ----------------------------------------------------------

    def _receive(self, worker: _Worker) -> bool:
        """Handle the messages waiting from a worker; False when its pipe is closed (it died)."""
        try:
            while worker.results.poll():
                self._message(worker, worker.results.recv())
        except (EOFError, OSError):
            return False
        return True

    def _message(self, worker: _Worker, message: tuple) -> None:
        kind = message[0]
        worker.progress = time.monotonic()
        if kind == "ready":
            worker.ready = True
            self.start_failures = 0
        elif kind == "done" and self.affinity:
            _kind, task_id, results = message
            task = worker.inflight[task_id]
            task.results = self._decoded(task, results)  # they count once the records are written
        elif kind in ("done", "recorded"):
            task = worker.inflight.pop(message[1])
            worker.load -= len(task.items)
            results = self._decoded(task, message[2]) if kind == "done" else task.results
            for (index, _blob), result in zip(task.items, results, strict=True):
                self.done[index] = result
        elif kind == "history":
            # The worker's history store failed: the results stop before its first unfinished claim.
            _kind, text = message
            first = min((index for task in worker.inflight.values() for index, _blob in task.items), default=None)
            self.stopped = self.stopped or HistoryError(text)
            if first is not None:
                self.stop_at = first if self.stop_at is None else min(self.stop_at, first)
            worker.inflight.clear()
            worker.load = 0
        elif kind == "failed":
            raise WorkerStartupError(
                f"a worker process could not build its Editor ({message[1]}). Plugins passed as "
                f"Editor(plugins=...) must be importable in a fresh Python process; otherwise {_INSTALL_HINT}."
            )
        else:  # pragma: no cover - a bug
            raise RuntimeError(f"parallel check: unknown message {kind!r} from a worker")

    def _decoded(self, task: _Task, message: bytes) -> list[Result]:
        """The task's results; should they not decode (a bug), each of its claims gets an error
        result, so the run goes on and no claim is lost."""
        try:
            results = wire.decode(message)
            if len(results) == len(task.items):
                return results
            problem = f"{len(results)} results for {len(task.items)} claims"
        except Exception as exc:
            problem = type(exc).__name__
        log.error("the results of %d claims from a worker could not be read (%s)", len(task.items), problem)
        return [_error(self.claims.get(index), UNREADABLE_RESULT) for index, _blob in task.items]

    def _died(self, worker: _Worker) -> None:
        """Restart a dead worker's slot and re-send its unfinished tasks there, in order.

        A worker runs its tasks one after another in the order sent and reports each,
        so the first unfinished task is the one it was running: only that task's
        claims can have crashed it. They are re-sent one claim per task ("alone"); a
        claim that crashes a worker again, alone, gets the CRASHED error result. The
        tasks behind it had not started and are re-sent unchanged. Nothing is blamed
        when the worker died before it was ready or before the task reached it.
        """
        self._receive(worker)  # keep the results it sent before it died
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        lost = sorted(worker.inflight.values(), key=lambda task: task.id)
        started = lost[0] if lost and worker.ready and worker.sent(lost[0]) else None
        if not worker.ready:
            self.start_failures += 1
            log.error("a worker process died while starting (exit code %s)", code)
            if self.start_failures >= MAX_START_FAILURES:
                raise WorkerStartupError(
                    f"worker processes keep dying while starting (last exit code {code}); "
                    "check that j9330_rules and the plugins import in a fresh Python process"
                )
        else:
            log.error(
                "a worker process died (exit code %s) while checking %d claim(s); restarting it",
                code,
                len(started.items) if started else 0,
            )
        worker.stop(graceful=False)
        self.workers[worker.slot] = self._start(worker.slot)
        for task in lost:
            if task.results is not None:
                # Checked, and its results came; its records may not all be written: record again
                # (a claim's record replaces itself), then count the results kept here.
                record = task.record
                if record is None:
                    record = [i for (i, _b), result in zip(task.items, task.results) if records_history(result)]
                self._send(worker.slot, task.items, record=record).results = task.results
            elif task is not started:
                self._send(worker.slot, task.items, alone=task.alone)
            elif task.alone:
                ((index, _blob),) = task.items
                self.done[index] = _error(self.claims.get(index), TIMED_OUT if worker.timed_out else CRASHED)
            else:
                for item in task.items:
                    self._send(worker.slot, [item], alone=True)

    def _start(self, slot: int) -> _Worker:
        tasks_in, tasks_out = self.context.Pipe(duplex=False)
        results_in, results_out = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_worker_main,
            args=(self.payload, self.setting, self.as_of, tasks_in, results_out),
            name=f"j9330-rules-worker-{slot}",
            daemon=True,
        )
        process.start()
        tasks_in.close()  # the parent keeps only its ends: a dead worker breaks the pipes
        results_out.close()
        os.set_blocking(tasks_out.fileno(), False)
        return _Worker(slot, process, tasks_out, results_in)


def _member_id(claim: Any) -> str | None:
    if isinstance(claim, Claim):
        member = claim.patient.member_id
    elif isinstance(claim, Mapping):
        patient = claim.get("patient")
        member = patient.get("member_id") if isinstance(patient, Mapping) else None
    else:
        member = None
    return member if isinstance(member, str) and member else None


def _error(claim: Any, message: str) -> Result:
    from j9330_rules.model.structure import error_result

    return error_result(claim, message)


# -- the worker ---------------------------------------------------------------------------


def _worker_main(
    payload: bytes,
    setting: tuple[str, dict[str, str], list[str]],
    as_of: dt.date | None,
    tasks: Connection,
    results: Connection,
) -> None:
    """One worker process: build the Editor once, then check chunks until the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        cwd, environ, path = setting
        os.chdir(cwd)  # relative reference and history paths mean what they mean in the parent
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
        build, config = pickle.loads(payload)  # the Editor class goes by reference: no import cycle
        editor = build(
            config.evolve(plugins=tuple(p.load() if isinstance(p, _ModuleRef) else p for p in config.plugins))
        )
    except BaseException as exc:
        with contextlib.suppress(BrokenPipeError, EOFError):
            results.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    try:
        results.send(("ready", os.getpid()))
    except (BrokenPipeError, EOFError):
        return  # the parent finished (or stopped) before this worker was ready: nothing to say
    history = editor.history
    failed = False  # the history store failed: the parent stops the run; tasks still queued are dropped
    try:
        while (task := _next_task(tasks.fileno())) is not None:
            task_id, items, record = task
            if failed:
                continue
            if history is None:
                _send_results(results, task_id, [_check_one(editor, index, blob, as_of) for index, blob in items])
                continue
            try:
                # The chunk's records are held until its results are sent, then written at once:
                # killed before, the chunk left nothing; killed after, the parent records it again.
                history.hold()
                if record is None:
                    _send_results(results, task_id, [_check_one(editor, index, blob, as_of) for index, blob in items])
                else:
                    for index, blob in items:
                        if index in record:
                            _record_again(editor, index, blob)
                history.write_held()
                results.send(("recorded", task_id))
            except HistoryError as exc:
                history.drop_held()
                failed = True
                results.send(("history", str(exc)))
    except (BrokenPipeError, EOFError):
        pass  # the parent went away
    finally:
        if history is not None:
            history.close()


def _record_again(editor: Editor, index: int, blob: bytes) -> None:
    try:
        editor._record_again(pickle.loads(blob))
    except HistoryError:
        raise
    except Exception as exc:  # it was checked without error once: a bug, logged without its text
        log.error("input %d could not be recorded again (%s)", index + 1, type(exc).__name__)


def _send_results(results: Connection, task_id: int, out: list[Result]) -> None:
    try:
        message = wire.encode(out)
    except (pickle.PicklingError, TypeError, AttributeError):
        message = wire.encode([_sendable(result) for result in out])
    results.send(("done", task_id, message))


def _next_task(fd: int) -> tuple[int, list[tuple[int, bytes]]] | None:
    """The next task from the parent; None when it closed the pipe."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _read_exactly(fd: int, size: int) -> bytes | None:
    parts, left = [], size
    while left:
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            return None
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _check_one(editor: Editor, index: int, blob: bytes, as_of: dt.date | None) -> Result:
    try:
        claim = pickle.loads(blob)
    except Exception as exc:
        return Result(None, None, error=f"internal error (the claim cannot be read in a worker: {type(exc).__name__})")
    return editor._result_for(claim, index + 1, as_of)


def _sendable(result: Result) -> Result:
    try:
        pickle.dumps(result, _PICKLE)
        return result
    except Exception as exc:
        return Result(
            result.claim_id, result.payer, error=f"internal error (the result cannot be returned: {type(exc).__name__})"
        )
