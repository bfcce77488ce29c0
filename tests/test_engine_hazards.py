"""One regression test per durable-rules 2.0.28 hazard (see j9330_rules/engines/durable.py).

Each ``test_*_remedy*`` test would crash or fail without the adapter's remedy.
Where the raw hazard reproduces deterministically on the bare C API
(``durable_rules_engine``), a ``test_control_*`` test shows that it is real, so
that a remedy test passing means something. Anything that can segfault runs in
a subprocess, so the test session survives.

Controls that did not reproduce deterministically here (and so are not tests):
the out-of-bounds read of a join mixing a constant and a cross-fact test, and a
crash from several threads using the C core without the lock.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import j9330_rules.engines.durable as engine_module
from j9330_rules import Editor, Payer, hookimpl
from j9330_rules.engines.durable import SENTINEL, DurableRuleset, EngineFailure, encode
from j9330_rules.facts.builder import SESSION, fact_number
from j9330_rules.model.structure import structure_claim
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, ROOT, codes, make_claim, run_python

durable_rules_engine = pytest.importorskip("durable_rules_engine")


# The hazards are durable-rules': these tests run on the durable engine only.
@pytest.fixture(scope="module")
def editor() -> Editor:
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine="durable")


@pytest.fixture(scope="module")
def bare_editor() -> Editor:
    return Editor(engine="durable")


# glibc fills every fresh malloc() block with 0x5a (~165): memory the C core
# leaves uninitialised is then garbage, not whatever zeroes the heap held.
PERTURBED = {**os.environ, "MALLOC_PERTURB_": "165", "PYTHONPATH": str(ROOT)}
# And, for allocators that ignore MALLOC_PERTURB_, dirty the heap by hand first.
DIRTY_HEAP = textwrap.dedent(
    """
    _keep = []
    _garbage = []
    for _ in range(64):
        _garbage.append(b"\\xab" * 34000)
        _keep.append(bytearray(64))
    del _garbage
    """
)


def killed_by_signal(proc: subprocess.CompletedProcess) -> bool:
    return proc.returncode < 0


def firing_claim(claim_id: str = "CLM-FIRE", units: int = 21) -> dict:
    """The clean claim with line 1's units off the dose: UNITS_DOSE_MISMATCH and WASTE_ARITHMETIC."""
    claim = make_claim(claim_id=claim_id)
    claim["lines"][0]["units"] = units
    return claim


def finding_keys(result) -> list[tuple]:
    return [(f.code, f.line, f.rule_id, f.severity, f.message) for f in result.findings]


def no_drug_line_claim(**changes) -> dict:
    """Only the administration code: the claim fact is the only fact, so only the sentinel can fire."""
    return make_claim(lines=[make_claim()["lines"][2]], **changes)


def bare_ruleset(definition: dict) -> int:
    return durable_rules_engine.create_ruleset(f"hazard_test_{next(_COUNTER)}", json.dumps(definition))


def drain(handle: int, state: int) -> list[str]:
    fired = []
    started = durable_rules_engine.start_action_for_state(handle, state)
    message = started[1] if started else None
    while message:
        fired.append(next(iter(json.loads(message))))
        message = durable_rules_engine.complete_and_start_action(handle, state)
    return fired


_COUNTER = iter(range(10**9))
LINE_RULE = {"line_rule": {"all": [{"m": {"kind": "line"}}]}}
WITH_SENTINEL = {**LINE_RULE, "sentinel": {"all": [{"m": {"kind": "claim"}}], "pri": 100}}


# --- 1. delete_state after no action ran segfaults --------------------------------------------

BARE_DELETE_STATE = DIRTY_HEAP + textwrap.dedent(
    """
    import json, sys
    import durable_rules_engine as e
    sentinel = sys.argv[1] == "sentinel"
    rules = {"line_rule": {"all": [{"m": {"kind": "line"}}]}}
    if sentinel:
        rules["sentinel"] = {"all": [{"m": {"kind": "claim"}}], "pri": 100}
    handle = e.create_ruleset("ctl", json.dumps(rules))
    facts = [{"id": "claim", "sid": "0", "kind": "claim"}, {"id": "d", "sid": "0", "kind": "date"}]
    code, state = e.assert_facts(handle, json.dumps(facts))
    if sentinel:
        started = e.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            message = e.complete_and_start_action(handle, state)
    e.delete_state(handle, "0")
    print("survived")
    """
)


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the crash is provoked with glibc's MALLOC_PERTURB_")


@linux_only
@pytest.mark.parametrize("variant", ["bare", "sentinel"])
def test_control_delete_state_without_an_action_segfaults(variant):
    """The raw hazard: no rule fired for the session, so delete_state frees garbage pointers."""
    proc = subprocess.run(
        [sys.executable, "-c", BARE_DELETE_STATE, variant], capture_output=True, text=True, timeout=120, env=PERTURBED
    )
    if variant == "bare":
        assert killed_by_signal(proc), (proc.returncode, proc.stdout, proc.stderr)
        assert "survived" not in proc.stdout
    else:  # the same script with a sentinel rule that fires and is drained
        assert proc.returncode == 0, proc.stderr
        assert "survived" in proc.stdout


OUR_DEFINITION_DELETE_STATE = DIRTY_HEAP + textwrap.dedent(
    """
    import json, sys
    import durable_rules_engine as e
    from j9330_rules import Editor
    from j9330_rules.engines.durable import SENTINEL
    from j9330_rules.model.structure import structure_claim
    from tests.conftest import make_claim

    variant = sys.argv[1]
    editor = Editor(engine="durable")
    definition = json.loads(editor._engines["medicare"]._definition)
    if variant == "no_sentinel":
        del definition[SENTINEL]
    handle = e.create_ruleset("ctl_medicare", json.dumps(definition))
    claim = make_claim(lines=[make_claim()["lines"][2]])  # no J9330 line: the claim fact alone
    facts = editor._builders["medicare"].build(structure_claim(claim))
    assert [fact["kind"] for fact in facts] == ["claim"]
    code, state = e.assert_facts(handle, json.dumps(facts))
    if variant != "not_drained":
        started = e.start_action_for_state(handle, state)
        message = started[1] if started else None
        while message:
            message = e.complete_and_start_action(handle, state)
    e.delete_state(handle, "0")
    print("survived")
    """
)


@linux_only
@pytest.mark.parametrize("variant", ["no_sentinel", "not_drained", "sentinel_drained"])
def test_control_our_clean_claim_needs_the_sentinel_fired(variant):
    """Our own Medicare ruleset and a claim no rule matches: without a fired sentinel, delete_state crashes."""
    proc = subprocess.run(
        [sys.executable, "-c", OUR_DEFINITION_DELETE_STATE, variant],
        capture_output=True,
        text=True,
        timeout=120,
        env=PERTURBED,
        cwd=ROOT,
    )
    if variant == "sentinel_drained":
        assert proc.returncode == 0, proc.stderr
        assert "survived" in proc.stdout
    else:
        assert killed_by_signal(proc), (proc.returncode, proc.stdout, proc.stderr)


def test_remedy_claims_no_rule_matches_do_not_crash():
    """Claims for which nothing but the sentinel fires, many times, on a garbage-filled heap."""
    code = DIRTY_HEAP + textwrap.dedent(
        """
        from j9330_rules import Editor
        from j9330_rules.engines.durable import DurableRuleset
        from j9330_rules.model.structure import structure_claim
        from tests.conftest import make_claim
        editor = Editor(engine="durable")
        checked = 0
        # 1. Through the Editor: a claim without a J9330 line has only the claim fact.
        for payer in sorted(editor.payers):
            for i in range(150):
                claim = make_claim(claim_id=f"CLM-{i}", payer=payer, lines=[make_claim()["lines"][2]])
                assert editor._builders[payer].build(structure_claim(claim))[0]["kind"] == "claim"
                result = editor.check(claim)
                assert result.error is None, result
                assert all((f.rule_id or "").startswith("HOST-") for f in result.findings), result
                checked += 1
        # 2. A full claim's facts against a ruleset of no rules: again only the sentinel fires.
        sentinel_only = DurableRuleset((), "sentinel_only")
        facts = editor._builders["medicare"].build(structure_claim(make_claim()))
        assert len(facts) > 1
        for i in range(300):
            assert sentinel_only.evaluate(facts) == []
            checked += 1
        print("checked", checked, len(editor.payers))
        """
    )
    proc = run_python(code, env=PERTURBED)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    checked, payers = map(int, proc.stdout.split()[1:])
    assert payers >= 1 and checked == 150 * payers + 300


def test_remedy_every_compiled_ruleset_has_a_last_firing_sentinel_on_the_claim_fact(editor):
    for name, compiled in editor._engines.items():
        definition = json.loads(compiled._definition)
        assert definition[SENTINEL] == {"all": [{"m": {"kind": "claim"}}], "pri": engine_module._SENTINEL_PRIORITY}
        others = [rule.get("pri", 0) for key, rule in definition.items() if key != SENTINEL]
        assert all(pri < definition[SENTINEL]["pri"] for pri in others), name


def test_remedy_every_claim_has_exactly_one_claim_fact(editor):
    no_drug_line = no_drug_line_claim()
    for claim in (make_claim(), no_drug_line, firing_claim()):
        facts = editor._builders["medicare"].build(structure_claim(claim))
        assert [f for f in facts if f["kind"] == "claim"] == [{"id": "claim", "sid": SESSION, "kind": "claim"}]
    assert len(editor._builders["medicare"].build(structure_claim(no_drug_line))) == 1
    result = editor.check(no_drug_line)  # only the sentinel fires, and the state is deleted
    assert result.error is None
    assert all((f.rule_id or "").startswith("HOST-") for f in result.findings)


# --- 2. joins mixing constant and cross-fact tests read out of bounds -------------------------


def test_remedy_every_rule_is_a_single_pattern_over_one_fact(editor):
    assert editor._engines, "no payer compiled"
    for name, compiled in editor._engines.items():
        definition = json.loads(compiled._definition)
        assert len(definition) == len(compiled.rules) + 1  # the rules plus the sentinel
        for rule_name, rule in definition.items():
            assert set(rule) <= {"all", "pri"}, (name, rule_name, rule)
            assert len(rule["all"]) == 1, (name, rule_name, "a join")
            (pattern,) = rule["all"]
            assert list(pattern) == ["m"], (name, rule_name)


def operands(node):
    """Every right-hand side of a comparison in a durable-rules pattern."""
    for key, value in node.items():
        if key in ("$and", "$or"):
            for item in value:
                yield from operands(item)
        elif key.startswith("$"):  # $lt, $gte, $neq, $ex, ...: {field: operand}
            yield from value.values()
        else:  # equality: {field: operand}
            yield value


def test_remedy_conditions_name_a_fact_kind_and_never_another_alias(editor):
    """Every pattern is anchored on one fact kind, and compares fields with constants only.

    A cross-fact test is an operand like {"a": "dos"} (another pattern's alias); only
    {"$m": field}, a field of the same fact, would be allowed.
    """
    seen = 0
    for compiled in editor._engines.values():
        for rule_name, rule in json.loads(compiled._definition).items():
            pattern = rule["all"][0]["m"]
            parts = pattern.get("$and", [pattern])
            assert parts[0]["kind"] in {"line", "date", "claim"}, rule_name
            for operand in operands(pattern):
                seen += 1
                assert not isinstance(operand, (dict, list)) or set(operand) == {"$m"}, (rule_name, operand)
    assert seen > 50
    assert list(operands({"$and": [{"kind": "date"}, {"dos": {"a": "dos"}}]}))[1] == {"a": "dos"}


# --- 3. numbers in exponent form are rejected, or end a batch silently -------------------------


def test_control_exponents_are_rejected_or_silently_end_a_batch():
    with pytest.raises(durable_rules_engine.error, match="204"):
        durable_rules_engine.create_ruleset("exp_ctl", '{"r": {"all": [{"m": {"$gt": {"x": 5e-05}}}]}}')
    handle = bare_ruleset(WITH_SENTINEL)
    with pytest.raises(durable_rules_engine.error, match="204"):
        durable_rules_engine.assert_fact(handle, '{"id": "a", "sid": "0", "kind": "line", "x": 1e+20}')
    # In a batch the fact with the exponent, and every fact after it, vanish with return code 0.
    for number in ("5e-05", "1e+20"):
        batch = (
            '[{"id": "claim", "sid": "0", "kind": "claim"},'
            f'{{"id": "l1", "sid": "0", "kind": "line", "x": {number}}},'
            '{"id": "l2", "sid": "0", "kind": "line", "x": 1}]'
        )
        code, state = durable_rules_engine.assert_facts(handle, batch)
        assert code == 0
        assert drain(handle, state) == ["sentinel"]  # both line facts were lost
        durable_rules_engine.delete_state(handle, "0")
    # The same facts in plain form: both lines fire.
    batch = batch.replace("1e+20", "100000000000000000000")
    code, state = durable_rules_engine.assert_facts(handle, batch)
    assert sorted(drain(handle, state)) == ["line_rule", "line_rule", "sentinel"]
    durable_rules_engine.delete_state(handle, "0")


EXPONENT = re.compile(r"[0-9][eE][-+]?[0-9]")
finite_decimals = st.decimals(allow_nan=False, allow_infinity=False)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(value=finite_decimals)
def test_remedy_encode_never_writes_an_exponent_for_decimals(value):
    text = encode({"x": value})
    number = text[len('{"x":') : -1]
    assert "e" not in number.lower()
    assert Decimal(number) == value
    assert Decimal(json.loads(text, parse_float=Decimal, parse_int=Decimal)["x"]) == value


@settings(max_examples=300, deadline=None)
@given(value=finite_floats)
def test_remedy_encode_never_writes_an_exponent_for_floats(value):
    text = encode([{"x": value, "nested": {"y": [value]}}])
    assert "e" not in text.replace('"nested"', "").lower()
    decoded = json.loads(text)  # a big float may come back as an int of the same shortest digits
    assert float(decoded[0]["x"]) == value and float(decoded[0]["nested"]["y"][0]) == value


@settings(max_examples=300, deadline=None)
@given(value=st.decimals(min_value=0, max_value=Decimal("1e11"), allow_nan=False, allow_infinity=False))
def test_remedy_fact_number_never_prints_with_an_exponent(value):
    number = fact_number(value)
    assert isinstance(number, int) or "e" not in repr(number)
    assert "e" not in json.dumps(number)
    assert Decimal(repr(number)) >= value  # rounded up, never down
    assert Decimal(repr(number)) - Decimal("0.001") < value  # by less than the 0.001 grid (exact)


@pytest.mark.parametrize("value", ["0.00001", "0.0000001", "1E-7", "99999999.999", "12345678.0001"])
def test_remedy_tiny_and_huge_doses_reach_the_engine(editor, value):
    """A dose far from 1: line facts still arrive (UNITS_DOSE_MISMATCH fires against 20 units)."""
    claim = make_claim()
    claim["lines"][0]["dose_mg"] = value
    facts = editor._builders["medicare"].build(structure_claim(claim))
    payload = SendEverything([]).payload(facts)
    assert EXPONENT.search(payload) is None
    assert json.loads(payload) == facts
    for fact in facts:
        for field, number in fact.items():
            if isinstance(number, float):
                assert "e" not in repr(number), (field, number)
    result = editor.check(claim)
    assert result.error is None
    assert ("UNITS_DOSE_MISMATCH", 1) in [(f.code, f.line) for f in result.findings]


def test_remedy_huge_matching_dose_is_checked_without_error(editor):
    claim = make_claim()
    claim["lines"][0].update(dose_mg="99999998.5", units=99999999)
    result = editor.check(claim)
    assert result.error is None
    found = {(f.code, f.line) for f in result.findings}
    assert ("UNITS_DOSE_MISMATCH", 1) not in found  # 99999999 units is the dose rounded up
    assert ("WASTE_ARITHMETIC", 1) in found  # 99999999 + 5 is not whole 25 mg kits


class SendEverything(engine_module.Projection):
    """A projection that sends every field, as if some rule read each one."""

    def fields_for(self, fact):
        return tuple(fact)


FLOAT_PARAMETER_SPEC = """
# TEST FIXTURE: a made-up payer, not a real policy.
ruleset: float_payer
version: "0"
title: Test fixture payer with a float parameter
applies_to: [float_payer]
parameters:
  tiny_threshold:
    - value: {value}
      source: "TEST FIXTURE: not a real policy"
rules: []
"""


class FloatParameterPayer:
    """TEST FIXTURE plugin: a payer whose spec holds a YAML float parameter."""

    def __init__(self, spec_path: Path):
        self.spec_path = spec_path

    @hookimpl
    def j9330_register_payers(self, register):
        register(Payer("float_payer", "Float Payer (test)", policy_sourced=True, note="TEST FIXTURE"))

    @hookimpl
    def j9330_register_rulesets(self, register):
        register(self.spec_path)


def float_payer_editor(tmp_path: Path, value: str) -> Editor:
    path = tmp_path / value / "float_payer.yaml"
    path.parent.mkdir()
    path.write_text(FLOAT_PARAMETER_SPEC.format(value=value))
    return Editor(plugins=[FloatParameterPayer(path)], entry_points=False, engine="durable")


@pytest.mark.parametrize("value", ["0.00001", "1.0e+20", "1.5e-7", "0.5"])
def test_remedy_float_spec_parameters_do_not_lose_facts(tmp_path, value):
    """A parameter rides on every line and date fact; as ``1e-05`` the C core dropped them all.

    Regression: before claims with such numbers went through encode(), this claim silently
    came back with no findings.
    """
    baseline = float_payer_editor(tmp_path, "1")  # an int parameter: nothing to lose
    editor = float_payer_editor(tmp_path, value)
    facts = editor._builders["float_payer"].build(structure_claim(firing_claim()))
    assert any(isinstance(f.get("tiny_threshold"), float) for f in facts)
    payload = SendEverything([]).payload(facts)
    assert EXPONENT.search(payload) is None
    assert json.loads(payload) == facts
    for claim_id in ("A", "B"):
        for claim in (firing_claim(claim_id), make_claim(claim_id=claim_id)):
            claim["payer"] = "float_payer"
            expected = [(f.code, f.line) for f in baseline.check(claim).findings]
            assert [(f.code, f.line) for f in editor.check(claim).findings] == expected
        firing = editor.check({**firing_claim(claim_id), "payer": "float_payer"})
        assert {"UNITS_DOSE_MISMATCH", "WASTE_ARITHMETIC"} <= set(codes(firing))  # line and date facts arrived


# --- 4. <= ~1,022 live sids, and sids are found by a 32-bit hash alone -------------------------


def test_control_live_sids_run_out():
    handle = bare_ruleset(LINE_RULE)
    with pytest.raises(MemoryError):
        for index in range(5000):
            durable_rules_engine.assert_facts(handle, json.dumps([{"id": "f", "sid": f"s{index}", "kind": "other"}]))
    assert 1000 <= index <= 1100


def test_control_colliding_sids_share_one_state():
    # fnv1-32("CLM-232789") == fnv1-32("CLM-429192") == 0x12c1ce4b: claim ids as sids would mix claims.
    handle = bare_ruleset(LINE_RULE)
    durable_rules_engine.assert_facts(handle, json.dumps([{"id": "f", "sid": "CLM-232789", "kind": "other"}]))
    state = json.loads(durable_rules_engine.get_state(handle, "CLM-429192"))
    assert state["sid"] == "CLM-232789"
    with pytest.raises(durable_rules_engine.error, match="309"):
        durable_rules_engine.get_state(handle, "CLM-000001")


def test_remedy_facts_use_one_fixed_sid_never_the_claim_id(editor):
    for claim_id in ("CLM-232789", "CLM-429192", "0", "1"):
        facts = editor._builders["medicare"].build(structure_claim(firing_claim(claim_id)))
        assert {fact["sid"] for fact in facts} == {SESSION}


def test_remedy_five_thousand_claims_share_no_state(editor):
    compiled = editor._engines["medicare"]
    firing_expected = finding_keys(editor.check(firing_claim()))
    clean_expected = finding_keys(editor.check(make_claim()))
    assert firing_expected != clean_expected
    for index in range(5000):
        fires = index % 2 == 0
        claim = firing_claim(f"CLM-{index}") if fires else make_claim(claim_id=f"CLM-{index}")
        result = editor.check(claim)  # a MemoryError here would be the live-sid cap
        assert result.claim_id == f"CLM-{index}"
        assert finding_keys(result) == (firing_expected if fires else clean_expected), index
        if index % 997 == 0:  # the session is gone after every claim
            with pytest.raises(durable_rules_engine.error, match="309"):
                durable_rules_engine.get_state(compiled._handle, SESSION)


# --- 5. the stock Host starts timer threads; the C core is not thread-safe ---------------------


def test_control_stock_host_starts_timer_threads():
    code = textwrap.dedent(
        """
        import os, threading
        import durable.engine
        before = threading.active_count()
        host = durable.engine.Host()
        print(before, threading.active_count(), flush=True)
        os._exit(0)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    assert after > before


def test_remedy_editor_never_uses_the_stock_host_nor_starts_threads():
    code = textwrap.dedent(
        """
        import sys, threading
        import j9330_rules
        from j9330_rules import Editor
        from tests.conftest import make_claim
        editor = Editor(engine="durable")
        claim = make_claim()
        claim["lines"][0]["units"] = 21
        for payer in editor.payers:
            editor.check({**claim, "payer": payer})
            editor.check(make_claim(payer=payer))
        list(editor.check_many([claim, make_claim()]))
        # The host's own hook watch (plugins/manager.py) is the one thread allowed besides main.
        others = [t for t in threading.enumerate() if t.name != "j9330-rules-hook-watch"]
        print("durable.engine" in sys.modules, "durable.lang" in sys.modules, len(others))
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "1"]


def test_remedy_concurrent_checks_equal_serial_checks(editor):
    claims = []
    for index in range(48):
        claim = firing_claim(f"T-{index}", units=21 + index % 3) if index % 2 else make_claim(claim_id=f"T-{index}")
        claim["payer"] = ["medicare", "aetna", "bcbs"][index % 3]
        claims.append(claim)
    serial = [finding_keys(editor.check(claim)) for claim in claims]
    assert len({tuple(keys) for keys in serial}) > 3  # the claims differ in their findings
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for _ in range(10):
            with ThreadPoolExecutor(max_workers=8) as pool:
                concurrent = list(pool.map(lambda claim: finding_keys(editor.check(claim)), claims))
            assert concurrent == serial
    finally:
        sys.setswitchinterval(interval)


def test_remedy_the_engine_lock_is_held_around_every_c_call(editor, monkeypatch):
    """Every C call of a claim happens with the module lock held (the other threads wait)."""
    calls = []

    def locked(name):
        real = getattr(durable_rules_engine, name)

        def call(*args):
            calls.append((name, engine_module._LOCK.locked()))
            return real(*args)

        return call

    c_calls = ("assert_facts", "start_action_for_state", "complete_and_start_action", "delete_state")
    for name in c_calls:
        monkeypatch.setattr(durable_rules_engine, name, locked(name))
    editor.check(firing_claim())
    assert {name for name, _ in calls} == set(c_calls)
    assert all(held for _, held in calls)
    assert isinstance(engine_module._LOCK, type(threading.Lock()))


# --- 6. an unmatched or duplicate fact fails the batch, yet the rest was asserted --------------


def test_control_unmatched_fact_fails_the_batch_but_leaves_firings_pending():
    handle = bare_ruleset(LINE_RULE)
    batch = [{"id": "x", "sid": "0", "kind": "nothing"}, {"id": "a", "sid": "0", "kind": "line"}]
    code, state = durable_rules_engine.assert_facts(handle, json.dumps(batch))
    assert code == 1  # ERR_EVENT_NOT_HANDLED: durable.engine raises MessageNotHandledException here
    assert drain(handle, state) == ["line_rule"]  # ...yet the line fact was asserted and fired
    durable_rules_engine.delete_state(handle, "0")


EXTRA_DATE = [  # a correctly billed full kit, weeks before the firing date
    {
        "line": 4,
        "hcpcs": "J9330",
        "modifiers": ["JZ"],
        "units": 25,
        "service_date": "2025-12-01",
        "ndc": "00008117901",
        "dx_pointers": [1],
        "dose_mg": "25",
        "documentation": {"lot": "X1", "expiration": "2027-01-31", "route": "IV"},
    },
    {"line": 5, "hcpcs": "96413", "units": 1, "service_date": "2025-12-01", "dx_pointers": [1]},
]


def test_remedy_other_facts_do_not_cost_a_fact_its_findings(editor):
    """The firing date's findings are the same with another date's facts asserted before them."""
    alone = editor.check(firing_claim())
    assert {("UNITS_DOSE_MISMATCH", 1), ("WASTE_ARITHMETIC", 1)} <= {(f.code, f.line) for f in alone.findings}
    claim = firing_claim()
    claim["lines"] += copy.deepcopy(EXTRA_DATE)
    facts = editor._builders["medicare"].build(structure_claim(claim))
    assert [f["kind"] for f in facts] == ["claim", "line", "date", "line", "line", "date"]  # the extra date first
    with_extra = editor.check(claim)
    on_first_date = [key for key in finding_keys(with_extra) if key[1] in (1, 2, 3)]
    assert on_first_date == finding_keys(alone)


def test_remedy_a_failed_return_code_is_not_treated_as_failure(editor, monkeypatch):
    """The adapter drains the state whatever the code: the facts behind an unmatched fact still fire."""
    returned = []
    real = durable_rules_engine.assert_facts

    def spy(handle, payload):
        result = real(handle, payload)
        returned.append(result[0])
        return result

    compiled = editor._engines["medicare"]
    facts = editor._builders["medicare"].build(structure_claim(firing_claim()))
    expected = sorted(f.rule.id for f in compiled.evaluate(facts))
    assert {"NAT-UNITS-DOSE", "NAT-WASTE-KITS"} <= set(expected)
    monkeypatch.setattr(durable_rules_engine, "assert_facts", spy)
    for position in (0, 1, len(facts)):
        unmatched = {"id": "unmatched", "sid": SESSION, "kind": "nothing"}
        batch = [*facts[:position], unmatched, *facts[position:]]
        assert sorted(f.rule.id for f in compiled.evaluate(batch)) == expected
    assert returned == [1, 1, 1]  # ERR_EVENT_NOT_HANDLED every time, yet nothing was lost


# --- 7. registering mutates the ruleset; a name cannot be registered twice ----------------------


def test_control_stock_ruleset_mutates_its_definition():
    import durable.engine

    definition = {"r": {"all": [{"m": {"kind": "line"}}], "run": lambda c: None}}
    durable.engine.Ruleset(f"mutates_{next(_COUNTER)}", None, definition)
    assert "run" not in definition["r"]  # the caller's dict was changed...
    with pytest.raises(KeyError):
        durable.engine.Ruleset(f"mutates_{next(_COUNTER)}", None, definition)  # ...so it cannot be reused


def test_control_stock_host_refuses_a_name_twice():
    code = textwrap.dedent(
        """
        import os
        import durable.engine
        class Host(durable.engine.Host):
            def get_action(self, name):
                return lambda c: None
        host = Host()
        rules = lambda: {"same": {"r": {"all": [{"m": {"kind": "line"}}], "run": "noop"}}}
        host.register_rulesets(rules())
        try:
            host.register_rulesets(rules())
        except Exception as exc:
            print("refused", "already registered" in str(exc), flush=True)
        else:
            print("accepted", flush=True)
        os._exit(0)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["refused", "True"]


def test_remedy_two_editors_in_one_process_both_work():
    claims = (firing_claim(), make_claim(), {**firing_claim(), "payer": "bcbs"}, twin_lines_claim())
    first = Editor(engine="durable")
    expected = [finding_keys(first.check(claim)) for claim in claims]
    assert len({tuple(keys) for keys in expected}) == len(claims)
    second = Editor(engine="durable")  # compiles the same rules again, in the same process
    assert [finding_keys(second.check(claim)) for claim in claims] == expected
    assert [finding_keys(first.check(claim)) for claim in claims] == expected  # the first is unharmed


def test_remedy_many_rulesets_from_the_same_rules_get_unique_names(editor, monkeypatch):
    policy = editor.policies["medicare"]
    before = json.dumps([rule.when for rule in policy.rules], sort_keys=True)
    names = []
    real = durable_rules_engine.create_ruleset

    def spy(name, definition):
        names.append(name)
        return real(name, definition)

    monkeypatch.setattr(durable_rules_engine, "create_ruleset", spy)
    facts = editor._builders["medicare"].build(structure_claim(firing_claim()))
    expected = sorted(f.rule.id for f in editor._engines["medicare"].evaluate(facts))
    assert expected
    compiled = [DurableRuleset(policy.rules, "medicare") for _ in range(40)]
    assert len(names) == 40 and len(set(names)) == 40
    assert len({c._definition for c in compiled}) == 1
    for ruleset in compiled:
        assert sorted(f.rule.id for f in ruleset.evaluate(facts)) == expected
    assert json.dumps([rule.when for rule in policy.rules], sort_keys=True) == before  # rules untouched


# --- 8. swallowed action exceptions; any other engine failure ------------------------------------


def test_control_stock_host_swallows_action_exceptions():
    code = textwrap.dedent(
        """
        import os
        from durable.lang import ruleset, when_all, m, assert_fact
        with ruleset("swallow"):
            @when_all(m.kind == "line")
            def boom(c):
                raise ValueError("boom")
        try:
            state = assert_fact("swallow", {"kind": "line"})
        except Exception as exc:
            print("raised", type(exc).__name__, flush=True)
        else:
            print("returned", "boom" in state.get("exception", ""), flush=True)
        os._exit(0)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["returned", "True"]


@pytest.fixture
def fresh_editor():
    return Editor(engine="durable")


def fail_once(monkeypatch, name, replacement):
    """Replace a C API function for one call, then restore the real one."""
    real = getattr(durable_rules_engine, name)
    state = {"calls": 0}

    def once(*args):
        state["calls"] += 1
        monkeypatch.setattr(durable_rules_engine, name, real)
        return replacement(real, *args)

    monkeypatch.setattr(durable_rules_engine, name, once)
    return state


def raise_engine_error(real, *args):
    raise durable_rules_engine.error("simulated engine failure")


def no_actions(real, *args):
    return None


def fail_while_draining(real, handle, state):
    raise durable_rules_engine.error("simulated failure while draining")


@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("assert_facts", raise_engine_error),
        ("start_action_for_state", no_actions),  # the sentinel never fires
        ("complete_and_start_action", fail_while_draining),  # fails mid-drain, firings pending
        ("delete_state", raise_engine_error),
    ],
)
def test_remedy_engine_failure_is_raised_and_the_next_claim_is_clean(fresh_editor, monkeypatch, name, replacement):
    compiled = fresh_editor._engines["medicare"]
    expected_firing = finding_keys(fresh_editor.check(firing_claim()))
    expected_clean = finding_keys(fresh_editor.check(make_claim()))
    assert expected_firing != expected_clean
    old_handle = compiled._handle
    patched = fail_once(monkeypatch, name, replacement)
    with pytest.raises(EngineFailure):
        fresh_editor.check(firing_claim())
    assert patched["calls"] == 1
    assert compiled._handle != old_handle  # rebuilt under a new name
    with pytest.raises(durable_rules_engine.error, match="309"):
        durable_rules_engine.get_state(compiled._handle, SESSION)  # nothing carried over
    assert finding_keys(fresh_editor.check(make_claim())) == expected_clean  # no leftover of the failed claim
    assert finding_keys(fresh_editor.check(firing_claim())) == expected_firing
    assert finding_keys(fresh_editor.check(make_claim())) == expected_clean


def test_remedy_check_many_isolates_the_failing_claim(fresh_editor, monkeypatch):
    claims = [
        firing_claim("A"),
        make_claim(claim_id="B"),
        firing_claim("C"),
        make_claim(claim_id="D"),
        firing_claim("E"),
    ]
    expected = [finding_keys(fresh_editor.check(claim)) for claim in claims]
    real = durable_rules_engine.start_action_for_state
    calls = {"n": 0}

    def third_claim_loses_its_sentinel(handle, state):
        calls["n"] += 1
        return None if calls["n"] == 3 else real(handle, state)

    monkeypatch.setattr(durable_rules_engine, "start_action_for_state", third_claim_loses_its_sentinel)
    results = list(fresh_editor.check_many(claims))
    assert [r.claim_id for r in results] == ["A", "B", "C", "D", "E"]
    assert results[2].error is not None and "rules engine failed" in results[2].error
    assert results[2].findings == ()
    for index in (0, 1, 3, 4):
        assert results[index].error is None
        assert finding_keys(results[index]) == expected[index]


def test_remedy_a_firing_of_an_unknown_rule_is_an_engine_failure(fresh_editor, monkeypatch):
    """An unexpected message (here a rule name the adapter did not compile) fails loudly, not silently."""
    expected = finding_keys(fresh_editor.check(firing_claim()))
    real = durable_rules_engine.start_action_for_state

    def rename(handle, state):
        started = real(handle, state)
        if started:
            ((_name, matched),) = json.loads(started[1]).items()
            started = (started[0], json.dumps({"not_ours": matched}))
        return started

    monkeypatch.setattr(durable_rules_engine, "start_action_for_state", rename)
    with pytest.raises(EngineFailure):
        fresh_editor.check(firing_claim())
    monkeypatch.undo()
    assert finding_keys(fresh_editor.check(firing_claim())) == expected


# --- 9. identical facts under one sid: MessageObservedException, one firing lost ----------------


def test_control_identical_facts_lose_a_firing():
    handle = bare_ruleset(LINE_RULE)
    for batch in (
        [{"sid": "0", "kind": "line", "units": 21}, {"sid": "0", "kind": "line", "units": 21}],
        [{"id": "x", "sid": "0", "kind": "line", "units": 21}, {"id": "x", "sid": "0", "kind": "line", "units": 21}],
    ):
        code, state = durable_rules_engine.assert_facts(handle, json.dumps(batch))
        assert code == 2  # ERR_EVENT_OBSERVED: durable.engine raises MessageObservedException
        assert drain(handle, state) == ["line_rule"]  # two lines, one firing
        durable_rules_engine.delete_state(handle, "0")
    batch = [{"id": "a", "sid": "0", "kind": "line", "units": 21}, {"id": "b", "sid": "0", "kind": "line", "units": 21}]
    code, state = durable_rules_engine.assert_facts(handle, json.dumps(batch))
    assert code == 0 and drain(handle, state) == ["line_rule", "line_rule"]
    durable_rules_engine.delete_state(handle, "0")


def twin_lines_claim() -> dict:
    base = make_claim()
    first = dict(base["lines"][0], units=21)
    second = dict(copy.deepcopy(first), line=2)
    return make_claim(lines=[first, second, base["lines"][2]])


def test_remedy_two_identical_lines_both_get_their_findings(editor):
    result = editor.check(twin_lines_claim())
    mismatches = sorted(f.line for f in result.findings if f.code == "UNITS_DOSE_MISMATCH")
    assert mismatches == [1, 2]


def test_remedy_fact_ids_are_unique_within_a_claim(editor):
    for claim in (twin_lines_claim(), make_claim(), firing_claim()):
        modelled = structure_claim(claim)
        extra = copy.deepcopy(claim)
        extra["lines"] += copy.deepcopy(EXTRA_DATE)
        for built in (modelled, structure_claim(extra)):
            facts = editor._builders["medicare"].build(built, as_of=dt.date(2026, 3, 2))
            ids = [fact["id"] for fact in facts]
            assert len(ids) == len(set(ids)), ids


# --- the C core's session buffers stay in the heap ------------------------------------------


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return 1


@pytest.mark.parametrize(
    "environment, expected",
    [
        ({}, [(-3, 32 << 20), (-1, 64 << 20)]),  # M_MMAP_THRESHOLD, then M_TRIM_THRESHOLD
        ({"MALLOC_TRIM_THRESHOLD_": "131072"}, []),  # the user tuned malloc: left alone
    ],
)
def test_remedy_malloc_thresholds_are_raised_once_unless_the_user_set_them(monkeypatch, environment, expected):
    libc = FakeLibc()
    monkeypatch.setattr(engine_module, "_MALLOC_TUNED", False)
    monkeypatch.setattr(engine_module.ctypes, "CDLL", lambda name: libc)
    monkeypatch.setattr(engine_module.os, "confstr", lambda name: "glibc 2.36")
    for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    DurableRuleset([], "malloc")
    DurableRuleset([], "malloc")  # once per process
    assert libc.calls == expected


def test_remedy_malloc_is_left_alone_outside_glibc(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(engine_module, "_MALLOC_TUNED", False)
    monkeypatch.setattr(engine_module.ctypes, "CDLL", lambda name: libc)
    monkeypatch.setattr(engine_module.os, "confstr", lambda name: (_ for _ in ()).throw(ValueError("unrecognized")))
    DurableRuleset([], "malloc")
    assert libc.calls == []
