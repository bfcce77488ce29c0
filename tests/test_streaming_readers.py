"""Readers that lose one record, not a file, in bounded memory (issue 15).

Every format is read a record at a time from bytes: a broken first record, an invalid byte or a
lone surrogate costs the record it is in (its line, its CSV claim, its X12 claim loop), never the
file, and each claim still gets exactly one result. Memory stays at about one record: the
streamed reading of a file several times larger than a record allocates no copy of it.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from j9330_rules.readers import Unreadable, detect, read_paths, read_stream
from j9330_rules.readers.flat import COLUMNS, claim_to_rows
from tests.conftest import FIXTURES, make_claim

pytest.importorskip("fhir.resources")

FHIR_CLAIM = json.loads((FIXTURES / "fhir" / "claim-professional.json").read_text())
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ files of N records


def ndjson_file(count: int) -> tuple[bytes, list[str]]:
    """N plain claims, one a line, each holding a non-ASCII character (so a whole-file fallback shows)."""
    ids = [f"N-{n}" for n in range(count)]
    lines = [json.dumps(make_claim(claim_id=i, note="Café"), ensure_ascii=False) for i in ids]
    return ("\n".join(lines) + "\n").encode(), ids


def fhir_resource(claim_id: str) -> dict:
    claim = copy.deepcopy(FHIR_CLAIM)
    claim["id"] = claim_id
    claim["insurer"] = {"display": "Médicare"}
    return claim


def fhir_file(count: int, *, patient_first: bool = False) -> tuple[bytes, list[str]]:
    """N FHIR Claims, one a line (a bulk export); optionally a Patient line first."""
    ids = [f"F-{n}" for n in range(count)]
    lines = [json.dumps(fhir_resource(i), ensure_ascii=False) for i in ids]
    if patient_first:
        lines.insert(0, json.dumps({"resourceType": "Patient", "id": "other", "gender": "male"}))
    return ("\n".join(lines) + "\n").encode(), ids


def csv_file(count: int) -> tuple[bytes, list[str], list[tuple[int, int]]]:
    """N claims of two or more rows each, with a non-ASCII unknown column; and where each
    row's cells other than claim_id are (byte ranges), for placing a bad byte in a claim."""
    ids = [f"C-{n}" for n in range(count)]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, "note"], lineterminator="\r\n")
    writer.writeheader()
    for claim_id in ids:
        for row in claim_to_rows(make_claim(claim_id=claim_id)):
            writer.writerow({**{k: "" if v is None else v for k, v in row.items()}, "note": "Café"})
    data = out.getvalue().encode()
    ranges, at = [], 0
    for line in data.split(b"\r\n")[:-1]:
        if at:  # not the header
            start = at + line.index(b",") + 1  # past claim_id, the first column
            ranges.append((start, at + len(line)))
        at += len(line) + 2
    return data, ids, ranges


def x12_file(count: int) -> tuple[bytes, list[str], list[tuple[int, int]]]:
    """N claims, each under its own subscriber (bench/x12_scale.py), and the byte ranges of
    each claim's and subscriber's segments after their id: not the id (a byte there makes it
    another segment: no longer a CLM, nothing marks a claim there), nor an HL (a bad HL02 breaks
    the hierarchy, and pyx12 then finds no open parent for every HL after it)."""
    from bench.x12_scale import batch

    text = batch(count, errors=False)
    data = text.encode()
    ranges, at = [], 0
    first_subscriber = text.index("HL*2*1*22")
    for segment in text.split("~\n"):
        if at >= first_subscriber and not segment.startswith(("HL*", "SE*", "GE*", "IEA*")) and "*" in segment:
            ranges.append((at + segment.index("*") + 1, at + len(segment)))
        at += len(segment) + 2
    return data, [f"CLM-{n:06d}" for n in range(count)], ranges


def read(data: bytes, label: str, fmt: str | None = None) -> list:
    return list(read_stream(io.BytesIO(data), label, fmt))


def ids_of(items: list) -> list:
    return [item["claim_id"] if isinstance(item, dict) else None for item in items]


def one_result_each(editor, items: list, count: int) -> None:
    """The count of results is the number of records, and check_many gives each exactly one."""
    assert len(items) == count
    results = list(editor.check_many([item for item in items if not isinstance(item, Unreadable)]))
    assert len(results) + sum(isinstance(item, Unreadable) for item in items) == count
    assert all(not (r.error or "").startswith("internal error") for r in results)


# ------------------------------------------------------------------ a broken first record


@pytest.mark.parametrize("crlf", [False, True])
def test_a_broken_first_ndjson_line_costs_that_line(crlf):
    data, ids = ndjson_file(5)
    data = b'{"claim_id": "N-x", "lines": [\n' + data
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    assert detect(data.decode()[:4096]) == "json"
    items = read(data, "f.ndjson")
    assert ids_of(items) == [None, *ids]
    assert items[0].message.startswith("f.ndjson line 1: not valid JSON")
    assert all(item["note"] == "Café" for item in items[1:])


@pytest.mark.parametrize("first", [b'{"resourceType": "Claim", "id": ', b"{broken", b"Zebulon Quaxworth"])
def test_a_broken_first_fhir_line_costs_that_line(first):
    """Was: a first line that is not JSON made the bulk export one error (or read it as plain claims)."""
    data, ids = fhir_file(4)
    data = first + b"\n" + data
    assert detect(data.decode()[:65536]) == "fhir"
    items = read(data, "bulk.ndjson")
    assert ids_of(items) == [None, *ids]
    assert items[0].message.startswith("bulk.ndjson line 1: not valid JSON")
    assert "Zebulon" not in items[0].message
    assert list(read_stream(io.StringIO(data.decode()), "bulk.ndjson", "fhir"))[1:] == items[1:]


def test_fhir_ndjson_with_another_resource_first_is_fhir():
    data, ids = fhir_file(3, patient_first=True)
    assert detect(data.decode()) == "fhir"
    assert ids_of(read(data, "bulk.ndjson")) == ids


def test_a_pretty_printed_document_is_not_taken_for_ndjson():
    """Its inner lines are indented; nor is a one-line object on its own line inside it a record."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": fhir_resource("F-0")}]}
    text = json.dumps(bundle, indent=2).replace('{\n            "system"', '{"system"')
    assert ids_of(read(text.encode(), "b.json")) == ["F-0"]
    claim = json.dumps(make_claim(claim_id="P"), indent=2)
    assert ids_of(read(claim.encode(), "p.json")) == ["P"]


def test_a_broken_first_csv_row_costs_its_claim():
    data, ids, _ranges = csv_file(3)
    header, first, rest = data.split(b"\r\n", 2)
    items = read(header + b"\r\n" + first + b",extra\r\n" + rest, "f.csv")
    assert ids_of(items) == [None, *ids[1:]]
    assert (
        items[0].message == f"f.csv: the header has {len(COLUMNS) + 1} columns but row 2 has {len(COLUMNS) + 2} cells"
    )


def test_csv_with_blank_lines_before_its_header_is_csv():
    data, ids, _ranges = csv_file(2)
    assert detect("\r\n\r\n" + data.decode()[:4096], "") == "csv"
    assert ids_of(read(b"\r\n\r\n" + data, "noext")) == ids


def test_lone_carriage_returns_end_csv_lines():
    data, ids, _ranges = csv_file(2)
    assert ids_of(read(data.replace(b"\r\n", b"\r"), "mac.csv")) == ids


# ------------------------------------------------------------------ one invalid byte anywhere


def insert(data: bytes, at: int, byte: int) -> bytes:
    return data[:at] + bytes([byte]) + data[at:]


BAD_BYTES = st.sampled_from([0x80, 0x81, 0x9D, 0xC0, 0xC9, 0xE9, 0xFE, 0xFF])


@SETTINGS
@given(position=st.floats(0, 1, exclude_max=True), byte=BAD_BYTES)
def test_one_invalid_byte_in_ndjson_costs_its_line(editor, position, byte):
    data, ids = ndjson_file(6)
    at = int(position * len(data))
    hit = data[:at].count(b"\n")  # the line the byte lands in
    items = read(insert(data, at, byte), "f.ndjson")
    one_result_each(editor, items, len(ids))
    clean = read(data, "f.ndjson")
    assert [item for n, item in enumerate(items) if n != hit] == [item for n, item in enumerate(clean) if n != hit]


@settings(SETTINGS, max_examples=15)
@given(position=st.floats(0, 1, exclude_max=True), byte=BAD_BYTES)
def test_one_invalid_byte_in_fhir_ndjson_costs_its_line(editor, position, byte):
    data, ids = fhir_file(4)
    at = int(position * len(data))
    hit = data[:at].count(b"\n")
    items = read(insert(data, at, byte), "bulk.ndjson")
    one_result_each(editor, items, len(ids))
    clean = read(data, "bulk.ndjson")
    assert [item for n, item in enumerate(items) if n != hit] == [item for n, item in enumerate(clean) if n != hit]
    assert all(item["payer_name"] == "Médicare" for n, item in enumerate(items) if n != hit)


@SETTINGS
@given(pick=st.floats(0, 1, exclude_max=True), offset=st.floats(0, 1), byte=BAD_BYTES)
def test_one_invalid_byte_in_a_csv_row_costs_its_claim(editor, pick, offset, byte):
    """Anywhere in a row but its claim_id (a changed id splits the claim's rows: a file's
    structure, not its decoding) and the header (which every claim is read through)."""
    data, ids, ranges = csv_file(5)
    start, end = ranges[int(pick * len(ranges))]
    at = start + int(offset * (end - start))
    hit = ids.index(data[data.rindex(b"\n", 0, at) + 1 :].split(b",", 1)[0].decode())
    items = read(insert(data, at, byte), "f.csv")
    one_result_each(editor, items, len(ids))
    clean = read(data, "f.csv")
    assert [item for n, item in enumerate(items) if n != hit] == [item for n, item in enumerate(clean) if n != hit]
    assert all(item["note"] == "Café" for n, item in enumerate(items) if n != hit)


@settings(SETTINGS, max_examples=6, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # pyx12: ~1 s a read
@given(pick=st.floats(0, 1, exclude_max=True), offset=st.floats(0, 1), byte=BAD_BYTES)
# An HI after a CLM: pyx12 opens a loop 2300 for it (the claim must still give one result).
@example(pick=0.5890722619635693, offset=0.29102996566031597, byte=201)
def test_one_invalid_byte_in_an_x12_claim_or_subscriber_costs_that_claim(editor, pick, offset, byte):
    data, ids, ranges = x12_file(4)
    start, end = ranges[int(pick * len(ranges))]
    at = start + int(offset * (end - start))
    hit = data[:at].count(b"~\nHL*") - 2  # each claim has its own subscriber HL (HL 2 on; HL 1 is the provider's)
    items = read(insert(data, at, byte), "f.x12")
    one_result_each(editor, items, len(ids))
    assert ids_of(items) == [None if n == hit else i for n, i in enumerate(ids)] or ids_of(items) == ids


# ------------------------------------------------------------------ lone surrogates


def test_lone_surrogate_escapes_cost_nothing_and_give_one_result_each(editor):
    """``"\\ud800"`` is valid JSON and gives a str no encoder can write as UTF-8."""
    lines = [
        json.dumps(make_claim(claim_id="S-\ud800")),
        json.dumps(make_claim(claim_id="S-1", patient={"birth_date": "1956-04-02", "sex": "F", "member_id": "\udfff"})),
        json.dumps(make_claim(claim_id="S-2")),
    ]
    items = read("\n".join(lines).encode(), "s.ndjson")
    assert ids_of(items) == ["S-\ud800", "S-1", "S-2"]
    one_result_each(editor, items, 3)
    fhir = [fhir_resource("F-0"), fhir_resource("F-1"), fhir_resource("F-2")]
    fhir[1]["insurer"]["display"] = "Med\ud800icare"
    fhir[2]["item"][0]["extension"][1]["extension"][0]["valueString"] = "\udfff"
    items = read("\n".join(json.dumps(r) for r in fhir).encode(), "s.ndjson", "fhir")
    assert len(items) == 3 and items[0]["claim_id"] == "F-0"
    one_result_each(editor, items, 3)


def test_surrogate_bytes_in_csv_and_x12_cost_their_record_only(editor):
    """Encoded lone surrogates (ED A0 80, CESU-8) are not UTF-8: the record they are in is read
    as Windows-1252, the rest as UTF-8."""
    data, ids, ranges = csv_file(3)
    at = ranges[2][0] + 3
    items = read(data[:at] + b"\xed\xa0\x80" + data[at:], "s.csv")
    one_result_each(editor, items, 3)
    assert [item["note"] for item in items] == ["Café"] * 3
    data, ids, ranges = x12_file(3)
    at = ranges[-3][0] + 1
    items = read(data[:at] + b"\xed\xa0\x80" + data[at:], "s.x12")
    one_result_each(editor, items, 3)
    assert ids_of(items)[:2] == ids[:2]


# ------------------------------------------------------------------ bounded memory


def peak_while_reading(data: bytes, label: str) -> tuple[int, int]:
    """(peak bytes allocated while reading every item and dropping it, items read), after a
    first read of one record (which builds the FHIR models and loads what is loaded once)."""
    list(read_stream(io.BytesIO(data[: data.index(b"\n", 4096) + 1]), label))
    tracemalloc.start()
    try:
        count = 0
        for _item in read_stream(io.BytesIO(data), label):
            count += 1
        return tracemalloc.get_traced_memory()[1], count
    finally:
        tracemalloc.stop()


def big_file(kind: str, count: int) -> tuple[bytes, str]:
    if kind == "fhir":
        return fhir_file(1)[0] * count, "big.ndjson"
    if kind == "csv":
        return csv_file(count)[0], "big.csv"
    return ndjson_file(count)[0], "big.ndjson"


@pytest.mark.parametrize(("kind", "count"), [("ndjson", 400), ("csv", 1600), ("fhir", 120)])
def test_memory_does_not_grow_with_the_file(kind, count, monkeypatch):
    """Read in 64 KiB chunks, a file four times as long peaks at about the same memory: it is
    never held whole (read whole, its text alone would be the file, its records several times that)."""
    monkeypatch.setattr("j9330_rules.readers.base.CHUNK", 1 << 16)
    small, label = big_file(kind, count)
    large, _label = big_file(kind, 4 * count)
    assert len(small) > 5 * (1 << 16)
    (small_peak, small_count), (large_peak, large_count) = (
        peak_while_reading(small, label),
        peak_while_reading(large, label),
    )
    assert large_count == 4 * small_count
    growth = large_peak - small_peak
    assert growth < (len(large) - len(small)) / 8, f"{kind}: peak {small_peak:,} -> {large_peak:,} bytes"


def test_fhir_references_across_lines_resolve_from_a_seekable_file_and_from_a_pipe(tmp_path):
    """The first pass notes where each resource is; a claim before the Patient it refers to finds it."""
    claim = fhir_resource("F-ref")
    claim.pop("contained")
    claim["patient"] = {"reference": "Patient/later"}
    patient = {"resourceType": "Patient", "id": "later", "gender": "female", "birthDate": "1956-04-02"}
    text = json.dumps(claim) + "\n" + json.dumps(patient) + "\n"
    path = tmp_path / "bulk.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    (from_file,) = read_paths([path])
    assert from_file["patient"] == {"birth_date": "1956-04-02", "sex": "F"}

    class Pipe(io.BytesIO):
        def seekable(self):
            return False

    (from_pipe,) = read_stream(Pipe(text.encode()), "pipe")
    assert from_pipe == from_file
    (from_utf16,) = read_stream(io.BytesIO(b"\xff\xfe" + text.encode("utf-16-le")), "u16")
    assert from_utf16 == from_file
