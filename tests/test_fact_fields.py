"""The typed fact vocabulary that specs are checked against matches the facts actually built."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from j9330_rules.facts.fields import misfits, type_of_value, vocabulary
from j9330_rules.model.structure import structure_claim
from tests.conftest import make_claim

line_changes = st.fixed_dictionaries(
    {},
    optional={
        "units": st.sampled_from([0, 5, 20, 25, "2.5"]),
        "modifiers": st.lists(st.sampled_from(["JW", "JZ", "JG", "TB", "GA"]), max_size=3, unique=True),
        "ndc": st.sampled_from([None, "00008117901", "12345678901", "bad"]),
        "ndc_unit": st.sampled_from(["UN", "ML"]),
        "dose_mg": st.sampled_from([None, "20", "12.5"]),
        "documentation": st.sampled_from([None, {"lot": "A", "expiration": "2020-01-01", "route": "IM"}]),
        "service_date": st.sampled_from(["2026-03-02", "2026-03-05", "2023-08-01"]),
    },
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None, max_examples=60)
@given(
    st.lists(line_changes, min_size=1, max_size=3),
    st.sampled_from(["medicare", "aetna", "bcbs", "cigna", "uhc"]),
    st.booleans(),
    st.sampled_from([None, "1990-01-01", "2015-06-01"]),
)
def test_facts_carry_only_vocabulary_parameters_and_code_set_fields(editor, changes, payer, is_340b, birth):
    claim = make_claim(
        payer=payer, provider={"is_340b": is_340b, "hospital_type": "dsh"}, patient={"birth_date": birth}
    )
    for line, change in zip(claim["lines"], changes):
        line.update(change)
    model = structure_claim(claim)
    policy = editor.policies[payer]
    builder = editor._builders[payer]
    facts = builder.build(model, prior=[(model.lines[0].service_date, 25)])
    parameters = {
        name: kind
        for name, periods in policy.parameters.items()
        for kind in {type_of_value(period.value) for period in periods} - {None}
    }
    sets = [(name, code_set.field) for name, code_set in policy.code_sets.items()]
    assert facts[0] == {"id": "claim", "sid": "0", "kind": "claim"}
    for fact in facts[1:]:
        assert misfits(fact, vocabulary(fact["kind"], parameters, sets)) == [], fact["kind"]
        assert all(not isinstance(v, (float, Decimal)) or "e" not in repr(v) for v in fact.values())


def test_misfits_names_unknown_and_mistyped_fields():
    types = vocabulary("line", {}, [("covered", "diagnosis")])
    fact = {"id": "line-1", "kind": "line", "units": "25", "jw": 1, "in_covered": True, "shoe_size": 9, "line": 1.5}
    assert misfits(fact, types) == [
        "units: str where a number belongs",
        "jw: int where a boolean belongs",
        "shoe_size: not in the vocabulary",
    ]
    assert misfits({"units": True}, types) == ["units: bool where a number belongs"]
    assert misfits({"units": float("inf")}, types) == ["units: inf is not a finite number"]
