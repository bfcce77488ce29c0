"""The JSON Schemas of the claim and the result (j9330_rules/schemas.py) against the code:
generated from the models, they validate every example claim and every result."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import jsonschema
import pytest
from click.testing import CliRunner

from j9330_rules.cli import main
from j9330_rules.model import Result
from j9330_rules.model.structure import error_result
from j9330_rules.readers import Unreadable, read_paths
from j9330_rules.schemas import (
    CLAIM_CLASSES,
    CLAIM_DEFAULTED,
    CLAIM_REFINEMENTS,
    DERIVED_RESULT_KEYS,
    claim_schema,
    result_schema,
    schema,
)
from j9330_rules.writers.serialise import result_to_dict
from tests.conftest import EXAMPLES, FIXTURES, make_claim

CLAIM = jsonschema.Draft202012Validator(claim_schema())
RESULT = jsonschema.Draft202012Validator(result_schema(), format_checker=jsonschema.FormatChecker())


def example_claims() -> list:
    return [item for item in read_paths([str(EXAMPLES)], None) if not isinstance(item, Unreadable)]


def fixture_claims() -> list:
    """The CSV, FHIR and X12 fixtures, read into the JSON contract as the CLI reads them."""
    claims = []
    for folder in ("csv", "fhir", "x12"):
        try:
            claims += [i for i in read_paths([str(FIXTURES / folder)], None) if isinstance(i, dict)]
        except Exception:  # a reader whose extra is missing reads nothing here
            continue
    return claims


def as_json(result: Result) -> dict:
    return json.loads(json.dumps(result_to_dict(result)))


def test_the_schemas_are_valid_json_schemas():
    for name in ("claim", "result"):
        jsonschema.Draft202012Validator.check_schema(schema(name))


def test_every_example_claim_validates():
    claims = example_claims()
    assert len(claims) >= 10
    for claim in claims:
        CLAIM.validate(claim)


def test_every_result_of_the_examples_and_fixtures_validates(editor, bare_editor):
    claims = example_claims() + fixture_claims() + [make_claim(), make_claim(payer="aetna")]
    count = 0
    for checker in (editor, bare_editor):
        for result in checker.check_many(claims):
            RESULT.validate(as_json(result))
            count += 1
        for result in checker.check_many(claims, as_of=dt.date(2026, 3, 2)):
            RESULT.validate(as_json(result))
    assert count >= 2 * len(claims)
    # with a payment benchmark and evidence, so those shapes are exercised too
    assert any(as_json(r)["payment"] for r in editor.check_many(claims))


def test_error_and_unreadable_results_validate(bare_editor):
    RESULT.validate(as_json(Result(None, None, error="request line 3: not valid JSON (x at column 1)")))
    RESULT.validate(as_json(error_result({"claim_id": "A"}, "$.lines: required field missing")))
    for result in bare_editor.check_many([None, {}, {"claim_id": "B", "payer": "nobody", "lines": []}]):
        RESULT.validate(as_json(result))
    RESULT.validate(json.loads(json.dumps(result_to_dict(Result("C", "medicare"), audit=False))))


def test_every_model_field_is_in_the_schemas():
    claim = claim_schema()
    for cls in CLAIM_CLASSES:
        properties = claim["properties"] if cls.__name__ == "Claim" else claim["$defs"][cls.__name__]["properties"]
        for field in attrs.fields(cls):
            if field.init and field.name != "extra":
                assert field.name in properties, (cls.__name__, field.name)
    result = result_schema()
    assert set(result["properties"]) == {f.name for f in attrs.fields(Result)} | set(DERIVED_RESULT_KEYS)


def test_the_refinements_name_real_fields():
    for cls, name in [*CLAIM_REFINEMENTS, *CLAIM_DEFAULTED]:
        assert name in attrs.fields_dict(cls), (cls.__name__, name)


def test_the_derived_keys_are_the_ones_result_to_dict_adds():
    data = result_to_dict(Result("A", "medicare"))
    assert set(data) - {f.name for f in attrs.fields(Result)} == set(DERIVED_RESULT_KEYS)


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.pop("lines"),
        lambda c: c.pop("claim_id"),
        lambda c: c["lines"][0].update(service_date=20260302),
        lambda c: c["lines"][0].update(units=True),
        lambda c: c.update(lines=[]),
    ],
)
def test_a_claim_the_schema_refuses_the_editor_refuses(change, bare_editor):
    claim = make_claim()
    change(claim)
    assert not CLAIM.is_valid(claim)
    assert next(iter(bare_editor.check_many([claim]))).error is not None


def test_the_cli_prints_the_generated_schemas():
    runner = CliRunner()
    for name, generated in (("claim", claim_schema()), ("result", result_schema())):
        out = runner.invoke(main, ["--no-config", "schema", name])
        assert out.exit_code == 0, out.output
        assert json.loads(out.output) == generated
