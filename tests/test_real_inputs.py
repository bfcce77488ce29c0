"""Files as other people's tools write them (issue 11): byte-order marks, Windows encodings,
every 837 guide version, separators, ICD-9, payer IDs, and FHIR as clients send it.

Each test names the defect it reproduces. The fixtures are the repo's own; the FHIR resources
here are built with fhir.resources, an independent writer.
"""

from __future__ import annotations

import codecs
import copy
import io
import json
import subprocess
import sys

import pytest

from j9330_rules import ClaimError, Editor, PayerMap, PayerMapError
from j9330_rules.readers import Unreadable, decode, detect, read_paths, read_stream
from j9330_rules.readers.fhir import fhir_claims
from j9330_rules.readers.x12 import read_x12
from tests.conftest import EXAMPLES, FIXTURES, check_items, make_claim

X12 = FIXTURES / "x12"
FHIR = FIXTURES / "fhir"
CLEAN_837P = (X12 / "837p_clean.x12").read_text()
BATCH_837P = (X12 / "837p_batch.x12").read_text()
OUTPATIENT_837I = (X12 / "837i_outpatient.x12").read_text()
BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE]


def encoded(text: str, bom: bytes) -> bytes:
    return bom + text.encode("utf-16-le" if bom == codecs.BOM_UTF16_LE else "utf-8")


def x12(text: str) -> list:
    return list(read_x12(io.StringIO(text), "f.837"))


# --- encodings: a BOM, UTF-16, CRLF, Windows-1252 --------------------------------------------

SAMPLES = {
    "x12": X12 / "837p_batch.x12",
    "ndjson": EXAMPLES / "03-typical-errors.ndjson",
    "pretty json": EXAMPLES / "01-clean-partial-kit.json",
    "fhir": FHIR / "bundle-two-claims.json",
    "csv": FIXTURES / "csv" / "examples.csv",
}


@pytest.mark.parametrize("bom", BOMS, ids=["utf-8 BOM", "utf-16 BOM"])
@pytest.mark.parametrize("name", SAMPLES)
def test_a_bom_changes_nothing(tmp_path, name, bom):
    """Was: an 837 with a BOM read as NDJSON (51 errors for 2 claims), a pretty JSON claim as 63."""
    source = SAMPLES[name]
    plain = list(read_paths([source]))
    path = tmp_path / source.name
    path.write_bytes(encoded(source.read_text(), bom))
    assert list(read_paths([path])) == plain
    assert list(read_stream(io.BytesIO(path.read_bytes()), str(source))) == plain
    assert not any(isinstance(item, Unreadable) for item in plain)


def test_detection_looks_past_a_bom():
    assert detect("\ufeffISA*00*") == "x12"
    assert detect('\ufeff{"resourceType": "Bundle"}') == "fhir"
    assert detect("\ufeffclaim_id,hcpcs\n") == "csv"


def test_forced_x12_with_a_bom_is_read():
    """Was: --input-format x12 said "not an X12 interchange" for a file with a BOM."""
    (claim,) = read_stream(io.BytesIO(codecs.BOM_UTF8 + CLEAN_837P.encode()), "f", "x12")
    assert claim["claim_id"] == "CLM-0001"


def test_windows_1252_and_crlf_are_read():
    claim = json.loads((EXAMPLES / "01-clean-partial-kit.json").read_text())
    claim["patient"]["note"] = "Café\u00a0– “quoted”"
    data = json.dumps(claim, ensure_ascii=False, indent=2).replace("\n", "\r\n").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    (read,) = read_stream(io.BytesIO(data), "f")
    assert read["patient"]["note"] == "Café\u00a0– “quoted”"
    assert decode(b"\x81") == "\ufffd"  # undefined in Windows-1252: replaced, never an exception


def test_stdin_bytes_with_a_bom_are_read():
    data = (EXAMPLES / "03-typical-errors.ndjson").read_bytes()
    command = [sys.executable, "-m", "j9330_rules", "check", "-q", "--fail-on", "never", "--format", "ndjson", "-"]
    plain, marked = (
        subprocess.run(command, input=given, capture_output=True, check=True).stdout
        for given in (data, codecs.BOM_UTF8 + data)
    )
    assert marked == plain and len(plain.splitlines()) == len(data.splitlines())


def test_directories_contribute_837_and_edi_files(tmp_path):
    """Was: a directory skipped .837, .837i and .edi files."""
    for name in ("a.837", "b.837I", "c.edi", "d.EDI", "e.837p", "notes.txt"):
        (tmp_path / name).write_text(CLEAN_837P)
    items = list(read_paths([tmp_path]))
    assert [item["claim_id"] for item in items] == ["CLM-0001"] * 5


# --- X12: guide versions, separators, error positions, ICD-9 -------------------------------


@pytest.mark.parametrize(
    ("text", "written", "errata"),
    [(CLEAN_837P, "005010X222A1", "005010X222A2"), (OUTPATIENT_837I, "005010X223A2", "005010X223A3")],
    ids=["837P A2", "837I A3"],
)
def test_errata_versions_read_claim_by_claim(editor, text, written, errata):
    """Was: GS08 005010X222A2 or 005010X223A3 gave one result for the whole file."""
    base, newer = x12(text), x12(text.replace(written, errata))
    assert len(newer) == len(base) >= 1
    assert all(isinstance(claim, dict) for claim in newer)
    assert {claim["x12_version"] for claim in base} == {written}
    assert {claim["x12_version"] for claim in newer} == {errata}
    strip = [{k: v for k, v in claim.items() if k != "x12_version"} for claim in newer]
    assert strip == [{k: v for k, v in claim.items() if k != "x12_version"} for claim in base]
    assert [r.findings for r in check_items(editor, newer)] == [r.findings for r in check_items(editor, base)]


def test_an_unsupported_version_is_named_once_per_claim():
    items = x12(BATCH_837P.replace("005010X222A1", "004010X098A1"))
    assert len(items) == BATCH_837P.count("CLM*")
    for item in items:
        assert isinstance(item, Unreadable)
        assert "GS08 names an implementation guide this reader does not read" in item.message
        assert "005010X222A1 and A2 (837P), 005010X223A2 and A3 (837I)" in item.message
        assert "ICD-9" not in item.message  # the version is the reason, not what follows from it


def test_a_body_using_another_component_separator_is_read_as_written():
    """Was: ISA16 declared ':' while the body used '>': one claim gave two results."""
    body = CLEAN_837P.split("~", 1)[1].replace(":", ">")
    isa = CLEAN_837P.split("~", 1)[0]
    (claim,) = x12(isa + "~" + body)
    (reference,) = x12(CLEAN_837P)
    assert claim == reference


def test_an_ambiguous_separator_is_left_to_the_errors():
    """Two CLM05s written with different separators: no guess; each claim still gets one result."""
    batch = BATCH_837P.split("~", 1)
    body = batch[1].replace("11:B:1", "11>B>1", 1)
    items = x12(batch[0] + "~" + body)
    assert len(items) == BATCH_837P.count("CLM*")


def test_trailing_empty_elements_name_the_faulty_segment():
    """Was: after an out-of-place segment, the error named the segment that follows it (LX)."""
    text = CLEAN_837P.replace("HI*ABK:C641~\n", "HI*ABK:C641~\nBHT*0019*00*X*20260303*1200*CH*~\n")
    (item,) = x12(text)
    assert "segment 22 (BHT, position 20 in its transaction set): segment ends with empty elements" in item.message
    assert "(LX" not in item.message


def test_icd9_diagnoses_are_a_clear_error():
    """Was: HI*BK was dropped silently, then "points past the claim's 0 diagnoses"."""
    (item,) = x12(CLEAN_837P.replace("HI*ABK:C641~", "HI*BK:1890~"))
    assert isinstance(item, Unreadable)
    assert "ICD-9 diagnoses are not accepted for dates of service on or after 2015-10-01" in item.message
    assert "1890" not in item.message


def test_every_clm_gets_one_result_across_interchanges_and_groups():
    two = BATCH_837P + OUTPATIENT_837I.replace("000000", "000009")
    assert len(x12(two)) == BATCH_837P.count("CLM*") + OUTPATIENT_837I.count("CLM*")


# --- payer IDs onto payers -----------------------------------------------------------------


def test_a_mixed_payer_837_is_checked_per_payer_through_the_map(tmp_path):
    """Was: no way to map NM109 payer IDs onto plugins short of one --payer for every claim."""
    text = BATCH_837P.replace("PI*MEDICARE~", "PI*12502~", 1).replace("PI*AETNA~", "PI*60054~")
    path = tmp_path / "map.csv"
    path.write_text("payer_id,payer_name,payer\n12502,,medicare\n60054,,aetna\n,UNMAPPED HEALTH PLAN,uhc\n")
    editor = Editor(payer_map=path)
    results = check_items(editor, x12(text))
    assert [r.payer for r in results] == ["medicare"] * 4 + ["aetna", "uhc"]
    assert all(r.error is None for r in results)


def test_payer_map_toml_and_mapping_forms(tmp_path):
    path = tmp_path / "map.toml"
    path.write_text('[ids]\n"99999" = "cigna"\n[names]\n"Medicare Part B" = "medicare"\n')
    assert PayerMap.load(path) == PayerMap(
        ids={"99999": "cigna"}, names={"MEDICARE PART B": "medicare"}, source=str(path)
    )
    editor = Editor(payer_map={"99999": "cigna"})
    (result,) = check_items(editor, x12(BATCH_837P))[-1:]
    assert result.payer == "cigna"


def test_an_unmapped_payer_id_is_named():
    editor = Editor()
    (result,) = check_items(editor, x12(BATCH_837P))[-1:]
    assert result.error.startswith("$.payer_id: payer ID 99999 is not mapped to a payer")
    assert "--payer-map FILE" in result.error


def test_the_user_map_wins_over_the_defaults():
    editor = Editor(payer_map={"MEDICARE": "uhc"})
    results = check_items(editor, x12(BATCH_837P))
    assert [r.payer for r in results[:4]] == ["uhc"] * 4


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("payer_id,payer\n60054,nobody\n", "maps to 'nobody', which is not a loaded payer"),
        ("payer_id\n60054\n", "line 1: the header names payer and payer_id and/or payer_name"),
        ("payer_id,payer\n60054,aetna\n60054,uhc\n", "line 3: 60054 is mapped twice"),
        ("payer_id,payer\n,aetna\n", "line 2: a row names a payer and a payer_id or payer_name"),
    ],
)
def test_a_bad_payer_map_is_refused_naming_the_line(tmp_path, content, problem):
    path = tmp_path / "map.csv"
    path.write_text(content)
    with pytest.raises(PayerMapError, match=problem):
        Editor(payer_map=path)


def test_cli_payer_map(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("payer_id,payer\n99999,uhc\n")
    source = tmp_path / "batch.837"
    source.write_text(BATCH_837P)
    command = [sys.executable, "-m", "j9330_rules", "check", "-q", "--fail-on", "never", "--format", "ndjson"]
    run = subprocess.run([*command, "--payer-map", str(path), str(source)], capture_output=True, text=True, check=True)
    assert [json.loads(line)["payer"] for line in run.stdout.splitlines()] == ["medicare"] * 4 + ["aetna", "uhc"]
    path.write_text("payer_id,payer\n99999,nobody\n")
    bad = subprocess.run([*command, "--payer-map", str(path), str(source)], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a loaded payer" in bad.stderr


# --- FHIR as clients write it ----------------------------------------------------------------


def professional() -> dict:
    return json.loads((FHIR / "claim-professional.json").read_text())


def test_coverage_payor_stands_in_for_a_missing_insurer(editor):
    """Was: Coverage.payor was ignored when Claim.insurer was absent, which R4 allows."""
    from fhir.resources.R4B.coverage import Coverage
    from fhir.resources.R4B.organization import Organization

    claim = professional()
    del claim["insurer"]
    payor = Organization(id="payor", name="Medicare", identifier=[{"system": "urn:example:payer-id", "value": "12502"}])
    coverage = Coverage(id="cov", status="active", beneficiary={"reference": "#pat"}, payor=[{"reference": "#payor"}])
    claim["contained"] += [json.loads(payor.model_dump_json()), json.loads(coverage.model_dump_json())]
    claim["insurance"][0]["coverage"] = {"reference": "#cov"}
    (read,) = fhir_claims(claim)
    assert (read["payer_id"], read["payer_name"]) == ("12502", "Medicare")
    (result,) = check_items(editor, [read])
    assert result.payer == "medicare" and result.error is None


def test_a_claim_without_id_in_a_transaction_bundle_takes_its_full_url():
    from fhir.resources.R4B.bundle import Bundle

    claim = professional()
    del claim["id"]
    bundle = Bundle(
        type="transaction",
        entry=[
            {
                "fullUrl": "urn:uuid:6f1e2a10-0000-4000-8000-00000000000a",
                "resource": claim,
                "request": {"method": "POST", "url": "Claim"},
            }
        ],
    )
    (read,) = fhir_claims(json.loads(bundle.model_dump_json()))
    assert read["claim_id"] == "urn:uuid:6f1e2a10-0000-4000-8000-00000000000a"


def test_a_preauthorization_is_noted_not_checked(editor):
    claim = professional()
    claim["use"] = "preauthorization"
    (result,) = check_items(editor, fhir_claims(claim))
    assert [(f.code, f.severity) for f in result.findings] == [("NOT_A_CLAIM", "info")]
    assert "preauthorization request, not a claim" in result.findings[0].message
    assert result.claim_id == "FHIR-CLM-0001" and result.payer == "medicare"


def test_a_claim_with_no_j9330_line_says_nothing_to_check(editor):
    claim = professional()
    for item in claim["item"]:
        item["productOrService"]["coding"][0]["code"] = "99213"
    (result,) = check_items(editor, fhir_claims(claim))
    assert [f.code for f in result.findings] == ["NO_J9330_LINE"]
    assert result.findings[0].message.startswith("Nothing to check")
    # The same for a claim in the JSON contract, and one whose lines are not even HCPCS codes.
    contract = json.loads((EXAMPLES / "01-clean-partial-kit.json").read_text())
    for line in contract["lines"]:
        line["hcpcs"] = "D0150"
    (result,) = check_items(editor, [contract])
    assert [f.code for f in result.findings] == ["NO_J9330_LINE"] and result.error is None
    odd = copy.deepcopy(contract)
    odd["lines"][0]["hcpcs"] = "N4-00093"
    assert [f.code for f in editor.check(odd).findings] == ["NO_J9330_LINE"]


def test_a_bundle_with_no_claim_is_one_error_result(tmp_path):
    """Was: 0 results and exit 0."""
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}))
    (item,) = read_paths([path])
    assert isinstance(item, Unreadable) and item.message.endswith("the Bundle holds no Claim")


def test_an_unmapped_fhir_insurer_is_named(editor):
    claim = professional()
    claim["insurer"] = {"identifier": {"value": "12345"}, "display": "Some Health Plan"}
    (result,) = check_items(editor, fhir_claims(claim))
    assert result.error.startswith("$.payer_id: payer ID 12345 is not mapped to a payer")


# --- an independent writer's 837s --------------------------------------------------------------


@pytest.mark.parametrize("name", ["x12sdk_837p_X222A2.x12", "x12sdk_837i_X223A3.x12"])
def test_x12sdk_files_give_one_clear_result_per_claim(editor, name):
    """x12sdk 2.2.0 (tests/fixtures/x12/generate_x12sdk.py) writes the errata versions, qualifies
    ICD-10 codes as ICD-9 (HI*BK) and, in the 837I, leaves CLM06 where the guide excludes it."""
    path = X12 / name
    results = check_items(editor, read_paths([path]))
    assert len(results) == path.read_text().count("~\nCLM*") == 3
    for number, result in enumerate(results, start=1):
        assert result.error.startswith(f"{path}: claim {number} (CLM at segment ")
        assert "qualified as ICD-9-CM (HI qualifier BK or BF)" in result.error


def test_the_plugins_declare_the_payer_ids_their_payers_publish():
    editor = Editor()
    declared = {entry.id: name for name, payer in editor.payers.items() for entry in payer.payer_ids}
    assert declared == {"60054": "aetna", "62308": "cigna"}
    for payer in editor.payers.values():
        for entry in payer.payer_ids:
            assert entry.id in entry.source and entry.reviewed == "2026-12-06"
    assert editor.with_payer({"payer_id": "60054", "payer_name": "AETNA"})["payer"] == "aetna"
    assert editor.with_payer({"payer_id": " 62308 "})["payer"] == "cigna"


def test_an_id_two_plugins_declare_maps_onto_neither():
    from j9330_rules import Payer, PayerId
    from j9330_rules.plugins.payer_map import PayerResolver

    first = Payer("one", "One", True, payer_ids=(PayerId("11111", "fixture", "2026-12-06"),))
    second = Payer("two", "Two", True, payer_ids=(PayerId("11111", "fixture", "2026-12-06"),))
    resolve = PayerResolver(PayerMap(), {"one": first, "two": second})
    with pytest.raises(ClaimError, match="declared by more than one plugin"):
        resolve("11111", None)
    assert PayerResolver(PayerMap(ids={"11111": "two"}), {"one": first, "two": second})("11111", None) == "two"


def test_ndjson_is_read_as_it_arrives_not_whole():
    """A large NDJSON stream yields its first claim after reading a bounded head, so memory
    stays at one line however large the file (a 1M-claim run depends on it)."""
    from j9330_rules.readers import HEAD_BYTES

    body = b"".join(json.dumps(make_claim(claim_id=str(i))).encode() + b"\n" for i in range(20_000))
    assert len(body) > 10 * (1 << 20)
    stream = io.BytesIO(body)
    claims = read_stream(stream, "big.ndjson")
    assert next(claims)["claim_id"] == "0"
    assert stream.tell() <= HEAD_BYTES + (1 << 20)
    rest = list(claims)
    assert len(rest) == 19_999 and rest[-1]["claim_id"] == "19999"


def test_a_bad_byte_in_streamed_ndjson_costs_nothing_but_its_line():
    lines = [json.dumps(make_claim(claim_id=str(i))).encode() for i in range(3)]
    lines[1] = lines[1].replace(b'"1"', b'"1\xe9"')  # Windows-1252 é in one claim id
    lines.insert(2, b"{broken")
    items = list(read_stream(io.BytesIO(b"\n".join(lines) + b"\n"), "mixed.ndjson"))
    assert [i["claim_id"] if isinstance(i, dict) else None for i in items] == ["0", "1é", None, "2"]
    assert isinstance(items[2], Unreadable) and "mixed.ndjson line 3" in items[2].message


@pytest.mark.parametrize("name", ["PhiZq7Marker", "John Smith", "SMITH JOHN A"])
def test_an_unmapped_payer_name_is_never_quoted(name):
    """A payer's name is free text (a patient's name may land there): the error names no name."""
    from j9330_rules.plugins.payer_map import PayerResolver

    resolve = PayerResolver(PayerMap(), Editor().payers)
    with pytest.raises(ClaimError) as error:
        resolve(None, name)
    assert name.lower() not in str(error.value).lower()
    with pytest.raises(ClaimError) as error:
        resolve(name, None)  # a name typed into the ID field is not quoted either
    assert name.lower() not in str(error.value).lower()


@pytest.mark.parametrize("first", [b"{broken", b"[1, 2", b'{"claim_id": "X", ', b"\x81{"])
def test_a_bad_first_ndjson_line_costs_that_line_not_the_file(tmp_path, first):
    body = first + b"\n" + b"".join(json.dumps(make_claim(claim_id=f"C{i}")).encode() + b"\n" for i in range(999))
    path = tmp_path / "claims.ndjson"
    path.write_bytes(body)
    for items in (list(read_paths([path])), list(read_stream(io.BytesIO(body), "<stdin>"))):
        assert len(items) == 1000
        assert isinstance(items[0], Unreadable) and "line 1: not valid JSON" in items[0].message
        assert [i["claim_id"] for i in items[1:3]] == ["C0", "C1"]


def test_a_broken_pretty_printed_document_is_still_one_error(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(make_claim(), indent=2)[:-5], encoding="utf-8")
    (item,) = read_paths([path])
    assert isinstance(item, Unreadable) and "not valid JSON" in item.message


def test_the_progress_total_is_the_number_of_claims_where_it_can_be_counted(tmp_path):
    from j9330_rules.readers import estimate_claims

    x12 = FIXTURES / "x12" / "837p_batch.x12"
    assert estimate_claims([x12]) == len(list(read_paths([x12])))  # CLM segments
    assert estimate_claims([EXAMPLES]) == len(list(read_paths([EXAMPLES])))  # NDJSON lines and whole objects
    broken_first = tmp_path / "b.ndjson"
    broken_first.write_text("{broken\n" + json.dumps(make_claim()) + "\n", encoding="utf-8")
    assert estimate_claims([broken_first]) == 2
    assert estimate_claims(["-"]) is None
    assert estimate_claims([FIXTURES / "csv" / "examples.csv"]) is None
