"""The two engines agree by construction: typed conditions, plain Python in the compiled one.

Four layers: every operator on every field type against the C core and a plain reading of the
contract; random typed conditions and facts (Hypothesis) against both; generated claims
through two Editors, which must give identical results; and the Editor's engine choice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import j9330_rules.engines.durable as engine_module
from j9330_rules import Editor, EngineUnavailable, SpecError
from j9330_rules.cli import main
from j9330_rules.engines import CompiledPredicates, DurableRuleset, resolve_engine
from j9330_rules.facts.fields import FieldType, vocabulary
from j9330_rules.rules.conditions import ORDER, checked
from j9330_rules.rules.specs import Effective, Rule
from tests.conftest import EXAMPLES, FIXTURE_ASP, FIXTURE_MUE, ROOT, make_claim

pytest.importorskip("durable_rules_engine")

CLAIM_FACT = {"id": "claim", "sid": "0", "kind": "claim"}
TYPES = {kind: vocabulary(kind, {}, []) for kind in ("line", "date")}
_NUMBER = 0


def rule(when, *, fact="line", start=None, end=None, rule_id=None) -> Rule:
    """A rule whose condition passed the loader's check, as every rule an Editor runs has."""
    global _NUMBER
    _NUMBER += 1
    made = Rule(
        id=rule_id or f"R{_NUMBER}",
        code="UNITS_INVALID",
        severity="info",
        fact=fact,
        when=when,
        message="m",
        source="synthetic rule",
        effective=Effective(start, end),
        ruleset="synthetic",
    )
    return checked(made, TYPES[fact], "test")


def firings(engine, facts) -> Counter:
    """(rule id, fact id) with multiplicity."""
    return Counter((f.rule.id, f.fact["id"]) for f in engine.evaluate(facts))


def both(rules, facts) -> tuple[Counter, Counter]:
    return firings(DurableRuleset(rules, "t"), facts), firings(CompiledPredicates(rules, "t"), facts)


def line_fact(**fields) -> dict:
    return {"id": "line-1", "sid": "0", "kind": "line", **fields}


def holds(node, fact) -> bool:
    """The contract in a few lines: Python comparisons; an absent field fails every comparison."""
    ((key, value),) = node.items()
    if key == "$and":
        return all(holds(item, fact) for item in value)
    if key == "$or":
        return any(holds(item, fact) for item in value)
    if key in ("$ex", "$nex"):
        return (next(iter(value)) in fact) == (key == "$ex")
    op, (field, constant) = (key, next(iter(value.items()))) if key.startswith("$") else ("eq", (key, value))
    if field not in fact:
        return False
    have = fact[field]
    return {
        "eq": have == constant,
        "$neq": have != constant,
        "$lt": have < constant,
        "$lte": have <= constant,
        "$gt": have > constant,
        "$gte": have >= constant,
    }[op]


# --- every operator on every field type --------------------------------------------------

#: Per field type: a line field of that type, the values a fact can hold, the constants a spec can.
MATRIX = {
    FieldType.BOOLEAN: ("units_valid", [True, False], [True, False]),
    FieldType.NUMBER: (
        "units",
        [0, 1, 25, -1, 10**15, 2**60 + 1, 25.0, 25.5, -0.5, 0.001, 24.999],
        [0, 1, 25, 25.5, 0.0, 0.001, -1, 2**53 - 1],
    ),
    FieldType.STRING: (
        "revenue_code",
        ["", "0636", "636", "ab", "ab ", "ab!", "a\\b", 'a"b', "é", "true", "1", "25.5"],
        ["", "0636", "636", "ab", "ab ", "ab!", "é", "true", "1", "25.5"],
    ),
    FieldType.DATE: ("dos", [20230630, 20230701, 20240101], ["2023-07-01", "2023-06-30"]),
}
OPERATORS = ["eq", "$neq", "$lt", "$lte", "$gt", "$gte"]


def matrix_rules() -> list[Rule]:
    rules = []
    for kind, (field, _values, constants) in MATRIX.items():
        for op in OPERATORS:
            if op in ORDER and kind in (FieldType.BOOLEAN, FieldType.STRING):
                continue  # refused by the loader (test_specs.py)
            for constant in constants:
                when = {field: constant} if op == "eq" else {op: {field: constant}}
                rules.append(rule(when, rule_id=f"M{len(rules)}"))
        rules += [rule({"$ex": {field: 1}}, rule_id=f"EX-{field}"), rule({"$nex": {field: 1}}, rule_id=f"NEX-{field}")]
    return rules


@pytest.fixture(scope="module")
def matrix_engines():
    rules = matrix_rules()
    return DurableRuleset(rules, "matrix"), CompiledPredicates(rules, "matrix"), rules


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values, _ in MATRIX.values() for value in values] + [(None, None)],
    ids=repr,
)
def test_every_operator_agrees_with_the_core_and_the_contract(matrix_engines, field, value):
    durable, compiled, rules = matrix_engines
    fact = line_fact() if field is None else line_fact(**{field: value})
    expected = Counter((r.id, "line-1") for r in rules if holds(r.when, fact))
    assert firings(durable, [CLAIM_FACT, fact]) == expected
    assert firings(compiled, [CLAIM_FACT, fact]) == expected


def test_the_compiled_memo_survives_being_cleared(matrix_engines, monkeypatch):
    import j9330_rules.engines.compiled as compiled_module

    _durable, _compiled, rules = matrix_engines
    for limit in (1, 3, 4096):
        monkeypatch.setattr(compiled_module, "MEMO_LIMIT", limit)
        compiled = CompiledPredicates(rules, "memo")
        for _ in range(2):
            for value in [1, 1.0, 25, 25.0, 25.5, 0, -1]:
                fact = line_fact(units=value)
                expected = Counter((r.id, "line-1") for r in rules if holds(r.when, fact))
                assert firings(compiled, [CLAIM_FACT, fact]) == expected, (limit, value)


def test_an_absent_field_fails_every_comparison_even_neq():
    rules = [
        rule({"$neq": {"revenue_code": "0636"}}, rule_id="NEQ"),
        rule({"$nex": {"revenue_code": 1}}, rule_id="NEX"),
    ]
    for engine in (DurableRuleset(rules, "t"), CompiledPredicates(rules, "t")):
        assert firings(engine, [CLAIM_FACT, line_fact()]) == {("NEX", "line-1"): 1}
        assert firings(engine, [CLAIM_FACT, line_fact(revenue_code="0250")]) == {("NEQ", "line-1"): 1}


# --- structure: $and, $or, effective dates ------------------------------------------------


def test_or_fires_once_per_rule_and_fact_in_both_engines():
    """The C core fires an $or once per alternative that holds; the adapter keeps one."""
    rules = [
        rule({"$or": [{"jw": True}, {"jz": True}]}, rule_id="OR"),
        rule(
            {"$and": [{"$or": [{"jw": True}, {"jz": True}]}, {"$or": [{"units": 1}, {"$ex": {"units": 1}}]}]},
            rule_id="AND-OR",
        ),
        rule({"$or": [{"$or": [{"jw": True}, {"jz": True}]}, {"$nex": {"ndc_valid": 1}}]}, rule_id="OR-OR"),
    ]
    facts = [CLAIM_FACT, line_fact(jw=True, jz=True, units=1), {**line_fact(jw=True), "id": "line-2"}]
    durable, compiled = both(rules, facts)
    assert durable == compiled
    assert durable == {
        (rule_id, fact): 1
        for rule_id, fact in [
            ("OR", "line-1"),
            ("OR", "line-2"),
            ("AND-OR", "line-1"),
            ("OR-OR", "line-1"),
            ("OR-OR", "line-2"),
        ]
    }


def test_effective_dates_and_kinds():
    rules = [
        rule({"units": 1}, start=dt.date(2023, 7, 1), rule_id="FROM"),
        rule({"units": 1}, end=dt.date(2023, 9, 30), rule_id="TO"),
        rule({"units": 1}, start=dt.date(2023, 7, 1), end=dt.date(2023, 9, 30), rule_id="BOTH"),
        rule({"kits_opened": 1}, fact="date", rule_id="DATE"),
    ]
    expected = {
        20230630: {"TO", "DATE"},
        20230701: {"FROM", "TO", "BOTH", "DATE"},
        20230930: {"FROM", "TO", "BOTH", "DATE"},
        20231001: {"FROM", "DATE"},
    }
    for eff, fired in expected.items():
        facts = [
            CLAIM_FACT,
            line_fact(units=1, eff=eff),
            {"id": "date-1", "sid": "0", "kind": "date", "kits_opened": 1, "eff": eff},
        ]
        durable, compiled = both(rules, facts)
        assert durable == compiled
        assert {rule_id for rule_id, _ in durable} == fired, eff


def test_firings_carry_the_claims_own_facts_in_both_engines():
    """The fact objects given, whole: the durable adapter maps a firing back by the fact's id."""
    facts = [
        CLAIM_FACT,
        line_fact(units=1, revenue_code="kept"),
        {**line_fact(units=1), "id": "line-2", "revenue_code": '{"id":"line-1"}'},
    ]
    rules = [rule({"units": 1}), rule({"$ex": {"units": 1}})]
    for engine in (DurableRuleset(rules, "t"), CompiledPredicates(rules, "t")):
        fired = engine.evaluate(facts)
        assert sorted(f.fact["id"] for f in fired) == ["line-1", "line-1", "line-2", "line-2"]
        assert all(f.fact is facts[1] for f in fired if f.fact["id"] == "line-1")
        assert all(f.fact == facts[2] for f in fired if f.fact["id"] == "line-2")


def test_fields_no_rule_reads_are_not_sent():
    rules = [rule({"units": 1}, rule_id="X"), rule({"kits_opened": 1}, fact="date", rule_id="Y")]
    facts = [
        CLAIM_FACT,
        line_fact(units=1, jw=True, kits_opened=1),  # kits_opened is read, but only on date facts
        {"id": "date-1", "sid": "0", "kind": "date", "kits_opened": 1, "units": 2},
    ]
    sent = json.loads(DurableRuleset(rules, "t").projection.payload(facts))
    assert [sorted(item) for item in sent] == [
        ["id", "kind", "sid"],
        ["id", "kind", "sid", "units"],
        ["id", "kind", "kits_opened", "sid"],
    ]


def test_the_checked_language_is_what_keeps_the_engines_apart_from_c_accidents():
    """Conditions the core reads unlike Python never reach an engine."""
    for when in (
        {"$gt": {"revenue_code": "ab "}},  # the core: "ab" > "ab " (its closing quote is 0x22)
        {"units": "1"},  # the core: the number 1 equals the string "1"
        {"units_valid": 1},  # the core: true equals 1
    ):
        with pytest.raises(SpecError, match="rule R"):
            rule(when)


# --- random typed conditions against both engines -----------------------------------------

#: Line fields by type, for generated conditions and facts.
FIELD_VALUES = {
    "units_valid": st.booleans(),
    "jw": st.booleans(),
    "units": st.one_of(st.integers(-5, 80), st.sampled_from([25.0, 25.5, 0.001, 10**15, 2**60 + 1])),
    "ndc_units_covered": st.sampled_from([0, 25, 50, 24.5, 25.001]),
    "revenue_code": st.sampled_from(["", "0636", "636", "ab", "ab ", "a\\b", 'a"b', "é"]),
    "dos": st.sampled_from([20230630, 20230701, 20240101]),
}
CONSTANTS = {
    "units_valid": st.booleans(),
    "jw": st.booleans(),
    "units": st.one_of(st.integers(-5, 80), st.sampled_from([25.5, 0.001, 0.0])),
    "ndc_units_covered": st.sampled_from([0, 25, 24.5]),
    "revenue_code": st.sampled_from(["", "0636", "636", "ab", "ab ", "é"]),
    "dos": st.sampled_from(["2023-06-30", "2023-07-01", "2024-01-01"]),
}
ORDERED_FIELDS = ["units", "ndc_units_covered", "dos"]


@st.composite
def leaves(draw):
    field = draw(st.sampled_from(sorted(FIELD_VALUES)))
    shape = draw(st.sampled_from(["eq", "$neq", "$ex", "$nex", *(sorted(ORDER) if field in ORDERED_FIELDS else [])]))
    if shape in ("$ex", "$nex"):
        return {shape: {field: 1}}
    constant = draw(CONSTANTS[field])
    return {field: constant} if shape == "eq" else {shape: {field: constant}}


conditions = st.recursive(
    leaves(),
    lambda children: st.builds(
        lambda o, items: {o: items}, st.sampled_from(["$and", "$or"]), st.lists(children, min_size=1, max_size=3)
    ),
    max_leaves=6,
)
typed_facts = st.fixed_dictionaries({}, optional=FIELD_VALUES)
days = st.sampled_from([None, dt.date(2023, 6, 30), dt.date(2023, 7, 1), dt.date(2024, 1, 1)])


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(st.tuples(conditions, days, days), min_size=1, max_size=4),
    facts=st.lists(st.tuples(typed_facts, st.sampled_from([20230630, 20230701, 20240101])), min_size=1, max_size=3),
)
def test_random_typed_conditions_agree_in_both_engines(specs, facts):
    rules = [rule(when, start=start, end=end) for when, start, end in specs]
    claim_facts = [CLAIM_FACT] + [
        {"id": f"line-{index}", "sid": "0", "kind": "line", "eff": eff, **fields}
        for index, (fields, eff) in enumerate(facts)
    ]
    expected = Counter(
        (r.id, fact["id"])
        for fact in claim_facts[1:]
        for r in rules
        if r.effective.contains(dt.date(fact["eff"] // 10000, fact["eff"] // 100 % 100, fact["eff"] % 100))
        and holds(r.when, fact)
    )
    durable, compiled = both(rules, claim_facts)
    assert compiled == expected
    assert durable == expected


# --- generated claims through two Editors ------------------------------------------------


@pytest.fixture(scope="module")
def editors() -> tuple[Editor, Editor]:
    durable = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine="durable")
    compiled = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine="compiled")
    assert (durable.engine, compiled.engine) == ("durable", "compiled")
    return durable, compiled


EDGE_DATES = [
    dt.date(2023, 6, 30),
    dt.date(2023, 7, 1),
    dt.date(2023, 9, 30),
    dt.date(2023, 10, 1),
    dt.date(2024, 1, 1),
    dt.date(2016, 12, 31),
    dt.date(2017, 1, 1),
    dt.date(2026, 3, 2),
]
service_dates = st.one_of(st.sampled_from(EDGE_DATES), st.dates(dt.date(2016, 1, 1), dt.date(2026, 12, 31)))
DIAGNOSES = ["C64.1", "C64.2", "C54.1", "C55", "C49.9", "D30.00", "J84.81", "C83.10", "C50.911", "E11.9"]
NDCS = [None, "00008117901", "0008-1179-01", "68083020201", "68083-202-01", "16729022331", "1234567890", "12345"]
HOSPITAL_TYPES = [
    None,
    "critical_access",
    "maryland",
    "non_excepted_off_campus",
    "rural_sch",
    "childrens",
    "cancer",
    "dsh",
]
units_values = st.one_of(st.integers(-3, 80), st.sampled_from([0, -1, "12.5", 0.5, "20", "25", 50, "1e1"]))
doses = st.one_of(st.none(), st.sampled_from(["20", "25", "12.5", "0.00001", "75", "50.5", 100, 7.5]))
documentation = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "lot": st.sampled_from(["AB123", ""]),
            "expiration": st.sampled_from(["2016-05-01", "2024-01-01", "2027-01-31"]),
            "route": st.sampled_from(["IV", "intravenous", "SC", " iv "]),
        },
    ),
)


@st.composite
def claims(draw) -> dict:
    diagnoses = draw(st.lists(st.sampled_from(DIAGNOSES), max_size=3, unique=True))
    dates = draw(st.lists(service_dates, min_size=1, max_size=3, unique=True))
    form = draw(st.sampled_from(["professional", "institutional"]))
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        line = {
            "hcpcs": "J9330",
            "service_date": draw(st.sampled_from(dates)).isoformat(),
            "modifiers": draw(st.lists(st.sampled_from(["JW", "JZ", "JG", "TB", "GA", "XX"]), max_size=3, unique=True)),
            "units": draw(units_values),
            "ndc": draw(st.sampled_from(NDCS)),
            "ndc_unit": draw(st.sampled_from([None, "UN", "ML"])),
            "ndc_quantity": draw(st.sampled_from([None, "1", "2", "0.5"])),
            "dose_mg": draw(doses),
            "dx_pointers": draw(st.lists(st.integers(1, len(diagnoses)), max_size=2, unique=True)) if diagnoses else [],
            "documentation": draw(documentation),
            "revenue_code": draw(st.sampled_from([None, "0636", "636", "0250"])),
            "charge": "100.00",
        }
        lines.append(line)
    for day in dates:
        for code in draw(st.lists(st.sampled_from(["96413", "96409", "96415", "J1100", "99213"]), max_size=2)):
            lines.append(
                {
                    "hcpcs": code,
                    "service_date": day.isoformat(),
                    "units": 1,
                    "charge": "50.00",
                    "dx_pointers": [1] if diagnoses else [],
                }
            )
    lines = draw(st.permutations(lines))
    lines = [{"line": number, **line} for number, line in enumerate(lines, start=1)]
    return make_claim(
        claim_id=f"GEN-{draw(st.integers(1, 10**6))}",
        payer=draw(st.sampled_from(["medicare", "aetna", "bcbs", "cigna", "uhc"])),
        form=form,
        place_of_service=draw(st.sampled_from([None, "11", "22", "19", "21", "51", "61", "12"])),
        type_of_bill=draw(st.sampled_from([None, "0131", "131", "0111", "0117", "0851"])),
        diagnoses=diagnoses,
        patient={"birth_date": draw(st.sampled_from([None, "1956-04-02", "2010-07-01", "2007-10-01"])), "sex": "F"},
        provider={
            "npi": "1234567893",
            "is_340b": draw(st.booleans()),
            "hospital_type": draw(st.sampled_from(HOSPITAL_TYPES)),
        },
        prior_authorization=draw(st.sampled_from([None, "PA-1"])),
        lines=lines,
    )


def evidence(result) -> Counter:
    if result.audit is None:
        return Counter()
    return Counter((e.rule_id, e.line, json.dumps(e.facts, sort_keys=True, default=str)) for e in result.audit.evidence)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    batch=st.lists(claims(), min_size=1, max_size=3),
    as_of=st.sampled_from([None, dt.date(2023, 7, 1), dt.date(2023, 9, 30), dt.date(2024, 1, 1)]),
)
def test_generated_claims_give_identical_results(editors, batch, as_of):
    durable, compiled = editors
    expected = list(durable.check_many(batch, as_of=as_of))
    got = list(compiled.check_many(batch, as_of=as_of))
    assert got == expected
    for mine, theirs in zip(got, expected):
        assert evidence(mine) == evidence(theirs)


def test_example_files_give_identical_results(editors):
    durable, compiled = editors
    for path in sorted((ROOT / "examples").iterdir()):
        text = path.read_text()
        batch = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".ndjson"
            else [json.loads(text)]
        )
        assert list(compiled.check_many(batch)) == list(durable.check_many(batch)), path.name


# --- the Editor's choice of engine -------------------------------------------------------


def test_durable_without_durable_rules_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(engine_module, "_engine", None)
    monkeypatch.setattr(engine_module, "_IMPORT_ERROR", ImportError("no durable_rules_engine"))
    with pytest.raises(EngineUnavailable, match=r"pip install 'j9330-rules\[durable\]'"):
        Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE, engine="durable")
    # the default engine needs none of it
    assert Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE).check(make_claim()).findings == ()


def test_cli_engine_durable_without_durable_rules_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(engine_module, "_engine", None)
    monkeypatch.setattr(engine_module, "_IMPORT_ERROR", ImportError("no durable_rules_engine"))
    result = CliRunner().invoke(main, ["check", "--engine", "durable", str(EXAMPLES)])
    assert result.exit_code == 2
    assert "j9330-rules[durable]" in result.output
    assert "Traceback" not in result.output


def test_unknown_engine_name_is_refused():
    with pytest.raises(ValueError):
        resolve_engine("rete")


# --- the benchmark runs ------------------------------------------------------------------


def run_bench(script: str, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """A bench/ script in a fresh interpreter, as its README says to run it."""
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_benchmark_quick_run_completes():
    proc = run_bench("run.py", "--quick", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "durable / baseline" in proc.stdout
    assert "compiled / baseline" in proc.stdout
    # The straight-line checker of the whole job (bench/straight.py): held to the product, then timed.
    assert " 0 mismatches" in proc.stdout
    assert "compiled / straight-line" in proc.stdout
    targets = proc.stdout.split("== targets")[1]
    for name in (
        "compiled check_many >= 0.5x straight-line",
        "compiled p99 Editor.check < 0.5 ms",
        "check_many(workers=2) >= 1.7x one process",
        "CLI ndjson >= 0.5x library check_many",
        "library RSS flat within 10% (compiled)",
        *(f"CLI RSS flat within 10% (--format {fmt})" for fmt in ("table", "json", "ndjson", "csv", "x12-summary")),
        "Spark local[1] -> local[2] >= 1.8x",
    ):
        assert name in targets, name


@pytest.mark.slow
def test_bench_stages_times_every_stage_and_the_straight_line_budget():
    proc = run_bench("stages.py", "--rounds", "1", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    timed = {}
    for line in proc.stdout.splitlines()[1:10]:
        name, _, value = line.strip().rpartition(" ")
        timed[name.strip()] = float(value)
    stages = [value for name, value in timed.items() if name != "whole check"]
    assert len(stages) == 8 and all(value > 0 for value in stages[:-1])
    assert timed["whole check"] > max(stages)
    assert "straight-line checker (bench/straight.py), same claims:" in proc.stdout
    assert "0.5x the straight-line checker leaves" in proc.stdout
