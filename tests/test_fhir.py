"""FHIR input: Claim resources, Bundles and bulk NDJSON read into the JSON contract.

Each fixture claim is checked against the JSON claim it stands for and must give the same result;
malformed input gives one error per bad claim that names paths and never a value (the fixtures
put the patient's name, Zebulon Quaxworth, into every bad value).
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("fhir.resources")

from j9330_rules.cli import main
from j9330_rules.model import Result
from j9330_rules.model.structure import structure_claim
from j9330_rules.readers import (
    Unreadable,
    detect,
    fhir,
    read_paths,
    read_stream,
)
from j9330_rules.readers.fhir import fhir_claims, read_fhir, resource_type
from tests.conftest import EXAMPLES, ROOT, check_items, codes, make_claim

FIXTURES = ROOT / "tests" / "fixtures" / "fhir"
PHI = ("Zebulon", "Quaxworth")
PATIENT = {"birth_date": "1956-04-02", "sex": "F"}


def read(name: str, **options) -> list:
    path = FIXTURES / name
    return list(read_fhir(io.StringIO(path.read_text(encoding="utf-8")), str(path), **options))


check = check_items


def example(name: str, **changes) -> dict:
    claim = json.loads((EXAMPLES / name).read_text())
    claim.update(changes)
    return claim


def assert_same(editor, fhir_claim: dict, json_claim: dict) -> Result:
    """Same model and same result (findings, messages, CARC/RARC, payment) as the JSON claim."""
    assert structure_claim(editor.with_payer(fhir_claim)) == structure_claim(json_claim)
    got, want = check(editor, [fhir_claim, json_claim])
    assert got == want
    return got


def assert_no_phi(text: str) -> None:
    for word in PHI:
        assert word not in text


# ------------------------------------------------------------ equivalence with JSON claims


def test_professional_claim_checks_like_the_contract_example(editor):
    (claim,) = read("claim-professional.json")
    want = make_claim(claim_id="FHIR-CLM-0001", patient={**PATIENT, "member_id": "MBR-ZQ-0001"})
    result = assert_same(editor, claim, want)
    assert result.error is None and not result.blocking
    assert claim["payer_name"] == "Medicare" and result.payer == "medicare"


def test_bundle_of_two_claims_checks_like_its_json_claims(editor):
    first, second = read("bundle-two-claims.json")
    patient = {**PATIENT, "member_id": "MBR-ZQ-0001"}
    # Claim A: references to bundled Patient, Organization, Practitioner, Coverage and Condition;
    # its first line's charge comes from unitPrice x quantity.
    assert_same(editor, first, make_claim(claim_id="FHIR-BDL-A", patient=patient, prior_authorization="PA-778899"))
    # Claim B: 25 mg given with neither JZ nor a JW line (examples/03, first claim).
    lines = copy.deepcopy(make_claim()["lines"])
    lines[0].update(units=25, dose_mg="25", ndc="0008-1179-01")
    del lines[1]
    result = assert_same(editor, second, make_claim(claim_id="FHIR-BDL-B", patient=patient, lines=lines))
    assert "JWJZ_MISSING" in codes(result)


def test_institutional_340b_claim_checks_like_examples_04(editor):
    (claim,) = read("claim-institutional.json")
    want = example("04-clean-hospital-outpatient-340b.json", claim_id="FHIR-INST-340B")
    result = assert_same(editor, claim, want)
    assert claim["type_of_bill"] == "0131" and claim["provider"] == {
        "npi": "1234567893",
        "is_340b": True,
        "hospital_type": "dsh",
    }
    assert result.error is None


def test_r5_claim_is_read_as_r5_and_checks_like_examples_02(editor):
    (claim,) = read("claim-r5.json")
    assert_same(editor, claim, example("02-clean-full-kit-jz.json", claim_id="FHIR-R5-0001"))


def test_r5_claim_forced_to_r4b_names_what_r4b_lacks():
    (item,) = read("claim-r5.json", version="R4B")
    assert isinstance(item, Unreadable)
    assert "not valid FHIR R4B" in item.message
    assert "Claim.traceNumber" in item.message and "Claim.insurance: required element missing" in item.message


def test_version_is_chosen_from_profile_then_shape():
    assert fhir._version_of({"resourceType": "Claim", "meta": {"profile": ["http://x/Claim|5.0.0"]}}) == "R5"
    assert (
        fhir._version_of({"resourceType": "Claim", "meta": {"profile": ["http://x/Claim|4.0.1"]}, "event": []}) == "R4B"
    )
    assert fhir._version_of({"resourceType": "Claim", "item": [{"sequence": 1, "tax": {}}]}) == "R5"
    assert fhir._version_of({"resourceType": "Claim", "item": [{"sequence": 1}]}) is None  # → R4B
    with pytest.raises(ValueError):
        list(fhir_claims({}, version="R4"))


def test_a_bundle_that_says_r5_passes_it_on_to_its_claims():
    claim = json.loads((FIXTURES / "claim-r5.json").read_text())
    del claim["meta"], claim["traceNumber"]  # nothing left in the claim says R5, and it has no insurance
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": claim}]}
    (item,) = fhir_claims(bundle)
    assert isinstance(item, Unreadable) and "Claim.insurance: required element missing" in item.message
    bundle["meta"] = {"profile": ["http://hl7.org/fhir/StructureDefinition/Bundle|5.0.0"]}
    (item,) = fhir_claims(bundle)
    assert item["claim_id"] == "FHIR-R5-0001"


def test_bulk_export_ndjson_reads_each_claim_and_reports_the_broken_line(editor):
    first, broken, second = read("bulk-export.ndjson")
    assert first["claim_id"] == "FHIR-NDJSON-A" and second["claim_id"] == "FHIR-NDJSON-B"
    assert first["patient"] == PATIENT  # from the Patient on another line of the file
    assert isinstance(broken, Unreadable) and "line 3: not valid JSON" in broken.message
    assert_no_phi(broken.message)
    assert_same(editor, first, make_claim(claim_id="FHIR-NDJSON-A"))
    lines = copy.deepcopy(make_claim()["lines"])
    lines[1]["modifiers"] = ["JZ"]
    assert_same(editor, second, make_claim(claim_id="FHIR-NDJSON-B", lines=lines))


# ------------------------------------------------------------ mapping details


def resource(**changes) -> dict:
    claim = json.loads((FIXTURES / "claim-professional.json").read_text())
    claim.update(changes)
    return claim


def test_payer_mapping_extension_and_fallbacks():
    institutional = json.loads((FIXTURES / "claim-institutional.json").read_text())
    # The mapping is looked up by the insurer's identifier value first, case-insensitively.
    (claim,) = fhir_claims(institutional, payers={"00882": "aetna"})
    assert claim["payer"] == "aetna"
    (claim,) = fhir_claims(institutional, payers={"MEDICARE": "uhc"})
    assert claim["payer"] == "uhc"
    (claim,) = fhir_claims(institutional, payers={"99999": "bcbs"})  # not found: for the Editor's payer map
    assert "payer" not in claim and (claim["payer_id"], claim["payer_name"]) == ("00882", "Medicare")
    explicit = copy.deepcopy(institutional)
    explicit["extension"] = [{"url": fhir.EXT_PAYER, "valueString": "cigna"}]
    (claim,) = fhir_claims(explicit, payers={"00882": "aetna"})
    assert claim["payer"] == "cigna"
    no_display = copy.deepcopy(institutional)
    del no_display["insurer"]["display"]
    (claim,) = fhir_claims(no_display)
    assert claim["payer_id"] == "00882" and "payer_name" not in claim
    no_insurer = copy.deepcopy(institutional)
    del no_insurer["insurer"]
    (claim,) = fhir_claims(no_insurer)
    assert not {"payer", "payer_id", "payer_name"} & set(claim)


def test_no_payer_is_the_converters_error(editor):
    claim = resource()
    del claim["insurer"]
    (result,) = check(editor, fhir_claims(claim))
    assert result.error == "$.payer: required field missing"


def test_diagnoses_follow_sequence_and_pointers_become_positions():
    claim = resource(
        diagnosis=[
            {
                "sequence": 7,
                "diagnosisCodeableConcept": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C79.9"}]
                },
            },
            {
                "sequence": 3,
                "diagnosisCodeableConcept": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": "702391001"},
                        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C64.1"},
                    ]
                },
            },
        ]
    )
    claim["item"][0]["diagnosisSequence"] = [7, 3]
    claim["item"][1]["diagnosisSequence"] = [3]
    del claim["item"][2]["diagnosisSequence"]
    (mapped,) = fhir_claims(claim)
    assert mapped["diagnoses"] == ["C64.1", "C79.9"]
    assert [line["dx_pointers"] for line in mapped["lines"]] == [[2, 1], [1], []]


def test_item_shapes_servicedperiod_unitprice_ndc_in_product_and_ucum_units():
    claim = resource()
    item = claim["item"][0]
    del item["servicedDate"], item["net"]
    item["servicedPeriod"] = {"start": "2026-03-02T09:30:00-05:00", "end": "2026-03-02T11:00:00-05:00"}
    item["unitPrice"] = {"value": 60.5, "currency": "USD"}
    item["factor"] = 2
    item["detail"][0]["quantity"] = {"value": 1.2, "system": "http://unitsofmeasure.org", "code": "mL"}
    second = claim["item"][1]
    del second["detail"]
    second["productOrService"]["coding"].append({"system": "http://hl7.org/fhir/sid/ndc", "code": "00008117901"})
    third = claim["item"][2]
    third["productOrService"] = {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "00008117901"}]}
    (mapped,) = fhir_claims(claim)
    first, second, third = mapped["lines"]
    assert first["service_date"] == "2026-03-02"
    assert first["charge"] == "2420.0"  # 60.5 x 20 x 2: unitPrice x quantity x factor
    assert (first["ndc_quantity"], first["ndc_unit"]) == ("1.2", "ML")
    assert second["hcpcs"] == "J9330" and second["ndc"] == "00008117901" and "ndc_unit" not in second
    assert "hcpcs" not in third  # an NDC is never taken for the HCPCS code: the converter says it is missing


def test_dose_extension_in_another_unit_is_refused():
    claim = resource()
    claim["item"][0]["extension"][0]["valueQuantity"] = {"value": 0.02, "code": "g"}
    (item,) = fhir_claims(claim)
    assert isinstance(item, Unreadable) and "dose must be in mg" in item.message


def test_a_claim_of_another_type_is_the_converters_error(editor):
    claim = resource(
        type={"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "pharmacy"}]}
    )
    (result,) = check(editor, fhir_claims(claim))
    assert result.claim_id == "FHIR-CLM-0001"
    assert result.error == "$.form: expected 'professional' or 'institutional'"


def test_claim_id_falls_back_to_identifier():
    claim = resource(identifier=[{"system": "urn:example:pcn", "value": "PCN-42"}])
    del claim["id"]
    (mapped,) = fhir_claims(claim)
    assert mapped["claim_id"] == "PCN-42"


# ------------------------------------------------------------ malformed input


def test_malformed_claim_is_one_error_naming_paths_without_values(editor):
    items = read("malformed-claim.json")
    assert len(items) == 1 and isinstance(items[0], Unreadable)
    message = items[0].message
    assert message.startswith(f"{FIXTURES / 'malformed-claim.json'} resource 1: Claim is not valid FHIR R4B: ")
    for path in ("Claim.contained[0].birthDate", "Claim.item[0].servicedDate", "Claim.item[1].quantity.value"):
        assert path in message
    assert_no_phi(message)


def test_malformed_bundle_gives_one_error_per_bad_claim(editor):
    items = read("malformed-bundle.json")
    results = check(editor, items)
    assert len(results) == 5
    good, *bad = results
    assert good.claim_id == "FHIR-MIX-GOOD" and good.error is None
    assert good == check(editor, [make_claim(claim_id="FHIR-MIX-GOOD")])[0]
    assert all(r.error is not None and r.claim_id is None for r in bad)
    missing_patient, bad_patient, bad_pointer, no_type = (r.error for r in bad)
    assert (
        "Bundle.entry[3]: Claim is not valid FHIR R4B" in missing_patient
        and "Claim.patient: required element missing" in missing_patient
    )
    assert "Claim.item[0].quantity.value" in missing_patient
    assert (
        "Bundle.entry[4]: the Claim refers to Bundle.entry[0], a Patient that is not valid FHIR R4B: Patient.birthDate"
        in bad_patient
    )
    assert "Bundle.entry[5]: Claim.item[2].diagnosisSequence[0]: names no diagnosis of the claim" in bad_pointer
    assert "Bundle.entry[6]: not a FHIR resource" in no_type
    for result in bad:
        assert_no_phi(result.error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({"resourceType": "Patient", "id": "p", "name": [{"family": "Quaxworth"}]}),
            "holds no FHIR Claim or Bundle",
        ),
        (json.dumps([{"id": "Zebulon Quaxworth"}]), "resource 1: not a FHIR resource"),
        (
            json.dumps({"resourceType": "Bundle", "entry": [{"resource": resource()}]}),
            "the Bundle is not valid FHIR R4B: Bundle.type: required element missing",
        ),
        (
            json.dumps({"resourceType": "Bundle", "type": "collection", "entry": "Zebulon Quaxworth"}),
            "Bundle.entry: wrong type of value",
        ),
        (json.dumps(resource(id="Zebulon Quaxworth")), "Claim.id: not in the FHIR format for this element"),
        (json.dumps(resource(resourceType="Claim", status=["Zebulon"])), "Claim.status: wrong type of value"),
        (
            json.dumps({**resource(), "zebulon": "Quaxworth"}),
            "Claim: holds an element that is not part of this resource (its name is not quoted)",
        ),
        ("0E" + "9" * 40, "a number's exponent is out of range"),  # past Decimal's limits (found by test_fuzz)
    ],
)
def test_unreadable_inputs_say_where_and_why(text, expected):
    items = list(read_fhir(io.StringIO(text), "in.json"))
    assert len(items) == 1 and isinstance(items[0], Unreadable)
    assert expected in items[0].message
    assert "Quaxworth" not in items[0].message and "zebulon" not in items[0].message
    assert "Zebulon" not in items[0].message


def test_a_bundle_with_no_claim_is_one_error():
    (item,) = fhir_claims({"resourceType": "Bundle", "type": "searchset", "total": 0})
    assert item == Unreadable("<fhir>: the Bundle holds no Claim")


def test_a_validation_error_message_never_quotes_input():
    # pydantic's own messages can quote the input; the reader's never do, whatever the value.
    claim = resource()
    claim["item"][0]["sequence"] = "Zebulon Quaxworth"
    claim["created"] = "Zebulon Quaxworth"
    claim["priority"] = "Zebulon Quaxworth"
    (item,) = fhir_claims(claim)
    assert isinstance(item, Unreadable)
    assert "Claim.item[0].sequence" in item.message and "Claim.created" in item.message
    assert_no_phi(item.message)


# ------------------------------------------------------------ detection, CLI and packaging


def test_detect_finds_fhir_by_the_first_objects_resource_type():
    for name in ("claim-professional.json", "bundle-two-claims.json", "bulk-export.ndjson", "malformed-bundle.json"):
        assert detect((FIXTURES / name).read_text()[:4096]) == "fhir", name
    assert detect(json.dumps(make_claim())) == "json"
    # A resourceType inside the claim (a pass-through key) is not the first object's own.
    assert detect(json.dumps(make_claim(source={"resourceType": "Claim"}))) == "json"
    assert detect(json.dumps([{"resourceType": "Bundle", "type": "collection"}])) == "fhir"
    assert detect(json.dumps({"resourceType": "Patient"})) == "json"
    assert resource_type('{"id": "x", "resourceType": "Claim", "item": [' + "1," * 5000) == "Claim"
    assert resource_type('{"contained": [' + "1," * 5000) is None  # cut before the key: not FHIR


def run(*args: str):
    return CliRunner().invoke(main, ["check", "--format", "json", *args], catch_exceptions=False)


@pytest.mark.parametrize("forced", [True, False])
def test_cli_reads_fhir_forced_or_detected(tmp_path, forced):
    fhir_file = FIXTURES / "bundle-two-claims.json"
    args = ["--input-format", "fhir"] if forced else []
    got = json.loads(run(*args, str(fhir_file)).stdout)
    equivalents = tmp_path / "claims.ndjson"
    equivalents.write_text("\n".join(json.dumps(c) for c in read_fhir(io.StringIO(fhir_file.read_text()), "x")))
    want = json.loads(run(str(equivalents)).stdout)
    assert [r["claim_id"] for r in got] == ["FHIR-BDL-A", "FHIR-BDL-B"]
    assert got == want


def test_cli_reports_malformed_fhir_per_claim_and_exits_1():
    result = run("--input-format", "fhir", str(FIXTURES / "malformed-bundle.json"))
    assert result.exit_code == 1
    results = json.loads(result.stdout)
    assert [r["error"] is None for r in results] == [True, False, False, False, False]
    assert_no_phi(result.output)


def test_without_fhir_resources_the_package_imports_and_says_what_to_install():
    code = (
        "import sys; sys.modules['fhir'] = None; sys.modules['fhir.resources'] = None\n"
        "import io, j9330_rules.cli\n"
        "from j9330_rules.readers import detect, read_stream, FORMATS\n"
        "text = open(sys.argv[1]).read()\n"
        "print(detect(text[:4096]))\n"
        "print(list(read_stream(io.StringIO(text), 'f.json'))[0].message)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES / "claim-professional.json")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out[0] == "fhir"
    assert out[1] == "f.json: reading FHIR needs the fhir.resources package (pip install 'j9330-rules[fhir]')"


def test_read_paths_and_read_stream_route_fhir():
    items = list(read_paths([str(FIXTURES / "claim-institutional.json")]))
    assert [i["claim_id"] for i in items] == ["FHIR-INST-340B"]
    text = (FIXTURES / "claim-r5.json").read_text()
    assert [i["claim_id"] for i in read_stream(io.StringIO(text), "r5", "fhir")] == ["FHIR-R5-0001"]
