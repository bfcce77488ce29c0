"""X12 837P / 837I through pyx12: the same claims as their JSON equivalents, clear errors, no PHI."""

from __future__ import annotations

import copy
import functools
import io
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("pyx12")

from j9330_rules.cli import main
from j9330_rules.errors import ClaimError
from j9330_rules.model.structure import structure_claim
from j9330_rules.readers import FORMATS, Unreadable, detect, read_stream, read_text
from j9330_rules.readers.x12 import read_x12
from tests.conftest import FIXTURE_ASP, FIXTURE_MUE

X12 = Path(__file__).parent / "fixtures" / "x12"
PAIRS = [
    ("837p_clean.x12", "837p_clean.json"),
    ("837p_batch.x12", "837p_batch.ndjson"),
    ("837i_outpatient.x12", "837i_outpatient.ndjson"),
]
# What the fixtures' segments hold that is (made-up) patient data: no error text may show it.
PHI = (
    "TESTPATIENT",
    "TESTSUBSCRIBER",
    "TESTSPOUSE",
    "ALPHA",
    "BETA",
    "TESTMBR",
    "19560402",
    "19600115",
    "1956-04-02",
    "SYNTHETIC ST",
    "CLM-0001",
    "EX-0",
    "X12-P-",
    "PA12345",
    "TEN*",
    "*TEN",
    "twenty",
)
MALFORMED = {
    # file: the position of each item (claim or Unreadable) that is unreadable, and how many items there are
    "malformed_element.x12": ([1], 6),
    "malformed_missing_segment.x12": ([3], 6),
    "malformed_se_count.x12": ([0, 1], 6),
    "malformed_ge_iea_count.x12": ([0, 1, 2, 3, 4, 5], 6),
    "malformed_truncated.x12": ([0, 1, 2, 3], 4),
    "malformed_garbage_body.x12": ([0], 1),
    "malformed_garbage_header.x12": ([0], 1),
}


def read(name: str, **options) -> list:
    """The items read from a fixture (pyx12 loads its XML maps on every read: ~1 s, so plain reads are kept)."""
    if options:
        return list(read_x12(io.StringIO((X12 / name).read_text()), name, **options))
    return copy.deepcopy(_read(name))


@functools.cache
def _read(name: str) -> list:
    return list(read_x12(io.StringIO((X12 / name).read_text()), name))


def equivalents(name: str) -> list[dict]:
    text = (X12 / name).read_text()
    if name.endswith(".json"):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def outcome(editor, claim):
    """The findings of a claim, or the ClaimError that stopped it."""
    try:
        return editor.check(claim).findings
    except ClaimError as exc:
        return ("ClaimError", str(exc))


def codes_of(editor, claim) -> set[str]:
    return {finding.code for finding in editor.check(claim).findings}


# --- the same claims as the JSON equivalents ----------------------------------------------


@pytest.mark.parametrize(("x12_name", "json_name"), PAIRS)
def test_each_837_gives_the_findings_of_its_json_equivalent(editor, x12_name, json_name):
    claims, expected = read(x12_name), equivalents(json_name)
    assert all(isinstance(claim, dict) for claim in claims)
    assert [c["claim_id"] for c in claims] == [e["claim_id"] for e in expected]
    for claim, twin in zip(claims, expected):
        if "payer" in twin:
            assert outcome(editor, claim) == outcome(editor, twin), claim["claim_id"]
            assert structure_claim(editor.with_payer(claim)) == structure_claim(twin), claim["claim_id"]
        else:  # the JSON twin has no payer at all; the 837 names a payer ID nothing maps
            assert outcome(editor, twin) == ("ClaimError", "$.payer: required field missing")
            kind, message = outcome(editor, claim)
            assert kind == "ClaimError"
            assert message.startswith("$.payer_id: payer ID 99999 is not mapped to a payer")


def test_the_findings_compared_are_the_ones_the_errors_call_for(editor):
    claims = {c["claim_id"]: c for c in read("837p_batch.x12") + read("837p_clean.x12") + read("837i_outpatient.x12")}
    assert not editor.check(claims["CLM-0001"]).blocking
    assert not editor.check(claims["EX-02-FULL-KIT-JZ"]).blocking
    assert "WASTE_ARITHMETIC" in codes_of(editor, claims["EX-04-WASTE-ARITHMETIC"])
    assert "NDC_INVALID" in codes_of(editor, claims["EX-05-NDC"])
    assert "JWJZ_CONFLICT" in codes_of(editor, claims["EX-07-JW-JZ-CONFLICT"])
    assert not editor.check(claims["X12-I-OUTPATIENT"]).blocking
    with pytest.raises(ClaimError, match=r"\$\.payer"):
        editor.check(claims["X12-P-UNKNOWN-PAYER"])


# --- the mapping --------------------------------------------------------------------------


def test_professional_mapping():
    (claim,) = read("837p_clean.x12")
    assert claim["form"] == "professional" and claim["place_of_service"] == "11" and claim["type_of_bill"] is None
    assert claim["diagnoses"] == ["C641"]
    assert claim["patient"] == {"birth_date": "1956-04-02", "sex": "F", "member_id": "TESTMBR0001"}
    assert claim["provider"] == {"npi": "1234567893"}
    first, discarded, admin = claim["lines"]
    assert first == {
        "line": 1,
        "hcpcs": "J9330",
        "modifiers": [],
        "units": "20",
        "charge": "2400",
        "service_date": "2026-03-02",
        "revenue_code": None,
        "dx_pointers": [1],
        "ndc": "00008117901",
        "ndc_quantity": "1",
        "ndc_unit": "UN",
    }
    assert discarded["modifiers"] == ["JW"]
    assert "ndc" not in admin


def test_four_modifiers_pointers_and_line_prior_authorization():
    text = (X12 / "837p_clean.x12").read_text()
    text = text.replace("SV1*HC:J9330:JW*600*UN*5***1~", "SV1*HC:J9330:JW:JG:59:XU*600*UN*5***1:1~")
    text = text.replace(
        "LX*3~\nSV1*HC:96413*350*UN*1***1~\nDTP*472*D8*20260302~",
        "LX*3~\nSV1*HC:96413*350*UN*1***1~\nDTP*472*D8*20260302~\nREF*G1*LINEAUTH9~",
    )
    text = text.replace("SE*33*0001~", "SE*34*0001~")
    (claim,) = read_x12(io.StringIO(text), "modifiers")
    assert claim["lines"][1]["modifiers"] == ["JW", "JG", "59", "XU"]
    assert claim["lines"][1]["dx_pointers"] == [1, 1]
    assert claim["prior_authorization"] == "LINEAUTH9"


def test_institutional_mapping():
    outpatient, jg = read("837i_outpatient.x12")
    assert outpatient["form"] == "institutional" and outpatient["type_of_bill"] == "0131"
    assert outpatient["place_of_service"] is None
    assert [line["revenue_code"] for line in outpatient["lines"]] == ["0636", "0636", "0335"]
    assert [line["units"] for line in outpatient["lines"]] == ["20", "5", "1"]
    assert [line["charge"] for line in outpatient["lines"]] == ["2400", "600", "350"]
    # An 837I line has no diagnosis pointer: every claim diagnosis applies.
    assert jg["diagnoses"] == ["C641", "Z5111"]
    assert {tuple(line["dx_pointers"]) for line in jg["lines"]} == {(1, 2)}
    assert [line["modifiers"] for line in jg["lines"]] == [["JG"], ["JW", "JG"], []]
    # The revenue-code-only line (LX 3) cannot be a contract line; it is named, not dropped silently.
    assert [line["line"] for line in jg["lines"]] == [1, 2, 4]
    assert jg["x12_skipped_lines"] == [3]
    # Line 2 has no DTP*472: the statement date (DTP*434) stands in.
    assert jg["lines"][1]["service_date"] == "2026-03-02"


def test_dependent_patient_and_claim_prior_authorization(editor):
    claim = {c["claim_id"]: c for c in read("837p_batch.x12")}["X12-P-DEPENDENT"]
    assert claim["patient"] == {"birth_date": "1960-01-15", "sex": "M", "member_id": "TESTMBR0004"}
    assert claim["prior_authorization"] == "PA12345"
    assert (claim["payer_id"], claim["payer_name"]) == ("AETNA", "AETNA")
    assert editor.with_payer(claim)["payer"] == "aetna"
    assert claim["lines"][0]["dx_pointers"] == [1, 2]


def test_several_transaction_sets_and_claims_come_in_file_order():
    assert [c["claim_id"] for c in read("837p_batch.x12")] == [
        "EX-02-FULL-KIT-JZ",
        "EX-04-WASTE-ARITHMETIC",  # ST 0001
        "EX-05-NDC",
        "EX-07-JW-JZ-CONFLICT",
        "X12-P-DEPENDENT",
        "X12-P-UNKNOWN-PAYER",  # ST 0002
    ]


def test_several_interchanges_and_groups():
    clean = (X12 / "837p_clean.x12").read_text()
    second = clean.replace("000000101", "000000201")
    assert [c["claim_id"] for c in read_x12(io.StringIO(clean + second), "two")] == ["CLM-0001", "CLM-0001"]
    institutional_group = "\n".join((X12 / "837i_outpatient.x12").read_text().splitlines()[1:-1])
    text = "\n".join([*clean.splitlines()[:-1], institutional_group, "IEA*2*000000101~"])
    claims = list(read_x12(io.StringIO(text), "groups"))
    assert [(c["claim_id"], c["form"]) for c in claims] == [
        ("CLM-0001", "professional"),
        ("X12-I-OUTPATIENT", "institutional"),
        ("X12-I-340B-JG", "institutional"),
    ]


def test_other_delimiters_and_line_breaks():
    text = (X12 / "837p_clean.x12").read_text()
    text = text.replace("*", "|").replace(":", ">").replace("^", "!").replace("~\n", "~\r\n")
    (claim,) = read_x12(io.StringIO("\n  " + text), "delimiters")
    (reference,) = read("837p_clean.x12")
    assert claim == reference


# --- the payer ------------------------------------------------------------------------------


def test_claims_carry_the_payer_id_and_name_and_the_editor_maps_them(editor):
    claims = read("837p_batch.x12")
    assert [(c["payer_id"], c["payer_name"]) for c in claims] == [("MEDICARE", "MEDICARE PART B")] * 4 + [
        ("AETNA", "AETNA"),
        ("99999", "UNMAPPED HEALTH PLAN"),
    ]
    assert all("payer" not in c for c in claims)
    assert [editor.with_payer(c)["payer"] for c in claims[:5]] == ["medicare"] * 4 + ["aetna"]
    with pytest.raises(ClaimError, match=r"^\$\.payer_id: payer ID 99999 is not mapped"):
        editor.with_payer(claims[5])


def test_payer_option_names_one_payer_or_maps_payer_ids():
    assert {c["payer"] for c in read("837p_batch.x12", payer="cigna")} == {"cigna"}
    mapped = read("837p_batch.x12", payer={"99999": "uhc", "aetna": "bcbs"})
    assert [c.get("payer") for c in mapped] == [None] * 4 + ["bcbs", "uhc"]
    with pytest.raises(TypeError):
        read("837p_clean.x12", payer=42)


# --- malformed input: clear errors, segment and position, no PHI ------------------------


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_names_segment_and_position_without_phi(name, caplog):
    unreadable_at, count = MALFORMED[name]
    with caplog.at_level(logging.DEBUG):  # read afresh, so that the library's logging is seen
        items = list(read_x12(io.StringIO((X12 / name).read_text()), name))
    assert len(items) == count
    assert [i for i, item in enumerate(items) if isinstance(item, Unreadable)] == unreadable_at
    for item in items:
        if isinstance(item, Unreadable):
            assert item.message.startswith(f"{name}: ")
            assert re.search(r"segment \d+", item.message), item.message
            for secret in PHI:
                assert secret not in item.message, (secret, item.message)
    for secret in PHI:
        assert secret not in caplog.text


def test_the_messages_say_what_is_wrong():
    def messages(name):
        return [item.message for item in read(name) if isinstance(item, Unreadable)]

    (element,) = messages("malformed_element.x12")
    assert "claim 2 (CLM at segment 30)" in element
    assert (
        "segment 38 (SV1, position 36 in its transaction set): element SV104 (Service Unit Count) has an invalid character"
        in element
    )
    (missing,) = messages("malformed_missing_segment.x12")
    assert "required segment DTP (Date - Service Date) is missing before it" in missing
    assert all("segment 45 (SE): SE01 does not match" in m for m in messages("malformed_se_count.x12"))
    counts = messages("malformed_ge_iea_count.x12")
    assert all("(GE): GE01 does not match" in m and "(IEA): IEA01 does not match" in m for m in counts)
    truncated = messages("malformed_truncated.x12")
    assert all("no IEA trailer" in m for m in truncated)
    assert "the transaction set has no SE trailer" in truncated[-1]  # the claim cut short
    (garbage,) = messages("malformed_garbage_body.x12")
    assert "segment 5 (unrecognised segment id, position 3 in its transaction set): unrecognised segment" in garbage
    (header,) = messages("malformed_garbage_header.x12")
    assert "segment 1 is not a complete ISA header" in header


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("DMG*D8*19560402*F", "DMG*D8*19561302*F"),
            "segment 18 (DMG, position 16 in its transaction set): element DMG02 (Subscriber Birth Date) has an invalid date",
        ),
        (
            ("HL*2*1*22*0", "HL*2*7*22*0"),
            "segment 13 (HL, position 11 in its transaction set): HL02 names no open parent level",
        ),
        (("LX*2~", "LX*5~"), "segment 27 (LX, position 25 in its transaction set): LX01 is out of sequence"),
        (
            ("N3*100 TEST AVE~", "N3*100 TEST AVE*~"),
            "segment 10 (N3, position 8 in its transaction set): segment ends with empty elements",
        ),
        (("SE*33*0001~\n", ""), "segment 35: required segment SE (Transaction Set Trailer) is missing before it"),
        (
            ("SV1*HC:J9330*2400", "SV1*ZZ:J9330:TESTPATIENT*2400"),
            "segment 23 (SV1, position 21 in its transaction set)",
        ),
    ],
    ids=["date", "hl-parent", "lx-sequence", "trailing-separator", "no-se", "bad-composite"],
)
def test_errors_outside_and_inside_the_claim_loop(change, expected):
    text = (X12 / "837p_clean.x12").read_text().replace(*change)
    (item,) = read_x12(io.StringIO(text), "changed")
    assert isinstance(item, Unreadable)
    assert item.message.startswith("changed: claim 1 (CLM at segment 20) not read: ")
    assert expected in item.message
    for secret in (*PHI, "19561302"):
        assert secret not in item.message


def test_a_bad_claim_leaves_the_others_of_its_batch_readable(editor):
    items = read("malformed_element.x12")
    good = [item for item in items if isinstance(item, dict)]
    assert [c["claim_id"] for c in good] == [
        "EX-02-FULL-KIT-JZ",
        "EX-05-NDC",
        "EX-07-JW-JZ-CONFLICT",
        "X12-P-DEPENDENT",
        "X12-P-UNKNOWN-PAYER",
    ]
    assert outcome(editor, good[0]) == outcome(editor, equivalents("837p_batch.ndjson")[0])


def test_unsupported_versions_and_transactions_are_named():
    clean = (X12 / "837p_clean.x12").read_text()
    (base,) = read_x12(io.StringIO(clean.replace("005010X222A1", "005010X222")), "x222")
    assert isinstance(base, Unreadable)
    assert "GS08" in base.message and "005010X222A1 and A2 (837P), 005010X223A2 and A3 (837I)" in base.message
    (other,) = read_x12(io.StringIO(clean.replace("ST*837*", "ST*835*")), "st")
    assert isinstance(other, Unreadable) and "segment 3 (ST)" in other.message
    (empty,) = read_x12(io.StringIO(""), "empty")
    assert isinstance(empty, Unreadable)


# --- detection, the registry and the CLI ----------------------------------------------------


def test_detect_and_registry():
    assert detect((X12 / "837p_clean.x12").read_text()[:4096]) == "x12"
    assert detect("\r\n  ISA*00*") == "x12"
    assert detect('{"claim_id": "ISA"}') != "x12"
    assert FORMATS["x12"] is read_x12
    (claim,) = read_stream(io.StringIO((X12 / "837p_clean.x12").read_text()), "auto")
    assert claim["claim_id"] == "CLM-0001"


def test_the_package_imports_without_pyx12():
    code = (
        "import sys; sys.modules['pyx12'] = None\n"
        "import io\n"
        "from j9330_rules.readers import FORMATS, read_stream\n"
        "assert 'x12' not in FORMATS\n"
        "(item,) = read_stream(io.StringIO('ISA*00*'), 'f.x12', 'x12')\n"
        "print(item.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "the x12 reader is not available" in done.stdout


def _check(*args):
    references = ["--asp-file", str(FIXTURE_ASP)] + [arg for path in FIXTURE_MUE for arg in ("--mue-file", str(path))]
    return CliRunner().invoke(main, ["check", "--format", "ndjson", *references, *args], catch_exceptions=False)


@pytest.mark.parametrize("forced", [True, False], ids=["input-format-x12", "auto-detected"])
def test_cli_checks_an_837(editor, forced):
    path = X12 / "837p_batch.x12"
    result = _check(*(["--input-format", "x12"] if forced else []), str(path))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["claim_id"] for row in rows] == [c["claim_id"] for c in equivalents("837p_batch.ndjson")]
    by_id = {row["claim_id"]: row for row in rows}
    assert "JWJZ_CONFLICT" in {f["code"] for f in by_id["EX-07-JW-JZ-CONFLICT"]["findings"]}
    assert "payer" in by_id["X12-P-UNKNOWN-PAYER"]["error"]
    assert result.exit_code == 1  # blocking findings, and a claim that could not be checked


def test_cli_gives_every_claim_of_a_malformed_batch_one_result():
    result = _check("--input-format", "x12", str(X12 / "malformed_se_count.x12"))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 6
    assert [row["error"] is not None for row in rows] == [True, True, False, False, False, True]
    assert "segment 45 (SE)" in rows[0]["error"]
    for secret in PHI:
        assert secret not in rows[0]["error"]


def test_an_error_in_each_claims_loop_costs_each_claim_alone():
    """One set of 60 claims (bench/x12_scale.py's batch), every one with a bad date in its own
    loop 2300: 60 results, each naming its own CLM, and a clean set reads whole."""
    from bench.x12_scale import batch

    items = list(read_text(batch(60, errors=True), "set.x12", "x12"))
    assert len(items) == 60 and all(isinstance(i, Unreadable) for i in items)
    assert [int(re.search(r"claim (\d+) ", i.message).group(1)) for i in items] == list(range(1, 61))
    clean = list(read_text(batch(60, errors=False), "set.x12", "x12"))
    assert [c["claim_id"] for c in clean] == [f"CLM-{n:06d}" for n in range(60)]


# --- an error in a subscriber or patient loop costs the claims under it (issue 15) ------------


def _ids(items) -> list:
    return [item["claim_id"] if isinstance(item, dict) else None for item in items]


def test_a_bad_date_of_birth_in_one_subscriber_loop_costs_only_its_claims():
    """Was: an invalid DMG02 in one 2000B loop made all the claims of its transaction set unreadable."""
    from bench.x12_scale import batch

    text = batch(5, errors=False)
    segments = text.split("~\n")
    dmg = [i for i, segment in enumerate(segments) if segment.startswith("DMG*")]
    segments[dmg[2]] = "DMG*D8*19561302*F"  # the third subscriber (HL 4) was born in month 13
    items = list(read_x12(io.StringIO("~\n".join(segments)), "set.x12"))
    assert _ids(items) == ["CLM-000000", "CLM-000001", None, "CLM-000003", "CLM-000004"]
    bad = items[2]
    assert bad.message.startswith("set.x12: claim 3 (CLM at segment ")
    assert f"segment {dmg[2] + 1} (DMG, position {dmg[2] - 1} in its transaction set): element DMG02" in bad.message
    assert "has an invalid date" in bad.message
    assert "19561302" not in bad.message and "TESTPATIENT" not in bad.message


@pytest.mark.parametrize(
    ("change", "unreadable"),
    [
        # HL 2 (22): its two claims, not the others of ST 0002.
        (
            ("DMG*D8*19560402*F~\nNM1*PR*2*MEDICARE PART B*****PI*MEDICARE~\nCLM*EX-05", None),
            ["EX-05-NDC", "EX-07-JW-JZ-CONFLICT"],
        ),
        # HL 4 (23), the patient loop 2000C / 2010CA: its claim only.
        (("DMG*D8*19600115*M", "DMG*D8*19601315*M"), ["X12-P-DEPENDENT"]),
        # HL 3 (22) holds no claim of its own: its error costs the claim of the patient under it.
        (
            ("N4*SPRINGFIELD*IL*627010001~\nNM1*PR*2*AETNA", "N4*SPRINGFIELD*IL*627010001*~\nNM1*PR*2*AETNA"),
            ["X12-P-DEPENDENT"],
        ),
    ],
    ids=["subscriber", "patient", "subscriber-of-patient"],
)
def test_an_error_in_an_hl_loop_costs_the_claims_under_it(change, unreadable):
    old, new = change
    text = (X12 / "837p_batch.x12").read_text()
    if new is None:  # the subscriber of ST 0002's HL 2: a bad date of birth
        new = old.replace("19560402", "19561302")
    assert text.count(old) == 1
    items = list(read_x12(io.StringIO(text.replace(old, new)), "batch.x12"))
    wanted = [c["claim_id"] for c in equivalents("837p_batch.ndjson")]
    assert len(items) == len(wanted)
    assert _ids(items) == [None if claim_id in unreadable else claim_id for claim_id in wanted]
    for item in items:
        if isinstance(item, Unreadable):
            assert re.search(r"segment \d+ \((DMG|N4), position \d+ in its transaction set\)", item.message)
            for secret in (*PHI, "19561302", "19601315"):
                assert secret not in item.message


def test_a_header_error_still_costs_the_whole_transaction_set():
    """Outside every HL loop (the BHT, submitter and receiver of loop 1000) nothing says which claim: all of the set."""
    text = (X12 / "837p_batch.x12").read_text()
    text = text.replace("PER*IC*BILLING OFFICE*TE*5555550100~", "PER*IC*BILLING OFFICE*TE*5555550100*~", 1)
    items = list(read_x12(io.StringIO(text), "batch.x12"))
    assert [isinstance(item, Unreadable) for item in items] == [True, True, False, False, False, False]
    assert all("segment 6 (PER" in item.message for item in items[:2])


# --- read as a stream ---------------------------------------------------------------------------


def test_an_interchange_is_read_from_bytes_as_a_stream_without_a_whole_copy():
    """The reader hands pyx12 one segment at a time: the stream is read in chunks (never whole)."""
    from bench.x12_scale import batch

    data = batch(400, errors=False).encode()

    class Chunks(io.BytesIO):
        biggest = 0

        def read(self, size=-1):
            assert size is not None and size > 0, "read whole"
            chunk = super().read(size)
            Chunks.biggest = max(Chunks.biggest, len(chunk))
            return chunk

    items = list(read_stream(Chunks(data), "stream.x12", "x12"))
    assert [c["claim_id"] for c in items] == [f"CLM-{n:06d}" for n in range(400)]
    assert 0 < Chunks.biggest <= 1 << 20


def test_a_bad_byte_costs_its_claim_not_the_file():
    """Each segment is decoded on its own: a byte that is not UTF-8 in one claim's loop costs that claim."""
    text = (X12 / "837p_batch.x12").read_text()
    at = text.index("CLM*EX-05-NDC")
    data = (text[:at] + text[at:].replace("HI*ABK:C641~", "HI*ABK:C641*ABF:Z\x00~", 1)).encode()
    data = data.replace(b"Z\x00", b"Z\xc9")  # a lone Windows-1252 byte
    items = list(read_stream(io.BytesIO(data), "bytes.x12", "x12"))
    wanted = [c["claim_id"] for c in equivalents("837p_batch.ndjson")]
    assert _ids(items) == [None if claim_id == "EX-05-NDC" else claim_id for claim_id in wanted]
    assert "(HI, position" in items[2].message and "\xc9" not in items[2].message


def test_claims_after_a_stop_each_get_their_result():
    """An unknown map stops pyx12 at the GS: every CLM after it, read only by the feed, still gets a result."""
    text = (X12 / "837p_batch.x12").read_text().replace("005010X222A1", "005010X221A1")
    items = list(read_x12(io.StringIO(text), "stop.x12"))
    assert len(items) == text.count("~\nCLM*") and all(isinstance(item, Unreadable) for item in items)
    assert [int(re.search(r"claim (\d+) ", item.message).group(1)) for item in items] == [1, 2, 3, 4, 5, 6]


def test_a_segment_pyx12_cannot_place_costs_the_claims_of_its_loop():
    """Was: an SBR with an unknown SBR01 stopped the whole reading (pyx12 hands such a segment
    over with the map node of the segment before it, an HL, and it was read as that HL)."""
    text = (X12 / "837p_batch.x12").read_text()
    old = "HL*2*1*22*0~\nSBR*P*18*******MB~\nNM1*IL*1*TESTPATIENT*DELTA"
    assert text.count(old) == 1
    items = list(read_x12(io.StringIO(text.replace(old, old.replace("SBR*P", "SBR*Q"))), "sbr.x12"))
    wanted = [c["claim_id"] for c in equivalents("837p_batch.ndjson")]
    assert _ids(items) == [None if i in ("EX-05-NDC", "EX-07-JW-JZ-CONFLICT") else i for i in wanted]
    assert "segment 57 (SBR, position 12 in its transaction set): unrecognised segment" in items[2].message
    assert "reading stopped" not in items[2].message
