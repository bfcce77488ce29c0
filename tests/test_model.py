"""The claim model as built from the JSON contract."""

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from j9330_rules import Claim, ClaimError, Finding
from j9330_rules.model.structure import structure_claim
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE, make_claim


def test_contract_example_structures_into_the_model():
    claim = structure_claim(make_claim())
    assert isinstance(claim, Claim)
    line = claim.lines[0]
    assert line.units == Decimal(20) and isinstance(line.units, Decimal)
    assert line.charge == Decimal("2400.00")
    assert line.service_date == dt.date(2026, 3, 2)
    assert line.documentation.expiration == dt.date(2027, 1, 31)
    assert claim.diagnoses == ("C641",)
    assert claim.lines[1].modifiers == ("JW",)


def test_models_are_frozen():
    claim = structure_claim(make_claim())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        claim.payer = "aetna"


def test_floats_become_their_shortest_decimal_not_binary_noise():
    claim = make_claim()
    claim["lines"][0]["charge"] = 0.1
    claim["lines"][0]["dose_mg"] = 19.7
    line = structure_claim(claim).lines[0]
    assert line.charge == Decimal("0.1") and line.dose_mg == Decimal("19.7")


@pytest.mark.parametrize(("given", "kept"), [(["00"], ()), (["00", "JW"], ("JW",)), (["jw", "jg"], ("JW", "JG"))])
def test_double_zero_means_no_modifier(given, kept):
    claim = make_claim()
    claim["lines"][0]["modifiers"] = given
    assert structure_claim(claim).lines[0].modifiers == kept


@pytest.mark.parametrize("text", ["0008-1179-01", "00008-1179-01", "00008117901"])
def test_ndc_normalised_to_eleven_digits(text):
    claim = make_claim()
    claim["lines"][0]["ndc"] = text
    assert structure_claim(claim).lines[0].ndc == "00008117901"


def test_invalid_ndc_is_kept_for_the_ndc_invalid_edit():
    claim = make_claim()
    claim["lines"][0]["ndc"] = "12-34"
    assert structure_claim(claim).lines[0].ndc == "12-34"


def test_unknown_keys_are_kept_and_ignored():
    claim = make_claim(editor_batch="B-7")
    claim["lines"][0]["editor_flag"] = True
    model = structure_claim(claim)
    assert model.extra == {"editor_batch": "B-7"}
    assert model.lines[0].extra == {"editor_flag": True}
    assert model == structure_claim(make_claim())  # extra fields do not change what is checked


def test_lines_without_numbers_take_their_position():
    claim = make_claim()
    for line in claim["lines"]:
        del line["line"]
    assert [line.line for line in structure_claim(claim).lines] == [1, 2, 3]


@pytest.mark.parametrize("fast", [True, False], ids=["plain dict", "converters"])
def test_a_null_line_number_takes_its_position_as_an_absent_one_does(fast):
    """docs/claim-format.md: ``line`` is optional, default the 1-based position. JSON writers
    often write an absent value as null; it used to make the claim an error."""
    claim = make_claim()
    claim["lines"][1]["line"] = None
    if not fast:
        claim["lines"] = tuple(claim["lines"])  # not the plain dict the fast path takes
    assert [line.line for line in structure_claim(claim).lines] == [1, 2, 3]


def test_yyyymmdd_dates_are_accepted():
    claim = make_claim()
    claim["lines"][0]["service_date"] = "20260302"
    assert structure_claim(claim).lines[0].service_date == dt.date(2026, 3, 2)


def test_claim_error_is_a_value_error_naming_every_bad_path():
    claim = make_claim()
    claim["lines"][0]["units"] = "lots"
    claim["lines"][1]["service_date"] = "yesterday"
    with pytest.raises(ClaimError) as info:
        structure_claim(claim)
    assert isinstance(info.value, ValueError)
    assert "$.lines[0].units" in str(info.value) and "$.lines[1].service_date" in str(info.value)


def test_finding_severity_is_validated():
    with pytest.raises(ValueError):
        Finding(code="UNITS_INVALID", severity="fatal", line=1, message="x")


@pytest.mark.parametrize("first, second", [([1], [True]), ([True], [1])])
def test_remembered_checks_tell_true_from_one(first, second):
    """Checks of repeated values are remembered; True and 1 are equal keys to a plain cache."""
    for pointers in (first, second, first, second):
        claim = make_claim()
        claim["lines"][0]["dx_pointers"] = pointers
        if pointers == [True] and pointers[0] is True:
            with pytest.raises(ClaimError, match=r"\$\.lines\[0\]\.dx_pointers"):
                structure_claim(claim)
        else:
            assert structure_claim(claim).lines[0].dx_pointers == (1,)


def test_a_remembered_value_that_failed_fails_again():
    for _ in range(3):
        claim = make_claim()
        claim["lines"][0]["units"] = "twenty"
        claim["lines"][0]["service_date"] = "2026-02-30"
        with pytest.raises(ClaimError) as raised:
            structure_claim(claim)
        assert "$.lines[0].units" in str(raised.value) and "$.lines[0].service_date" in str(raised.value)


def test_editor_config_is_frozen_picklable_and_builds_the_same_editor():
    import pickle

    import attrs

    from j9330_rules import Editor, EditorConfig

    config = EditorConfig(asp_file=FIXTURE_ASP, mue_file=list(FIXTURE_MUE))
    assert config.mue_file == tuple(FIXTURE_MUE)  # a list of quarters becomes a tuple: the config stays frozen
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.engine = "durable"
    assert pickle.loads(pickle.dumps(config)) == config
    claim = make_claim()
    from_config = Editor(config).check(claim)
    from_keywords = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE).check(claim)
    assert (from_config.findings, from_config.payment) == (from_keywords.findings, from_keywords.payment)
    assert Editor(config).config.evolve(overrides=None) == config
    with pytest.raises(TypeError, match="not both"):
        Editor(config, engine="durable")
    with pytest.raises(ValueError, match="engine must be one of"):
        EditorConfig(engine="rete")
    with pytest.raises(TypeError, match="asp_fil"):
        Editor(asp_fil="x.csv")


def test_a_plugin_author_imports_what_they_need_from_the_top_level():
    import j9330_rules

    for name in ("SpecPayerPlugin", "ReferenceData", "PayerPolicy", "Payer", "Payment", "benchmark", "hookimpl"):
        assert name in j9330_rules.__all__ and getattr(j9330_rules, name) is not None
