"""check_many(claims, workers=N): processes, input order, streaming, crashed workers, the CLI."""

from __future__ import annotations

import copy
import datetime as dt
import json
import multiprocessing
import os
import signal
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from j9330_rules import Editor, hookimpl
from j9330_rules.batch import wire
from j9330_rules.batch.processes import (
    CRASHED,
    UNREADABLE_RESULT,
    WorkerStartupError,
    check_parallel,
    default_window,
)
from j9330_rules.writers.serialise import result_to_dict
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, make_claim
from tests.test_bad_input import BAD

PAYERS = ("medicare", "aetna", "bcbs", "cigna", "uhc")


def mixed_claim(index: int) -> Any:
    """Claim number ``index`` of a deterministic mix: clean, firing, other payers, bad input."""
    kind = index % 12
    claim = make_claim(claim_id=f"M-{index:05d}", payer=PAYERS[index % len(PAYERS)])
    if kind == 1:
        claim["lines"][0]["units"] = 21  # the units no longer match the dose and waste
    elif kind == 2:
        claim["lines"][1]["modifiers"] = []  # JW missing on the waste line
    elif kind == 3:
        claim["diagnoses"] = ["C50.911"]  # not a covered diagnosis
    elif kind == 4:
        claim["lines"][0]["ndc"] = "12345678901"
    elif kind == 5:
        claim["lines"][0]["documentation"]["route"] = "IM"
    elif kind == 6:
        claim["payer"] = "no_such_payer"
    elif kind == 7:
        _name, make, _path = BAD[index % len(BAD)]
        return make()  # garbage of every kind the readers can hand over
    elif kind == 8:
        extra = [dict(line, line=line["line"] + 3, service_date="2026-03-05") for line in claim["lines"]]
        claim["lines"] += copy.deepcopy(extra)  # two dates: FREQUENCY within the claim
    elif kind == 9:
        return None
    return claim


def mixed(count: int, start: int = 0) -> list[Any]:
    return [mixed_claim(index) for index in range(start, start + count)]


def dicts(results) -> list[dict]:
    return [result_to_dict(result) for result in results]


def worker_processes() -> list[multiprocessing.Process]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("j9330-rules-worker")]


@pytest.fixture(scope="module")
def serial_of(editor):
    """The serial results of the mixed claims, computed once."""
    cache: dict[int, list[dict]] = {}

    def serial(count: int) -> list[dict]:
        if count not in cache:
            cache[count] = dicts(editor.check_many(mixed(count)))
        return cache[count]

    return serial


# --- order and equality with the serial path -----------------------------------------------


def test_500_mixed_claims_in_input_order_equal_to_serial(editor, serial_of):
    expected = serial_of(500)
    assert len({r["error"] for r in expected}) > 5 and sum(r["error"] is None for r in expected) > 300
    assert len({tuple(f["code"] for f in r["findings"]) for r in expected}) > 5  # the mix differs in findings
    results = list(editor.check_many(iter(mixed(500)), workers=2))
    assert dicts(results) == expected
    assert worker_processes() == []  # stopped when the input was done


def test_workers_1_is_the_serial_path(editor, serial_of):
    results = editor.check_many(mixed(60), workers=1)
    assert isinstance(results, Iterator)
    assert dicts(results) == serial_of(60)
    assert worker_processes() == []


def test_bad_claims_in_the_middle_give_the_serial_error_results(editor):
    inputs = [make_claim(claim_id="FIRST")]
    for index, (_name, make, _path) in enumerate(BAD):
        inputs += [make(), make_claim(claim_id=f"GOOD-{index}")]
    inputs.append(make_claim(claim_id="LAST"))
    expected = dicts(editor.check_many(inputs))
    assert sum(r["error"] is not None for r in expected) == len(BAD)
    assert dicts(editor.check_many(inputs, workers=2)) == expected


def test_unpicklable_claim_is_an_error_result_not_a_failure(editor):
    odd = make_claim(claim_id="ODD")
    odd["lines"][0]["documentation"]["lot"] = lambda: None
    results = list(editor.check_many([make_claim(claim_id="A"), odd, make_claim(claim_id="B")], workers=2))
    assert [r.claim_id for r in results] == ["A", "ODD", "B"]
    assert results[0].error is None and results[2].error is None
    assert "cannot be sent to a worker" in results[1].error


@pytest.mark.parametrize("how", ["raises", "short"])
def test_results_the_parent_cannot_read_cost_their_own_claims_only(editor, serial_of, monkeypatch, caplog, how):
    """A chunk whose results do not decode (a bug) gives each of its claims an error result."""
    decode = wire.decode
    seen = []

    def flaky(message):
        seen.append(message)
        if len(seen) != 2:
            return decode(message)
        if how == "raises":
            raise ValueError("CLAIM-SECRET")  # its text is never logged
        return decode(message)[:-1]

    monkeypatch.setattr(wire, "decode", flaky)
    results = dicts(check_parallel(editor, mixed(40), workers=2, chunk_size=8))
    expected = serial_of(40)
    failed = [index for index, result in enumerate(results) if result != expected[index]]
    assert len(results) == 40 and 0 < len(failed) <= 8  # the claims of one chunk
    assert all(results[index]["error"] == UNREADABLE_RESULT for index in failed)
    assert [results[index]["claim_id"] for index in failed] == [expected[index]["claim_id"] for index in failed]
    assert "could not be read" in caplog.text and "CLAIM-SECRET" not in caplog.text


def test_an_exception_from_the_input_comes_after_the_earlier_results(editor):
    def claims():
        for index in range(30):
            yield make_claim(claim_id=f"I-{index}")
        raise OSError("the input file went away")

    seen = []
    with pytest.raises(OSError, match="went away"):
        for result in editor.check_many(claims(), workers=2):
            seen.append(result.claim_id)
    assert seen == [f"I-{index}" for index in range(30)]
    assert worker_processes() == []


def test_nothing_in_nothing_out(editor):
    assert list(editor.check_many([], workers=2)) == []


@pytest.mark.parametrize("workers", [0, -1, 2.5, "2"])
def test_a_bad_number_of_workers_is_refused_at_the_call(editor, workers):
    with pytest.raises(ValueError, match="workers"):
        editor.check_many([], workers=workers)


# --- streaming -------------------------------------------------------------------------------


def test_streams_20k_claims_with_a_bounded_window(editor):
    """A generator of 20,000 claims: never more than the window pulled ahead of the caller."""
    total, window = 20_000, default_window(2)
    counts = {"pulled": 0, "yielded": 0, "ahead": 0}
    template = make_claim()

    def claims():
        for index in range(total):
            counts["pulled"] += 1
            counts["ahead"] = max(counts["ahead"], counts["pulled"] - counts["yielded"])
            if index % 40 == 0:  # a real claim now and then; the rest fail fast in the model
                yield {**template, "claim_id": f"S-{index}"}
            else:
                yield {"claim_id": f"S-{index}", "payer": "medicare", "lines": "not a list"}

    first_pulled = None
    for index, result in enumerate(editor.check_many(claims(), workers=2)):
        if first_pulled is None:
            first_pulled = counts["pulled"]
        assert result.claim_id == f"S-{index}"
        assert (result.error is None) == (index % 40 == 0), result.error
        counts["yielded"] += 1
    assert counts["yielded"] == counts["pulled"] == total
    assert counts["ahead"] <= window
    assert first_pulled <= window  # the first result came before the input was read whole


def test_a_small_window_is_held(editor):
    counts = {"pulled": 0, "ahead": 0, "yielded": 0}

    def claims():
        for index in range(200):
            counts["pulled"] += 1
            counts["ahead"] = max(counts["ahead"], counts["pulled"] - counts["yielded"])
            yield make_claim(claim_id=f"W-{index}")

    results = check_parallel(editor, claims(), workers=2, chunk_size=4, window=16)
    for index, result in enumerate(results):
        assert result.claim_id == f"W-{index}"
        counts["yielded"] += 1
    assert counts["yielded"] == 200 and counts["ahead"] <= 16


def test_claims_larger_than_a_pipe_buffer_do_not_block(editor):
    """Chunks of megabytes: the parent never blocks writing while a worker writes results."""
    claims = [make_claim(claim_id=f"BIG-{index}", remarks="x" * 300_000) for index in range(40)]
    expected = dicts(editor.check_many(claims))
    assert dicts(editor.check_many(iter(claims), workers=2)) == expected


def test_closing_the_results_early_stops_the_workers(editor):
    results = editor.check_many((make_claim(claim_id=f"E-{i}") for i in range(10_000)), workers=2)
    assert next(results).claim_id == "E-0"
    assert len(worker_processes()) == 2
    results.close()
    assert worker_processes() == []


# --- crashed workers -------------------------------------------------------------------------


class Saboteur:
    """TEST-ONLY plugin: kills the worker process that checks certain claims.

    ``once``: the first attempt only (a marker file in ``marker_dir`` records it);
    ``always``: every attempt. Never in the test process itself.
    """

    def __init__(self, marker_dir: Path, *, once=(), always=(), how: str = "sigkill"):
        self.home = os.getpid()
        self.marker_dir = str(marker_dir)
        self.once = frozenset(once)
        self.always = frozenset(always)
        self.how = how

    def _die(self) -> None:
        if self.how == "exit":
            os._exit(3)
        os.kill(os.getpid(), signal.SIGKILL)

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        if os.getpid() == self.home:
            return None
        if claim.claim_id in self.always:
            self._die()
        if claim.claim_id in self.once:
            try:
                os.close(os.open(Path(self.marker_dir) / f"{claim.claim_id}.died", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return None
            self._die()
        return None


def _claims_with(ids: dict[int, str], count: int) -> list[Any]:
    claims = mixed(count)
    for index, claim_id in ids.items():
        claims[index] = make_claim(claim_id=claim_id, payer=PAYERS[index % len(PAYERS)])
    return claims


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(editor, tmp_path, how):
    claims = _claims_with({37: "KILL-ONCE-A", 201: "KILL-ONCE-B"}, 300)
    expected = dicts(editor.check_many(claims))  # the same Editor arguments, without the saboteur
    sabotaged = Editor(
        asp_file=FIXTURE_ASP,
        mue_file=FIXTURE_MUE,
        plugins=[Saboteur(tmp_path, once={"KILL-ONCE-A", "KILL-ONCE-B"}, how=how)],
    )
    results = dicts(sabotaged.check_many(iter(claims), workers=2))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["KILL-ONCE-A.died", "KILL-ONCE-B.died"]  # both died
    assert len(results) == len(claims)
    assert results == expected  # the killed claims were re-run: every result, once, in order
    assert worker_processes() == []


def test_a_claim_that_always_kills_its_worker_gets_an_error_result(editor, tmp_path):
    claims = _claims_with({5: "KILL-ALWAYS", 90: "KILL-ONCE"}, 160)
    expected = dicts(editor.check_many(claims))
    sabotaged = Editor(
        asp_file=FIXTURE_ASP,
        mue_file=FIXTURE_MUE,
        plugins=[Saboteur(tmp_path, always={"KILL-ALWAYS"}, once={"KILL-ONCE"})],
    )
    results = list(sabotaged.check_many(claims, workers=2))
    assert len(results) == len(claims)
    killer = results[5]
    assert (killer.claim_id, killer.payer, killer.error, killer.findings) == ("KILL-ALWAYS", PAYERS[0], CRASHED, ())
    assert killer.disposition == "not_checked"
    others = dicts(results)
    del others[5], expected[5]
    assert others == expected
    assert worker_processes() == []


def test_every_claim_killing_its_worker_still_ends(tmp_path):
    ids = {index: f"KILL-{index}" for index in range(3)}
    editor = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, plugins=[Saboteur(tmp_path, always=set(ids.values()))])
    results = list(editor.check_many([*_claims_with(ids, 3), make_claim(claim_id="LAST")], workers=2))
    assert [r.error for r in results] == [CRASHED] * 3 + [None]
    assert [r.claim_id for r in results] == [*ids.values(), "LAST"]


# --- plugins and workers that cannot start ---------------------------------------------------


class Unpicklable:
    """TEST-ONLY plugin holding a lambda: it cannot be sent to a worker."""

    def __init__(self):
        self.callback = lambda: None

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        return None


def test_a_plugin_that_cannot_be_pickled_is_refused_clearly():
    editor = Editor(plugins=[Unpicklable()])
    with pytest.raises(TypeError, match=r"cannot send the plugin Unpicklable.*entry-point plugin"):
        editor.check_many([make_claim()], workers=2)
    assert next(iter(editor.check_many([make_claim()], workers=1))).error is None  # serial is unaffected


def test_a_plugin_module_that_cannot_be_imported_by_name_is_refused_clearly():
    module = types.ModuleType("j9330_not_importable_plugin")

    @hookimpl
    def j9330_benchmark(claim, payer, policy, reference):
        return None

    module.j9330_benchmark = j9330_benchmark
    editor = Editor(plugins=[module])
    with pytest.raises(TypeError, match=r"plugin module 'j9330_not_importable_plugin'.*entry-point plugin"):
        editor.check_many([make_claim()], workers=2)


def test_an_importable_plugin_module_goes_to_the_workers_by_name(editor):
    import tests.conftest as module  # importable, with no hooks: registering it changes nothing

    with_module = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, plugins=[module])
    claims = mixed(24)
    assert dicts(with_module.check_many(claims, workers=2)) == dicts(editor.check_many(claims))


def _explode_outside(home: int) -> Unpicklable:
    if os.getpid() != home:
        raise RuntimeError("this plugin cannot be rebuilt here")
    return Unpicklable.__new__(Unpicklable)


class BreaksInWorkers:
    """TEST-ONLY plugin that pickles, but cannot be unpickled in a worker."""

    def __reduce__(self):
        return _explode_outside, (os.getpid(),)


def test_a_worker_that_cannot_build_its_editor_raises_clearly():
    editor = Editor(plugins=[BreaksInWorkers()])
    with pytest.raises(
        WorkerStartupError, match=r"could not build its Editor.*RuntimeError: this plugin cannot be rebuilt"
    ):
        list(editor.check_many([make_claim()], workers=2))
    assert worker_processes() == []


# --- claim history ---------------------------------------------------------------------------


def history_claims() -> list[dict]:
    """Doses of 12 patients 3 to 8 days apart, interleaved: FREQUENCY depends on the order seen."""
    claims = []
    for round_ in range(5):
        for patient in range(12):
            claim = make_claim(claim_id=f"H-{patient}-{round_}")
            claim["patient"]["member_id"] = f"MEMBER-{patient}"
            day = dt.date(2026, 3, 2) + dt.timedelta(days=round_ * (3 + patient % 6))
            for line in claim["lines"]:
                line["service_date"] = day.isoformat()
            claims.append(claim)
    return claims


def test_history_with_workers_gives_the_serial_results(tmp_path, monkeypatch):
    claims = history_claims()
    serial = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history=tmp_path / "serial.sqlite3")
    expected = dicts(serial.check_many(claims))
    assert 10 < sum(any(f["code"] == "FREQUENCY" for f in r["findings"]) for r in expected) < len(claims)
    monkeypatch.chdir(tmp_path)  # a relative path: the workers resolve it where this process does
    parallel = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history="parallel.sqlite3")
    assert dicts(parallel.check_many(claims, workers=2)) == expected
    # Each worker recorded into the one file: a claim checked now sees all of them.
    late = copy.deepcopy(claims[0])
    late["claim_id"] = "H-late"
    assert "FREQUENCY" in {f.code for f in parallel.check(late).findings}


def test_workers_see_the_environment_of_the_call(monkeypatch):
    monkeypatch.setenv("J9330_RULES_LOAD_PLUGINS", "medicare")  # set after the forkserver started
    only_medicare = Editor()
    assert set(only_medicare.payers) == {"medicare"}
    claims = mixed(30)
    expected = dicts(only_medicare.check_many(claims))
    assert any("known payers are: medicare" in (r["error"] or "") for r in expected)
    assert dicts(only_medicare.check_many(claims, workers=2)) == expected


# --- the command line ------------------------------------------------------------------------


def test_cli_workers_2_gives_the_serial_output(tmp_path):
    from click.testing import CliRunner  # here: workers unpickling this module's plugins stay light

    from j9330_rules.cli import main

    path = tmp_path / "claims.ndjson"
    lines = [json.dumps(claim) for claim in mixed(40)]
    lines[7] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    runner = CliRunner()

    def run(*extra: str):
        return runner.invoke(main, ["check", "--format", "ndjson", "-q", *extra, str(path)], catch_exceptions=False)

    serial, parallel = run(), run("--workers", "2")
    assert parallel.exit_code == serial.exit_code == 1
    assert parallel.output == serial.output
    assert len(parallel.output.splitlines()) == 40
    assert runner.invoke(main, ["check", "--workers", "0", str(path)]).exit_code == 2


class _PatchesHistoryInWorkers:
    """TEST-ONLY plugin: on arrival in a worker (unpickling), wraps ClaimHistory.write_held so a
    chunk holding ``claim_id`` meets ``action`` (kill the worker once, or fail the store)."""

    def __init__(self, marker_dir: Path, claim_id: str, action: str):
        self.state = (str(marker_dir), claim_id, action)

    def __getstate__(self):
        return self.state

    def __setstate__(self, state):  # pragma: no cover - runs in the workers
        from j9330_rules.history import ClaimHistory, HistoryError

        self.state = state
        marker_dir, claim_id, action = state
        write_held = ClaimHistory.write_held

        def patched(history):
            if any(key[2] == claim_id for key in history._held or {}):
                if action == "fail":
                    raise HistoryError("claim history: write failed: database or disk is full")
                try:
                    os.close(os.open(Path(marker_dir) / f"{claim_id}.died", os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    pass
                else:
                    os.kill(os.getpid(), signal.SIGKILL)
            return write_held(history)

        ClaimHistory.write_held = patched

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        return None


def one_member_chunk() -> list[dict]:
    """One patient's doses on days 0 and 3 and then far apart, among other patients' claims: the
    dose on day 0 is a first dose, the one on day 3 comes too soon (FREQUENCY)."""
    claims = []
    for number, day in enumerate([0, 3, 40, 80, 120, 160]):
        claim = make_claim(claim_id=f"ONE-{number}")
        claim["patient"]["member_id"] = "MEMBER-ONE"
        for line in claim["lines"]:
            line["service_date"] = (dt.date(2026, 1, 5) + dt.timedelta(days=day)).isoformat()
        claims.append(claim)
    return claims + history_claims()


def _frequency(results: list[dict]) -> list[str]:
    return [r["claim_id"] for r in results if any(f["code"] == "FREQUENCY" for f in r["findings"])]


def _stored(path: Path) -> list:
    from j9330_rules.history import ClaimHistory

    with ClaimHistory(path) as store:
        return store.window("MEMBER-ONE", "medicare", dt.date(2026, 3, 1), 400)


@pytest.mark.parametrize("when", ["checking", "writing"])
def test_a_worker_killed_mid_chunk_with_history_gives_the_serial_results(tmp_path, when):
    """Killed while checking the chunk's third claim, or after sending the chunk's results while
    writing its records: the re-run claims see what the serial run saw, and the file ends the same."""
    claims = one_member_chunk()
    serial_path = tmp_path / "serial.sqlite3"
    expected = dicts(Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history=serial_path).check_many(claims))
    assert "ONE-1" in _frequency(expected) and "ONE-0" not in _frequency(expected)
    markers = tmp_path / "markers"
    markers.mkdir()
    plugin = (
        Saboteur(markers, once={"ONE-2"}) if when == "checking" else _PatchesHistoryInWorkers(markers, "ONE-2", "kill")
    )
    parallel_path = tmp_path / "parallel.sqlite3"
    editor = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, history=parallel_path, plugins=[plugin])
    results = dicts(editor.check_many(claims, workers=2))
    assert [p.name for p in markers.iterdir()] == ["ONE-2.died"]  # the worker was killed
    assert _frequency(results) == _frequency(expected)
    assert results == expected
    assert _stored(parallel_path) == _stored(serial_path)
    assert worker_processes() == []


def test_a_history_failure_in_a_worker_stops_the_run_after_the_results_before_it(tmp_path):
    from j9330_rules import HistoryError

    claims = one_member_chunk()
    expected = dicts(Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE).check_many(claims))
    editor = Editor(
        asp_file=FIXTURE_ASP,
        mue_file=FIXTURE_MUE,
        history=tmp_path / "h.sqlite3",
        plugins=[_PatchesHistoryInWorkers(tmp_path, "H-3-2", "fail")],
    )
    seen = []
    with pytest.raises(HistoryError, match="disk is full"):
        for result in editor.check_many(claims, workers=2):
            seen.append(result)
    failing = next(i for i, c in enumerate(claims) if c["claim_id"] == "H-3-2")
    assert 0 < len(seen) <= failing  # results stop at or before the chunk whose records failed
    assert [r.claim_id for r in seen] == [c["claim_id"] for c in claims[: len(seen)]]
    assert all(r.error is None for r in seen)  # none stripped of its findings, none an internal error
    assert worker_processes() == []
    del expected


class _ExitsWhenUnpickled:
    """TEST-ONLY claim: unpickling it ends the process that does it (os._exit)."""

    def __reduce__(self):
        return (os._exit, (7,))


def test_a_claim_that_kills_whoever_unpickles_it_costs_only_its_own_result(editor):
    claims = [make_claim(claim_id="BEFORE"), _ExitsWhenUnpickled(), make_claim(claim_id="AFTER")]
    results = list(editor.check_many(claims, workers=2))  # the parent never unpickles it: it survives
    assert [r.claim_id for r in results] == ["BEFORE", None, "AFTER"]
    assert results[1].error == CRASHED
    assert results[0].error is None and results[2].error is None
    assert worker_processes() == []


class _Hangs:
    """TEST-ONLY plugin: its benchmark hook never returns for the claims named, in workers."""

    def __init__(self, ids):
        self.home = os.getpid()
        self.ids = frozenset(ids)

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        if os.getpid() != self.home and claim.claim_id in self.ids:
            import time

            time.sleep(3600)
        return None


def test_a_hook_that_hangs_in_a_worker_is_stopped_and_costs_only_its_claim(editor):
    from j9330_rules.batch.processes import TIMED_OUT

    claims = _claims_with({3: "HANGS"}, 20)
    expected = dicts(editor.check_many(claims))
    hanging = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, plugins=[_Hangs({"HANGS"})])
    results = list(hanging.check_many(claims, workers=2, timeout=0.3))
    assert (results[3].claim_id, results[3].error) == ("HANGS", TIMED_OUT)
    others = dicts(results)
    del others[3], expected[3]
    assert others == expected
    assert worker_processes() == []
    with pytest.raises(ValueError, match="timeout"):
        list(hanging.check_many(claims, workers=2, timeout=0))


def test_cli_timeout_stops_a_hanging_check_and_the_run_goes_on(monkeypatch, tmp_path):
    """``check --workers 2 --timeout S``: the hanging claim's line says it timed out, every
    other claim's line is the serial one; without workers the option is a usage error."""
    from click.testing import CliRunner

    import j9330_rules.cli as cli
    from j9330_rules.batch.processes import TIMED_OUT

    path = tmp_path / "claims.ndjson"
    path.write_text("".join(json.dumps(claim) + "\n" for claim in _claims_with({2: "HANGS"}, 6)))
    runner = CliRunner()

    def run(*extra: str):
        return runner.invoke(cli.main, ["--no-config", "check", "--format", "ndjson", "-q", *extra, str(path)])

    serial = [json.loads(line) for line in run().output.splitlines()]
    monkeypatch.setattr(cli, "_editor", lambda **options: Editor(**options, plugins=[_Hangs({"HANGS"})]))
    done = run("--workers", "2", "--timeout", "0.5")
    lines = [json.loads(line) for line in done.output.splitlines()]
    assert [line["claim_id"] for line in lines] == [line["claim_id"] for line in serial]
    assert lines[2]["error"] == TIMED_OUT
    assert lines[:2] + lines[3:] == serial[:2] + serial[3:]
    assert worker_processes() == []
    refused = run("--timeout", "0.5")
    assert refused.exit_code == 2 and "--timeout needs --workers" in refused.output
    assert run("--workers", "2", "--timeout", "0").exit_code == 2


def test_a_worker_whose_parent_is_gone_before_it_is_ready_ends_quietly(editor, capfd, monkeypatch):
    """The parent may finish (a short batch, closed early) before a worker says it is ready."""
    from j9330_rules.batch.processes import _worker_main, portable_config

    monkeypatch.setattr(signal, "signal", lambda *args: None)  # this process keeps its Ctrl-C
    tasks_in, _tasks_out = multiprocessing.Pipe(duplex=False)
    results_in, results_out = multiprocessing.Pipe(duplex=False)
    results_in.close()  # the parent's end: gone
    setting = (os.getcwd(), dict(os.environ), list(sys.path))
    _worker_main(portable_config(type(editor), editor.config), setting, None, tasks_in, results_out)
    assert "Traceback" not in capfd.readouterr().err
