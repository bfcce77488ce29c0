"""Garbage in: ``Editor.check`` raises ClaimError naming the field path; ``check_many`` never raises.

The contract (docs: claim-format, errors.ClaimError): an invalid claim or an unknown payer
raises ``ClaimError`` (a ``ValueError``) whose message names the field path and the problem,
never the value, because claims carry patient identifiers and messages end up in logs.
``check_many`` yields exactly one ``Result`` per input, in order, with ``error`` set for bad ones.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from j9330_rules import Claim, ClaimError, ClaimLine, Result
from j9330_rules.facts.builder import FactBuilder
from tests.conftest import CLEAN_CLAIM, make_claim

# --- building bad claims ---------------------------------------------------------


def line_set(index: int, **fields: Any) -> Callable[[], dict]:
    def make() -> dict:
        claim = make_claim()
        claim["lines"][index].update(copy.deepcopy(fields))
        return claim

    return make


def line_without(index: int, key: str) -> Callable[[], dict]:
    def make() -> dict:
        claim = make_claim()
        del claim["lines"][index][key]
        return claim

    return make


def top_set(**fields: Any) -> Callable[[], dict]:
    return lambda: make_claim(**fields)


def top_without(key: str) -> Callable[[], dict]:
    def make() -> dict:
        claim = make_claim()
        del claim[key]
        return claim

    return make


def duplicate_line_number() -> dict:
    claim = make_claim()
    claim["lines"][1]["line"] = 1
    return claim


def too_many_lines() -> dict:
    line = CLEAN_CLAIM["lines"][0]  # a J9330 line: a claim with none is not checked at all
    return make_claim(lines=[dict(line, line=n) for n in range(1, 1001)])


# (id, factory of the bad input, the field path the message must name)
BAD: list[tuple[str, Callable[[], Any], str]] = [
    # not a claim object at all
    ("none", lambda: None, "$"),
    ("empty-list", lambda: [], "$"),
    ("list-of-claims", lambda: [make_claim()], "$"),
    ("string", lambda: "CLM-0001", "$"),
    ("json-text", lambda: json.dumps(CLEAN_CLAIM), "$"),
    ("bytes", lambda: b"{}", "$"),
    ("int", lambda: 42, "$"),
    ("float", lambda: 4.2, "$"),
    ("bool", lambda: True, "$"),
    ("object", lambda: object(), "$"),
    # missing fields
    ("empty-dict", lambda: {}, "$.claim_id"),
    ("no-claim-id", top_without("claim_id"), "$.claim_id"),
    ("no-payer", top_without("payer"), "$.payer"),
    ("null-payer", top_set(payer=None), "$.payer"),
    ("no-lines", top_without("lines"), "$.lines"),
    ("empty-lines", top_set(lines=[]), "$.lines"),
    ("no-hcpcs", line_without(0, "hcpcs"), "$.lines[0].hcpcs"),
    ("no-service-date", line_without(1, "service_date"), "$.lines[1].service_date"),
    # wrong types
    ("claim-id-list", top_set(claim_id=["CLM-0001"]), "$.claim_id"),
    ("claim-id-empty", top_set(claim_id="  "), "$.claim_id"),
    ("claim-id-bool", top_set(claim_id=True), "$.claim_id"),
    # A string or an object where the list of lines belongs is iterated, so the message names
    # $.lines[0] rather than $.lines (a minor wording issue in structure.py): any $.lines path is accepted.
    ("lines-string", top_set(lines="J9330"), "$.lines*"),
    ("lines-dict", top_set(lines={"line": 1}), "$.lines*"),
    ("line-string", top_set(lines=["J9330 x20"]), "$.lines[0]"),
    ("line-null", top_set(lines=[None]), "$.lines[0]"),
    ("line-number-string", line_set(0, line="1"), "$.lines[0].line"),
    ("line-number-float", line_set(0, line=1.0), "$.lines[0].line"),
    ("units-word", line_set(0, units="twenty"), "$.lines[0].units"),
    ("units-bool", line_set(0, units=True), "$.lines[0].units"),
    ("units-list", line_set(0, units=[20]), "$.lines[0].units"),
    ("units-object", line_set(0, units={"value": 20}), "$.lines[0].units"),
    ("charge-comma", line_set(1, charge="600,00"), "$.lines[1].charge"),
    ("charge-three-places", line_set(1, charge="600.005"), "$.lines[1].charge"),
    ("hcpcs-short", line_set(0, hcpcs="J933"), "$.lines[0].hcpcs"),
    ("hcpcs-list", line_set(0, hcpcs=["J9330"]), "$.lines[0].hcpcs"),
    ("modifiers-string", line_set(1, modifiers="JW"), "$.lines[1].modifiers"),
    ("modifiers-nested", line_set(1, modifiers=[["JW"]]), "$.lines[1].modifiers"),
    ("diagnoses-string", top_set(diagnoses="C64.1"), "$.diagnoses"),
    ("diagnoses-number", top_set(diagnoses=[641]), "$.diagnoses"),
    ("diagnoses-garbage", top_set(diagnoses=["kidney cancer"]), "$.diagnoses"),
    ("pointers-string", line_set(0, dx_pointers="1"), "$.lines[0].dx_pointers"),
    ("pointers-float", line_set(0, dx_pointers=[1.0]), "$.lines[0].dx_pointers"),
    ("pointers-bool", line_set(0, dx_pointers=[True]), "$.lines[0].dx_pointers"),
    ("is-340b-string", top_set(provider={"npi": "1234567893", "is_340b": "yes"}), "$.provider.is_340b"),
    ("is-340b-int", top_set(provider={"npi": "1234567893", "is_340b": 1}), "$.provider.is_340b"),
    ("provider-string", top_set(provider="Acme Oncology"), "$.provider"),
    ("patient-list", top_set(patient=[]), "$.patient"),
    ("documentation-string", line_set(0, documentation="given"), "$.lines[0].documentation"),
    ("form-dental", top_set(form="dental"), "$.form"),
    ("pos-word", top_set(place_of_service="office"), "$.place_of_service"),
    ("pos-three-digits", top_set(place_of_service="111"), "$.place_of_service"),
    # huge numbers
    ("units-inf-float", line_set(0, units=1e400), "$.lines[0].units"),
    ("units-minus-inf", line_set(0, units=-1e400), "$.lines[0].units"),
    ("units-1e400-string", line_set(0, units="1e400"), "$.lines[0].units"),
    ("units-10**30", line_set(0, units=10**30), "$.lines[0].units"),
    ("units-400-digits", line_set(0, units="9" * 400), "$.lines[0].units"),
    ("units-100-million", line_set(0, units=100_000_000), "$.lines[0].units"),
    ("charge-10**30", line_set(0, charge=10**30), "$.lines[0].charge"),
    ("dose-inf", line_set(0, dose_mg=1e400), "$.lines[0].dose_mg"),
    ("ndc-quantity-10**30", line_set(0, ndc_quantity=10**30), "$.lines[0].ndc_quantity"),
    # NaN and infinity
    ("units-nan-float", line_set(0, units=float("nan")), "$.lines[0].units"),
    ("units-nan-string", line_set(0, units="NaN"), "$.lines[0].units"),
    ("units-snan-string", line_set(0, units="sNaN"), "$.lines[0].units"),
    ("units-infinity-string", line_set(0, units="Infinity"), "$.lines[0].units"),
    ("units-nan-decimal", line_set(0, units=Decimal("NaN")), "$.lines[0].units"),
    ("charge-nan", line_set(1, charge=float("nan")), "$.lines[1].charge"),
    ("dose-nan", line_set(0, dose_mg="nan"), "$.lines[0].dose_mg"),
    ("ndc-quantity-inf", line_set(0, ndc_quantity="-Infinity"), "$.lines[0].ndc_quantity"),
    # negative or zero where that is no value
    ("charge-negative-string", line_set(0, charge="-2400.00"), "$.lines[0].charge"),
    ("charge-negative-number", line_set(2, charge=-0.01), "$.lines[2].charge"),
    ("dose-negative", line_set(0, dose_mg="-20"), "$.lines[0].dose_mg"),
    ("dose-zero", line_set(0, dose_mg=0), "$.lines[0].dose_mg"),
    # bad dates
    ("date-feb-30", line_set(0, service_date="2026-02-30"), "$.lines[0].service_date"),
    ("date-us-format", line_set(0, service_date="03/02/2026"), "$.lines[0].service_date"),
    ("date-word", line_set(0, service_date="yesterday"), "$.lines[0].service_date"),
    ("date-empty", line_set(0, service_date=""), "$.lines[0].service_date"),
    ("date-number", line_set(0, service_date=20260302), "$.lines[0].service_date"),
    ("date-with-time", line_set(0, service_date="2026-03-02T10:00:00"), "$.lines[0].service_date"),
    ("date-datetime-object", line_set(0, service_date=dt.datetime(2026, 3, 2, 10, 0)), "$.lines[0].service_date"),
    ("birth-date-month-13", top_set(patient={"birth_date": "1956-13-01", "sex": "F"}), "$.patient.birth_date"),
    (
        "expiration-month-only",
        line_set(0, documentation={"lot": "AB123", "expiration": "2027-01", "route": "IV"}),
        "$.lines[0].documentation.expiration",
    ),
    # bad modifiers
    ("modifier-one-char", line_set(0, modifiers=["J"]), "$.lines[0].modifiers"),
    ("modifier-three-chars", line_set(1, modifiers=["JWZ"]), "$.lines[1].modifiers"),
    ("modifier-punctuation", line_set(1, modifiers=["J-"]), "$.lines[1].modifiers"),
    ("modifier-empty", line_set(1, modifiers=[""]), "$.lines[1].modifiers"),
    ("modifier-null", line_set(1, modifiers=[None]), "$.lines[1].modifiers"),
    ("five-modifiers", line_set(0, modifiers=["GA", "GY", "KX", "59", "XU"]), "$.lines[0].modifiers"),
    ("six-modifiers-on-jw-line", line_set(1, modifiers=["JW", "GA", "GY", "KX", "59", "XU"]), "$.lines[1].modifiers"),
    # diagnosis pointers out of range
    ("pointer-past-end", line_set(0, dx_pointers=[2]), "$.lines[0].dx_pointers"),
    ("pointer-zero", line_set(0, dx_pointers=[0]), "$.lines[0].dx_pointers"),
    ("pointer-negative", line_set(1, dx_pointers=[-1]), "$.lines[1].dx_pointers"),
    ("pointer-past-end-on-admin-line", line_set(2, dx_pointers=[1, 5]), "$.lines[2].dx_pointers"),
    ("pointer-huge", line_set(0, dx_pointers=[10**30]), "$.lines[0].dx_pointers"),
    # line numbers
    ("duplicate-line-number", duplicate_line_number, "$.lines[1].line"),
    ("line-number-zero", line_set(0, line=0), "$.lines[0].line"),
    ("line-number-negative", line_set(2, line=-3), "$.lines[2].line"),
]

UNKNOWN_PAYER = "acme_health_plan"


def expect_claim_error(editor, data) -> str:
    with pytest.raises(ClaimError) as caught:
        editor.check(data)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def names_path(message: str, path: str) -> bool:
    """The message names ``path`` as one of its "path: problem" parts ("$.x*": any path under $.x)."""
    if path.endswith("*"):
        return any(part.startswith(path[:-1]) and ": " in part for part in message.split("; "))
    return any(part.startswith(f"{path}:") for part in message.split("; "))


# --- check ---------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "path"), [pytest.param(make, path, id=name) for name, make, path in BAD])
def test_check_raises_claim_error_naming_the_path(editor, make, path):
    message = expect_claim_error(editor, make())
    assert names_path(message, path), message
    for part in message.split("; "):
        assert part.startswith("$") and ": " in part  # every problem is "path: what is wrong"


def test_claim_error_is_a_value_error():
    assert issubclass(ClaimError, ValueError)


def test_an_empty_object_names_every_required_field(editor):
    message = expect_claim_error(editor, {})
    for path in ("$.claim_id", "$.payer", "$.lines"):
        assert names_path(message, path), message


def test_every_problem_of_a_claim_is_reported(editor):
    claim = make_claim()
    claim["lines"][0]["units"] = "NaN"
    claim["lines"][1]["charge"] = "-1"
    claim["lines"][2]["service_date"] = "2026-02-30"
    message = expect_claim_error(editor, claim)
    for path in ("$.lines[0].units", "$.lines[1].charge", "$.lines[2].service_date"):
        assert names_path(message, path), message


def test_too_many_lines_is_an_error_about_the_lines(editor):
    message = expect_claim_error(editor, too_many_lines())
    assert message.startswith("$") and "999 lines" in message


def test_unknown_payer_lists_the_known_payers(editor):
    message = expect_claim_error(editor, make_claim(payer=UNKNOWN_PAYER))
    assert names_path(message, "$.payer"), message
    known = sorted(editor.payers)
    assert "medicare" in known
    for name in known:
        assert name in message
    assert UNKNOWN_PAYER not in message  # the given value is never echoed


def test_payer_names_are_case_insensitive_not_an_error(editor):
    assert editor.check(make_claim(payer="  Medicare ")).payer == "medicare"


@pytest.mark.parametrize("units", [0, -5, "-20", "20.5", "0.001"])
def test_bad_units_on_a_drug_line_are_an_edit_not_an_input_error(editor, units):
    """Zero, negative and fractional units are well-formed numbers: UNITS_INVALID reports them."""
    result = editor.check(line_set(0, units=units)())
    assert result.error is None
    assert [(f.code, f.line) for f in result.findings if f.code == "UNITS_INVALID"] == [("UNITS_INVALID", 1)]


def test_the_input_is_not_modified(editor):
    claim = line_set(0, units="NaN")()
    before = copy.deepcopy(claim)
    expect_claim_error(editor, claim)
    editor.check(make_claim())
    assert claim == before


# --- check_many -------------------------------------------------------------------------


def _labelled(index: int, data: Any) -> Any:
    """Give dict inputs a distinct, valid claim id so results can be matched to inputs."""
    if isinstance(data, dict) and isinstance(data.get("claim_id"), str) and data["claim_id"].strip():
        data["claim_id"] = f"BAD-{index:03d}"
    return data


def test_check_many_yields_one_result_per_input_in_order(editor):
    inputs: list[Any] = []
    expected: list[tuple[str | None, str | None]] = []  # (claim id, path of the error or None)
    for index, (_name, make, path) in enumerate(BAD):
        inputs.append(_labelled(index, make()))
        expected.append(
            (inputs[-1]["claim_id"] if path != "$.claim_id" and isinstance(inputs[-1], dict) else None, path)
        )
        inputs.append(make_claim(claim_id=f"GOOD-{index:03d}"))
        expected.append((f"GOOD-{index:03d}", None))
    inputs.append(make_claim(payer=UNKNOWN_PAYER, claim_id="UNKNOWN-PAYER"))
    expected.append(("UNKNOWN-PAYER", "$.payer"))

    results = list(editor.check_many(iter(inputs)))  # a one-shot iterator, as from a reader

    assert len(results) == len(inputs)
    assert all(isinstance(result, Result) for result in results)
    for data, result, (claim_id, path) in zip(inputs, results, expected):
        if path is None:
            assert result.error is None and result.claim_id == claim_id and result.payer == "medicare"
            assert result.findings == ()
        else:
            assert result.error, data
            assert names_path(result.error, path), result.error
            assert result.findings == ()
            if claim_id is not None:
                assert result.claim_id == claim_id


@pytest.mark.parametrize(("make", "path"), [pytest.param(make, path, id=name) for name, make, path in BAD])
def test_check_many_error_is_the_check_error(editor, make, path):
    message = expect_claim_error(editor, make())
    (result,) = editor.check_many([make()])
    assert result.error == message


def test_check_many_labels_errors_with_a_usable_claim_id_only(editor):
    inputs = [
        None,
        {"claim_id": "X" * 65, "payer": "medicare"},
        {"claim_id": ["a"]},
        {"claim_id": "C-7"},
        top_set(claim_id=7)(),
    ]
    results = list(editor.check_many(inputs))
    assert [r.claim_id for r in results[:4]] == [None, None, None, "C-7"]
    assert all(r.error for r in results[:4])
    assert results[4].error is None and results[4].claim_id == "7"


def test_check_many_survives_an_internal_error_and_keeps_going(editor, monkeypatch, caplog):
    original = FactBuilder.build

    def build(self, claim, as_of=None, prior=()):
        if claim.claim_id == "BOOM":
            raise RuntimeError("simulated bug")
        return original(self, claim, as_of=as_of, prior=prior)

    monkeypatch.setattr(FactBuilder, "build", build)
    caplog.set_level(logging.DEBUG)
    results = list(editor.check_many([make_claim(claim_id="A"), make_claim(claim_id="BOOM"), make_claim(claim_id="C")]))
    assert [r.claim_id for r in results] == ["A", "BOOM", "C"]
    assert results[0].error is None and results[2].error is None
    assert results[1].error == "internal error (RuntimeError)"
    assert any("internal error on input 2" in record.getMessage() for record in caplog.records)


def test_check_many_of_nothing_is_nothing(editor):
    assert list(editor.check_many([])) == []


# --- PHI never reaches an error message or a log ------------------------------------------

PATIENT_NAME = "Zebulon Q. Patientsworth"
MEMBER_ID = "MBR-88812-XQ-4471"
FREE_TEXT = "pt disclosed HIV+ status, lives at 12 Quarry Lane"
PHI = f"{PATIENT_NAME} {MEMBER_ID} {FREE_TEXT}"
FRAGMENTS = ("Zebulon", "Patientsworth", "88812", "XQ-4471", "HIV+", "Quarry Lane")

# Every string-valued (or string-accepting) field of the contract, as a path into the claim.
STRING_FIELDS: list[tuple[Any, ...]] = [
    ("payer",),
    ("form",),
    ("type_of_bill",),
    ("place_of_service",),
    ("diagnoses", 0),
    ("patient", "birth_date"),
    ("patient", "sex"),
    ("provider", "npi"),
    ("provider", "hospital_type"),
    ("provider", "is_340b"),
    ("prior_authorization",),
    *[
        ("lines", index, key)
        for index in (0, 1, 2)
        for key in (
            "hcpcs",
            "units",
            "service_date",
            "charge",
            "ndc",
            "ndc_unit",
            "ndc_quantity",
            "revenue_code",
            "dose_mg",
            "line",
        )
    ],
    ("lines", 0, "modifiers", 0),
    ("lines", 1, "modifiers", 0),
    ("lines", 0, "dx_pointers", 0),
    ("lines", 0, "documentation", "lot"),
    ("lines", 0, "documentation", "expiration"),
    ("lines", 0, "documentation", "route"),
]


def _put(claim: dict, path: tuple[Any, ...], value: Any) -> None:
    target = claim
    for step in path[:-1]:
        target = target[step]
    if isinstance(target, list) and path[-1] == len(target):
        target.append(value)  # e.g. the first modifier of a line that has none
    else:
        target[path[-1]] = value


def _with_phi_in_unknown_fields(claim: dict) -> dict:
    claim["patient_name"] = PATIENT_NAME
    claim["member_id"] = MEMBER_ID
    claim["notes"] = {"free_text": FREE_TEXT, "history": [PHI, {"author": PATIENT_NAME}]}
    claim[PHI] = PHI  # even as a key
    claim["patient"]["name"] = PATIENT_NAME
    claim["patient"]["member_id"] = MEMBER_ID
    claim["provider"]["contact"] = PHI
    for line in claim["lines"]:
        line["comment"] = FREE_TEXT
    claim["lines"][0]["documentation"]["note"] = PHI
    return claim


def phi_claims() -> list[tuple[str, Any]]:
    """Bad (and a few well-formed) claims with PHI in every string field and in unknown fields."""
    claims: list[tuple[str, Any]] = []
    for path in STRING_FIELDS:
        claim = _with_phi_in_unknown_fields(make_claim())
        _put(claim, path, PHI)
        claims.append(("/".join(map(str, path)), claim))
    everything = _with_phi_in_unknown_fields(make_claim())
    for path in STRING_FIELDS:
        _put(everything, path, PHI)
    claims.append(("all-fields", everything))
    # Bad for a reason unrelated to the PHI: the PHI only rides along.
    for name, make, _path in BAD:
        data = make()
        if (
            isinstance(data, dict)
            and isinstance(data.get("patient"), dict)
            and isinstance(data.get("provider"), dict)
            and isinstance(data.get("lines"), list)
            and data["lines"]
            and isinstance(data["lines"][0], dict)
            and isinstance(data["lines"][0].get("documentation"), dict)
        ):
            claims.append((f"bad-{name}", _with_phi_in_unknown_fields(data)))
    claims.append(("phi-as-a-whole-input", PHI))
    claims.append(("phi-in-a-list", [PHI]))
    return claims


def _assert_no_phi(text: str | None, where: str) -> None:
    if text:
        for fragment in FRAGMENTS:
            assert fragment not in text, f"{fragment!r} leaked into {where}: {text!r}"


def _assert_no_phi_in_logs(caplog) -> None:
    _assert_no_phi(caplog.text, "the log")
    for record in caplog.records:
        _assert_no_phi(record.getMessage(), "a log message")
        _assert_no_phi(repr(record.args), "log arguments")
        _assert_no_phi(record.exc_text, "a logged traceback")


def test_phi_never_reaches_an_error_message_or_the_log(editor, caplog):
    caplog.set_level(logging.DEBUG)
    checked = errors = 0
    inputs = phi_claims()
    for name, data in inputs:
        try:
            result = editor.check(copy.deepcopy(data))
        except ClaimError as exc:
            errors += 1
            _assert_no_phi(str(exc), f"the ClaimError for {name}")
            _assert_no_phi(repr(exc), f"the ClaimError repr for {name}")
        else:
            checked += 1
            for finding in result.findings:
                _assert_no_phi(finding.message, f"a {finding.code} message for {name}")
    results = list(editor.check_many(copy.deepcopy(data) for _name, data in inputs))
    assert len(results) == len(inputs)
    for (name, _data), result in zip(inputs, results):
        _assert_no_phi(result.error, f"the check_many error for {name}")
        for finding in result.findings:
            _assert_no_phi(finding.message, f"a {finding.code} message for {name}")
    _assert_no_phi_in_logs(caplog)
    # The test means something: most inputs were rejected, and some free-text fields were accepted.
    assert errors > len(STRING_FIELDS) // 2 and checked >= 1


def test_phi_in_an_unknown_payer_is_not_echoed(editor):
    message = expect_claim_error(editor, make_claim(payer=PATIENT_NAME.lower().replace(" ", "_").replace(".", "")))
    assert "zebulon" not in message.lower()


def test_an_internal_error_is_logged_without_the_claim(editor, monkeypatch, caplog):
    def build(self, claim, as_of=None, prior=()):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(FactBuilder, "build", build)
    caplog.set_level(logging.DEBUG)
    claim = _with_phi_in_unknown_fields(make_claim(claim_id="CLM-0001", prior_authorization=PHI))
    claim["lines"][0]["documentation"]["lot"] = PHI
    (result,) = editor.check_many([claim])
    assert result.error == "internal error (RuntimeError)"
    assert caplog.records, "the internal error should be logged"
    _assert_no_phi_in_logs(caplog)
    _assert_no_phi(result.error, "the error")


def test_an_internal_error_quoting_a_value_does_not_leak_it_to_the_log(editor, monkeypatch, caplog):
    def build(self, claim, as_of=None, prior=()):
        return int(claim.prior_authorization)  # a bug that quotes the value: "invalid literal ... 'Zebulon ...'"

    monkeypatch.setattr(FactBuilder, "build", build)
    caplog.set_level(logging.DEBUG)
    (result,) = editor.check_many([make_claim(prior_authorization=PHI)])
    assert result.error == "internal error (ValueError)"
    _assert_no_phi_in_logs(caplog)


def test_non_string_keys_are_not_echoed(editor):
    claim = make_claim()
    claim[(PATIENT_NAME,)] = "x"
    try:
        editor.check(claim)
    except ClaimError as exc:
        _assert_no_phi(str(exc), "the error")


# --- the attrs model is an accepted input too (claim-format: "as a dict or as the attrs model") ---


def _model_claim(**line_changes: Any) -> Claim:
    line = dict(
        line=1,
        hcpcs="J9330",
        service_date=dt.date(2026, 3, 2),
        units=Decimal(25),
        modifiers=("JZ",),
        dx_pointers=(1,),
        ndc="00008117901",
    )
    line.update(line_changes)
    admin = ClaimLine(line=2, hcpcs="96413", service_date=dt.date(2026, 3, 2), units=Decimal(1), dx_pointers=(1,))
    return Claim(
        claim_id="MODEL-1",
        payer="medicare",
        lines=(ClaimLine(**line), admin),
        place_of_service="11",
        diagnoses=("C641",),
    )


def test_a_valid_model_claim_is_checked(editor):
    assert editor.check(_model_claim()).findings == ()


def test_model_claim_with_a_pointer_out_of_range_is_a_claim_error(editor):
    with pytest.raises(ClaimError, match=r"\$\.lines\[0\]\.dx_pointers"):
        editor.check(_model_claim(dx_pointers=(3,)))


def test_model_claim_with_pointer_zero_is_a_claim_error(editor):
    with pytest.raises(ClaimError):
        editor.check(_model_claim(dx_pointers=(0,)))


def test_model_claim_errors_still_yield_one_result_in_check_many(editor):
    inputs = [_model_claim(), _model_claim(dx_pointers=(3,)), make_claim()]
    results = list(editor.check_many(inputs))
    assert len(results) == 3
    assert results[0].error is None and results[2].error is None
    assert results[1].error  # whatever the cause, the bad model claim is reported, not raised


@pytest.mark.parametrize("payer", ["John Smith", "SMITH, JOHN", "Jane", "x" * 40, "dob 1961-04-02"])
def test_an_invalid_claim_never_echoes_a_payer_that_is_not_an_identifier(payer):
    """A name typed into the payer field stays out of every output of the error result."""
    import io

    from j9330_rules import Editor
    from j9330_rules.writers.formats import WRITERS

    claim = make_claim(payer=payer)
    claim["lines"][0]["units"] = "many"
    (result,) = Editor().check_many([claim])
    assert result.error is not None and result.payer is None
    for fmt, write in WRITERS.items():
        out = io.StringIO()
        write([result], out)
        assert payer not in out.getvalue(), fmt


@pytest.mark.parametrize("payer", ["medicare", "aetna", "bcbs-tn", "payer_7"])
def test_an_identifier_payer_still_labels_the_error(payer):
    from j9330_rules import Editor

    claim = make_claim(payer=payer)
    claim["lines"][0]["units"] = "many"
    (result,) = Editor().check_many([claim])
    assert result.error is not None and result.payer == payer


@pytest.mark.parametrize("value", [10**5000, 2**70, -(10**12)], ids=["5001 digits", "2**70", "-10**12"])
def test_a_huge_line_number_is_a_claim_error(value):
    from j9330_rules import ClaimError, Editor

    claim = make_claim()
    claim["lines"][0]["line"] = value
    with pytest.raises(ClaimError, match=r"\$\.lines\[0\]\.line: expected a whole number below a billion"):
        Editor().check(claim)
    (result,) = Editor().check_many([claim])
    assert "below a billion" in result.error


def test_a_mapping_that_raises_when_read_gets_an_error_result():
    from collections.abc import Mapping

    from j9330_rules import Editor

    class Hostile(Mapping):
        def __init__(self, data):
            self.data = data

        def __getitem__(self, key):
            raise RuntimeError("MEMBER SMITH")

        def __iter__(self):
            return iter(self.data)

        def __len__(self):
            return len(self.data)

    results = list(Editor().check_many([Hostile(make_claim()), make_claim(claim_id="NEXT")]))
    assert [r.claim_id for r in results] == [None, "NEXT"]
    assert results[0].error is not None and "SMITH" not in results[0].error
