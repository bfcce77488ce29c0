"""Spec loading: every shipped spec is valid; invalid specs fail at load, naming file and rule."""

from importlib import resources

import pytest

from j9330_rules import SpecError
from j9330_rules.rules.catalogue import catalogue
from j9330_rules.rules.specs import load_spec
from j9330_specs import NOT_RULESETS
from tests.conftest import make_claim

SPECS = resources.files("j9330_specs")
SHIPPED = sorted(p.name for p in SPECS.iterdir() if p.name.endswith(".yaml") and p.name not in NOT_RULESETS)

VALID = """
ruleset: example
version: "1"
title: Example
applies_to: [example]
rules:
  - id: EX-1
    code: UNITS_INVALID
    severity: reject
    fact: line
    when: {units_valid: false}
    message: "Line $line: bad units."
    source: "Example citation"
    effective_from: "2020-01-01"
"""


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_specs_are_valid_and_every_rule_is_cited(name):
    spec = load_spec(SPECS / name)
    assert spec.sha256 and spec.version
    for rule in spec.rules:
        assert rule.source and rule.effective.effective_from is not None
        assert rule.code in catalogue()


def test_valid_spec_loads(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    assert [rule.id for rule in spec.rules] == ["EX-1"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("code: UNITS_INVALID", "code: NOT_A_CODE"), r"rule EX-1: code NOT_A_CODE is not in the edit catalogue"),
        (("severity: reject", "severity: fatal"), r"rule EX-1 at severity"),
        (('    source: "Example citation"\n', ""), r"rule EX-1: 'source' is a required property"),
        (
            ('effective_from: "2020-01-01"', 'effective_from: "2020-01-01"\n    effective_to: "2019-01-01"'),
            r"EX-1: effective_to is before",
        ),
        (("{units_valid: false}", "{units_valid: {$python: 1}}"), r"rule EX-1 at when"),
        (("{units_valid: false}", "{$mt: {ndc: x}}"), r"rule EX-1 at when"),
        (("fact: line", "fact: claim"), r"rule EX-1 at fact"),
        (("    fact: line\n", "    fact: line\n    run: os.system\n"), r"rule EX-1.*'run' was unexpected"),
    ],
)
def test_invalid_specs_name_file_and_rule(tmp_path, change, expected):
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(SpecError, match=expected) as info:
        load_spec(path)
    assert str(path) in str(info.value)


def test_a_spec_cannot_run_code(tmp_path):
    path = write(tmp_path, "!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        load_spec(path)


def test_json_specs_load_too(tmp_path):
    import json

    import yaml

    spec = load_spec(write(tmp_path, json.dumps(yaml.safe_load(VALID)), "spec.json"))
    assert spec.name == "example"


def test_duplicate_rule_ids_are_refused(tmp_path):
    text = VALID + VALID[VALID.index("  - id: EX-1") :]
    with pytest.raises(SpecError, match="EX-1: the id is used twice"):
        load_spec(write(tmp_path, text))


def test_overlapping_parameter_periods_are_refused(tmp_path):
    text = VALID.replace(
        "rules:",
        """parameters:
  jwjz_required:
    - {value: true, effective_from: "2023-07-01", source: "Example citation"}
    - {value: false, effective_to: "2023-08-01", source: "Example citation"}
rules:""",
    )
    with pytest.raises(SpecError, match="parameter jwjz_required: two periods overlap"):
        load_spec(write(tmp_path, text))


@pytest.mark.parametrize("number", [".inf", "-.inf", ".nan"])
def test_non_finite_parameters_are_refused(tmp_path, number):
    text = VALID.replace(
        "rules:",
        f"""parameters:
  units_limit:
    - {{value: {number}, source: "Example citation"}}
rules:""",
    )
    with pytest.raises(SpecError, match="units_limit: numbers must be finite"):
        load_spec(write(tmp_path, text))


def test_a_condition_holds_one_key(tmp_path):
    # durable-rules would keep only one of the two keys: the schema refuses it.
    path = write(tmp_path, VALID.replace("{units_valid: false}", "{units_valid: false, jw: true}"))
    with pytest.raises(SpecError, match="rule EX-1 at when"):
        load_spec(path)


def _editor_with(tmp_path, spec_text):
    from j9330_rules import Editor, Payer
    from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

    path = write(tmp_path, spec_text)
    return Editor(plugins=[SpecPayerPlugin(Payer("example", "Example (test)", policy_sourced=True), path)])


def test_a_misspelled_fact_field_fails_at_load(tmp_path):
    with pytest.raises(SpecError, match=r"spec.yaml: rule EX-1: no line fact has the field units_vaild"):
        _editor_with(tmp_path, VALID.replace("{units_valid: false}", "{units_vaild: false}"))


def test_a_message_placeholder_must_be_a_fact_field(tmp_path):
    with pytest.raises(SpecError, match=r"rule EX-1: the message names patient_name, which no line fact has"):
        _editor_with(tmp_path, VALID.replace("bad units.", "bad units for $patient_name."))


def test_a_date_field_is_not_a_line_field(tmp_path):
    with pytest.raises(SpecError, match="no line fact has the field"):
        _editor_with(tmp_path, VALID.replace("{units_valid: false}", "{has_jw_line: true}"))


def test_a_parameter_may_not_shadow_a_fact_field(tmp_path):
    text = VALID.replace(
        "rules:",
        """parameters:
  form:
    - {value: institutional, source: "Example citation"}
rules:""",
    )
    with pytest.raises(SpecError, match="parameter form: the name is a built-in fact field"):
        _editor_with(tmp_path, text)


@pytest.mark.parametrize(
    ("when", "why"),
    [
        ('{units: "25"}', "units is a number field, compared \\(=\\) with '25': the constant must be a number"),
        ("{revenue_code: 636}", "revenue_code is a string field, compared \\(=\\) with 636"),
        ("{units_valid: 1}", "units_valid is a boolean field, compared \\(=\\) with 1: the constant must be true"),
        ("{$gt: {units_valid: true}}", "units_valid is a boolean field: it has no order"),
        ('{$gt: {revenue_code: "0636"}}', "revenue_code is a string field: compare it for equality or list its codes"),
        ("{$lte: {pos: '11'}}", "pos is a string field: compare it for equality"),
        ("{revenue_code: 'a\"b'}", "text without quotes"),
        ("{$lt: {units: 1.0e+300}}", "a finite number below 2\\*\\*53"),
        ("{$gte: {dos: 20240101}}", "dos is a date field.*the constant must be a date"),
        ("{kind: date}", "kind is the engine's"),
        ("{$mt: {revenue_code: '06.*'}}", "at when"),  # the schema refuses an unknown operator first
    ],
)
def test_conditions_whose_meaning_depends_on_the_engine_are_refused(tmp_path, when, why):
    """Cross-type comparisons, string order, quotes and huge numbers: refused at load, with file and rule."""
    with pytest.raises(SpecError, match=r"spec.yaml: rule EX-1.*" + why):
        _editor_with(tmp_path, VALID.replace("{units_valid: false}", when))


def test_a_date_constant_is_compared_as_a_day_number(tmp_path):
    editor = _editor_with(tmp_path, VALID.replace("{units_valid: false}", '{$gte: {dos: "2024-01-01"}}'))
    (rule,) = [r for r in editor.policies["example"].rules if r.id == "EX-1"]
    assert rule.when == {"$gte": {"dos": 20240101}}


def test_a_parameter_keeps_one_type(tmp_path):
    text = VALID.replace(
        "rules:",
        """parameters:
  example_limit:
    - {value: 5, source: "Example citation", effective_to: "2023-12-31"}
    - {value: "five", source: "Example citation", effective_from: "2024-01-01"}
rules:""",
    )
    with pytest.raises(SpecError, match="parameter example_limit: a string here, a number elsewhere"):
        _editor_with(tmp_path, text)


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    import time

    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 9):
        prev = chr(ord("a") + n - 1)
        cur = chr(ord("a") + n)
        levels.append(
            f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]"
        )
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\n", encoding="utf-8")  # 9**9 items if expanded
    started = time.perf_counter()
    with pytest.raises(SpecError, match="aliases"):
        load_spec(path)
    assert time.perf_counter() - started < 1


def test_a_spec_over_a_mebibyte_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("ruleset: big\n# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(SpecError, match="larger than 1024 KiB"):
        load_spec(path)


def _spec_with(when: str, rules: int = 1) -> str:
    body = "".join(
        f"""
  - id: T-{n}
    code: UNITS_INVALID
    severity: reject
    fact: line
    when: {when}
    message: "m"
    source: "TEST FIXTURE"
    effective_from: "2020-01-01"
"""
        for n in range(rules)
    )
    return f'ruleset: bounded\nversion: "1.0.0"\ntitle: TEST FIXTURE\napplies_to: [bounded_payer]\nrules:{body}'


def _bounded_editor(*paths, engine=None):
    """An Editor with a fixture payer whose only specs are ``paths``: rules are checked as policies merge."""
    from j9330_rules import Editor, Payer, hookimpl

    class Bounded:
        @hookimpl
        def j9330_register_payers(self, register):
            register(Payer(name="bounded_payer", display_name="TEST FIXTURE payer", policy_sourced=True))

        @hookimpl
        def j9330_register_rulesets(self, register):
            for path in paths:
                register(path)

    return Editor(plugins=[Bounded()], entry_points=False, **({"engine": engine} if engine else {}))


def test_conditions_nested_past_the_bound_are_refused_naming_the_rule(tmp_path):
    when = "{units_valid: false}"
    for _ in range(50):
        when = "{$and: [" + when + "]}"
    with pytest.raises(SpecError, match=r"rule T-0: conditions nest \d+ deep; at most 8"):
        _bounded_editor(write(tmp_path, _spec_with(when)))


def test_an_or_amplifier_is_refused(tmp_path):
    branch = "{$or: [{units_valid: false}, {units_valid: true}, {dose_matches: false}, {dose_matches: true}]}"
    when = "{$and: [" + ", ".join([branch] * 6) + "]}"  # 4**6 = 4,096 alternatives
    with pytest.raises(SpecError, match=r"rule T-0: the condition expands to [\d,]+ alternatives"):
        _bounded_editor(write(tmp_path, _spec_with(when)))


def test_too_many_rules_are_refused(tmp_path):
    with pytest.raises(SpecError, match="251 rules; a spec holds at most 250"):
        load_spec(write(tmp_path, _spec_with("{units_valid: false}", rules=251)))


_WIDE = "{$and: [" + ", ".join(["{$or: [{units_valid: false}, {units_valid: true}, {dose_matches: false}]}"] * 5) + "]}"
_DEEP = "{units_valid: false}"
for _level in range(7):
    _DEEP = "{$and: [" + _DEEP + ", {dose_matches: false}]}"


@pytest.mark.parametrize("engine", ["compiled", "durable"])
@pytest.mark.parametrize(("when", "rules"), [(_DEEP, 1), (_WIDE, 1), ("{units_valid: false}", 250)])
def test_specs_at_the_bounds_run_on_both_engines(tmp_path, engine, when, rules):
    """8 deep, 243 alternatives, 250 rules: what the schema accepts, both engines run."""
    claim = make_claim(payer="bounded_payer")
    claim["lines"][0]["units"] = 21  # units that do not match the dose: the conditions hold
    result = _bounded_editor(write(tmp_path, _spec_with(when, rules)), engine=engine).check(claim)
    assert result.error is None and result.findings


def test_a_payer_ruleset_durable_rules_cannot_hold_is_refused_naming_the_payer(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    more = (
        _spec_with("{units_valid: false}", 150).replace("ruleset: bounded", "ruleset: more").replace("id: T-", "id: U-")
    )
    paths = write(first, _spec_with("{units_valid: false}", 150)), write(second, more)
    with pytest.raises(SpecError, match=r"payer bounded_payer: durable-rules cannot hold its 3\d\d rules"):
        _bounded_editor(*paths, engine="durable")
    assert _bounded_editor(*paths, engine="compiled").policies["bounded_payer"]


def test_the_shipped_specs_are_within_the_bounds():
    from j9330_rules import Editor

    assert Editor().policies  # every shipped rule is checked as the policies merge
