"""Fuzzing: garbage into every reader and into ``Editor.check_many``.

Three families of properties, all with Hypothesis:

1. Arbitrary text and bytes (decoded as UTF-8 with replacement and as Latin-1) into every
   reader (``FORMATS[name](stream, label)``), into ``read_stream`` with auto-detection, and,
   for bytes, through ``read_paths`` on a file: no exception escapes, every item is a claim
   or an :class:`Unreadable`, no Unreadable message quotes the PHI marker planted in the
   input, every reader finishes well within a time limit, and the claims read go through
   ``check_many`` as in (2). The JSON reader yields every JSON value it reads (a number on an
   NDJSON line is an item), so its items are JSON values; check_many answers "$: ..." for those.
2. Arbitrary JSON values, claim-shaped dicts and mutated valid claims into ``check_many``:
   exactly one Result per input, in order; an error names a path (``$...``); an "internal
   error" result is a bug and fails the test; no error or finding message quotes the PHI
   marker. A batch of a few hundred is also generated and checked in a subprocess, which
   must exit 0.
3. The real fixture files mutated, byte by byte (truncation, byte flips, segment / line
   duplication, deletion and swaps, delimiter changes, planted markers) and, for the JSON
   ones (FHIR, examples), value by value at random paths, through the readers and
   ``check_many``: one result per readable claim, no crash, no exception.

FHIR reader messages name element paths; an unknown element's key is not quoted (only an
element of another FHIR version, such as R5's traceNumber, is). The PHI check still ignores
element paths, whose parts are the models' own element names.

Settings are modest (60-150 examples per test, no deadline): the file runs in about 30-45 s.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from j9330_rules import Result
from j9330_rules.model.structure import safe_claim_id
from j9330_rules.readers import FORMATS, Unreadable, detect, read_paths, read_stream
from tests.conftest import ROOT, make_claim

FIXTURES = ROOT / "tests" / "fixtures"

#: The distinctive "patient identifier" planted in generated input. It is a valid identifier
#: (letters and digits) so that it can also land where a key or an element name goes.
MARKER = "PhiZq7Marker"
#: What the fixture files hold where a patient's name or member id goes; messages must not quote them.
FIXTURE_PHI = ("TESTPATIENT", "TESTSUBSCRIBER", "TESTSPOUSE", "TESTMBR000", "Quaxworth", "Zebulon", "MBR-ZQ-0001")
LABEL = "<fuzz>"
PAYERS = ("medicare", "aetna", "bcbs", "cigna", "uhc")
READER_SECONDS = 10  # a reader that takes longer than this on a few KB of input is hung

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --------------------------------------------------------------------------- helpers


class ReaderTimeout(BaseException):
    """Raised by the alarm; a BaseException so that no reader's ``except Exception`` hides it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(_signum, _frame):
        raise ReaderTimeout(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: An element path in a FHIR reader message (``Claim.item[0].quantity``): the models' element
#: names (an unknown key is not quoted; test_fhir checks that "zebulon" is not named).
FHIR_PATH = re.compile(r"\b[A-Z][A-Za-z]*(\[\d+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])*)+")


def assert_no_phi(message: str, extra: tuple[str, ...] = (), *, fhir: bool = False) -> None:
    assert isinstance(message, str)
    if fhir:
        message = FHIR_PATH.sub("<path>", message)
    for marker in (MARKER, *extra):
        assert marker.lower() not in message.lower(), f"a message quotes input ({marker!r}): {message[:300]!r}"


def is_json_value(value: Any) -> bool:
    """A value json.loads can produce (checked without recursion: the value may be deep)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (bool, int, float, str)):
            continue
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            stack.extend(item.values())
        else:
            return False
    return True


def read_all(reader, text: str, *args: Any) -> list[Any]:
    with time_limit(READER_SECONDS):
        return list(reader(io.StringIO(text), LABEL, *args))


def check_items(fmt: str, items: list[Any], phi: tuple[str, ...] = ()) -> list[Any]:
    """The items' claims; asserts each item is a claim (a JSON value for the JSON reader) or an Unreadable."""
    claims = []
    for item in items:
        if isinstance(item, Unreadable):
            assert isinstance(item.message, str) and item.message
            assert_no_phi(item.message, phi, fhir=fmt == "fhir")
            continue
        if fmt == "json":
            # The JSON reader yields every JSON value it reads; check_many reports a non-object as "$: ...".
            assert is_json_value(item), type(item)
        else:
            assert isinstance(item, Mapping), type(item)
        claims.append(item)
    return claims


def expected_claim_id(data: Any, result: Result) -> str | None:
    if result.error is not None:
        return safe_claim_id(data)
    return str(data["claim_id"]).strip()


def check_results(inputs: list[Any], results: list[Any], phi: tuple[str, ...] = ()) -> None:
    assert len(results) == len(inputs), "check_many must give exactly one result per input"
    for position, (data, result) in enumerate(zip(inputs, results)):
        assert isinstance(result, Result)
        if result.error is not None:
            assert not result.error.startswith("internal error"), (
                f"BUG: check_many hit an internal error on input {position} ({type(data).__name__}): {result.error}"
            )
            assert result.error.startswith("$"), f"an error must name a path: {result.error[:300]!r}"
            assert not result.findings
            assert_no_phi(result.error, phi)
        else:
            for finding in result.findings:
                assert_no_phi(finding.message, phi)
            for suppression in result.suppressed:
                assert_no_phi(suppression.finding.message, phi)
        # In order: each result carries its own input's claim id.
        assert result.claim_id == expected_claim_id(data, result)


def check_claims(editor, claims: list[Any], phi: tuple[str, ...] = ()) -> None:
    results = list(editor.check_many(claims))
    check_results(claims, results, phi)


# --------------------------------------------------------------------------- 1. readers on garbage

ISA = "ISA*00*          *00*          *ZZ*J9330TESTSUB   *ZZ*J9330TESTRCV   *260303*1200*^*00501*000000101*0*T*:~"
#: A fuzzing dictionary: tokens that steer random text into each reader's deeper paths.
TOKENS = [
    "{",
    "}",
    "[",
    "]",
    '"',
    ":",
    ",",
    "\n",
    "\r\n",
    " ",
    "\ufeff",
    "\x00",
    "null",
    "true",
    "1e400",
    "-0",
    "NaN",
    '"resourceType"',
    '"Claim"',
    '"Bundle"',
    '"Patient"',
    '"entry"',
    '"resource"',
    '"item"',
    '"id"',
    '"contained"',
    '"meta": {"profile": ["x|5.0.0"]}',
    '"claim_id"',
    '"lines"',
    '"payer": "medicare"',
    '"hcpcs": "J9330"',
    '{"resourceType": "Claim", ',
    '{"resourceType": "Bundle", "type": "collection", "entry": [',
    ISA,
    "GS*HC*S*R*20260303*1200*1*X*005010X222A1~",
    "ST*837*0001*005010X222A1~",
    "HL*1**20*1~",
    "HL*2*1*22*0~",
    "NM1*IL*1*",
    "CLM*",
    "SV1*HC:J9330*",
    "LX*1~",
    "DTP*472*D8*20260302~",
    "SE*5*0001~",
    "GE*1*1~",
    "IEA*1*000000101~",
    "*",
    "~",
    "^",
    "claim_id,hcpcs,units,service_date,payer\n",
    "claim_id,claim_id\n",
    "claim_id",
    "hcpcs",
    ',"',
    '""',
    "9" * 4400,  # a number longer than int() converts by default
    "[" * 1500,  # nesting deeper than the recursion limit
    '{"a":' * 1200,
    MARKER,
    f'"{MARKER}"',
    f'"{MARKER}": 1',
    f"*{MARKER}*",
    f",{MARKER},",
]

pieces = st.one_of(st.text(max_size=40), st.sampled_from(TOKENS), st.just(MARKER))
fuzz_text = st.lists(pieces, max_size=25).map("".join)
fuzz_bytes = st.lists(
    st.one_of(
        st.binary(max_size=40), st.sampled_from(TOKENS).map(lambda t: t.encode("utf-8")), st.just(MARKER.encode())
    ),
    max_size=25,
).map(b"".join)
decodings = st.sampled_from(["utf-8-replace", "latin-1"])


def decode(data: bytes, how: str) -> str:
    return data.decode("utf-8", errors="replace") if how == "utf-8-replace" else data.decode("latin-1")


def fuzz_readers(editor, text: str, phi: tuple[str, ...] = ()) -> None:
    """Every reader, and auto-detection, on one text; the claims they yield go to check_many."""
    for fmt, reader in FORMATS.items():
        claims = check_items(fmt, read_all(reader, text), phi)
        check_claims(editor, claims, phi)
    detected = detect(text[:4096])
    claims = check_items(detected, read_all(read_stream, text), phi)
    check_claims(editor, claims, phi)


def test_every_input_format_has_a_reader():
    assert set(FORMATS) == {"json", "csv", "fhir", "x12"}


@FUZZ
@given(text=fuzz_text)
def test_readers_on_arbitrary_text(editor, text):
    fuzz_readers(editor, text)


@FUZZ
@given(data=fuzz_bytes, how=decodings)
def test_readers_on_arbitrary_bytes(editor, data, how):
    fuzz_readers(editor, decode(data, how))


@settings(FUZZ, max_examples=100)
@given(data=fuzz_bytes)
def test_read_paths_on_arbitrary_bytes(editor, data):
    """A file of arbitrary bytes: read_paths decodes it as UTF-8 and never raises."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claims.json"
        path.write_bytes(data)
        with time_limit(READER_SECONDS):
            items = list(read_paths([str(path)]))
    claims = []
    for item in items:
        if isinstance(item, Unreadable):
            assert_no_phi(item.message, fhir=True)
        else:
            assert is_json_value(item) or isinstance(item, Mapping)
            claims.append(item)
    check_claims(editor, claims)


# --------------------------------------------------------------------------- 2. check_many on garbage

TOP_KEYS = [
    "claim_id",
    "payer",
    "form",
    "type_of_bill",
    "place_of_service",
    "diagnoses",
    "patient",
    "provider",
    "prior_authorization",
    "lines",
]
LINE_KEYS = [
    "line",
    "hcpcs",
    "modifiers",
    "units",
    "service_date",
    "charge",
    "ndc",
    "ndc_unit",
    "ndc_quantity",
    "revenue_code",
    "dx_pointers",
    "dose_mg",
    "documentation",
]
PATIENT_KEYS = ["birth_date", "sex", "member_id"]
PROVIDER_KEYS = ["npi", "is_340b", "hospital_type"]
DOCUMENTATION_KEYS = ["lot", "expiration", "route"]
CONTRACT_KEYS = TOP_KEYS + LINE_KEYS + PATIENT_KEYS + PROVIDER_KEYS + DOCUMENTATION_KEYS

HUGE_INTS = [2**63, -(2**63) - 1, 10**30, -(10**30), 10**100, 10**4301 + 7]  # the last: str() refuses it
ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e308, 5e-324, -0.0, 0.1, 1e-7]
PLAUSIBLE = [
    "",
    " ",
    "0",
    "00",
    "-1",
    "1e400",
    "1E+2",
    "NaN",
    "Infinity",
    "-0",
    "0.001",
    "1.005",
    "20",
    "2026-03-02",
    "20260302",
    "2026-02-30",
    "26-03-02",
    "9999-12-31",
    "0001-01-01",
    "J9330",
    "j9330",
    " J9330 ",
    "J933",
    "96413",
    "JW",
    "JZ",
    "JG",
    "TB",
    "ZZ",
    "0636",
    "636",
    "013",
    "0131",
    "11",
    "21",
    "C64.1",
    "C83.1",
    "Z00.00",
    "00008117901",
    "0008-1179-01",
    "UN",
    "ML",
    "professional",
    "institutional",
    "dental",
    "medicare",
    "Medicare",
    "unknown-payer",
    "IV",
    "1234567893",
    "\x00",
    "\u202e",
    "\ud800",
    0,
    1,
    -1,
    20,
    25,
    999,
    1000,
    10**8,
    True,
    False,
    # FHIR: resource types, references, code systems, extensions
    "Claim",
    "Bundle",
    "Patient",
    "Coverage",
    "Organization",
    "Condition",
    "#pat",
    "Patient/pat",
    "Patient/good",
    "urn:uuid:0",
    "http://hl7.org/fhir/sid/ndc",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://hl7.org/fhir/sid/us-npi",
    "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
    "urn:j9330-rules:fhir:payer",
    "urn:j9330-rules:fhir:dose-mg",
    "http://hl7.org/fhir/StructureDefinition/Claim|5.0.0",
    "mg",
    "mL",
    "[iU]",
    "{unit}",
    "2026-03-02T10:00:00Z",
]


def pick(values: list[Any]) -> st.SearchStrategy:
    """sampled_from, without Hypothesis ever taking repr() of a value (repr of a 4300-digit int raises)."""

    def value_at(index: int) -> Any:
        return values[index]

    return st.sampled_from(range(len(values))).map(value_at)


keys = st.one_of(st.sampled_from(CONTRACT_KEYS), st.text(max_size=12), st.just(MARKER))
phi_strings = st.sampled_from([MARKER, f" {MARKER} ", f"J{MARKER}", f"{MARKER}-0001", MARKER * 20, f"1234{MARKER}"])


def json_value_strategy(huge: list[int]) -> st.SearchStrategy:
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        pick(huge),
        st.floats(),
        st.sampled_from(ODD_FLOATS),
        st.text(max_size=20),
        phi_strings,
        pick(PLAUSIBLE),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)),
        max_leaves=25,
    )


json_values = json_value_strategy(HUGE_INTS)
#: Values json.dumps can write (it cannot write an int past 4300 digits).
writable_json_values = json_value_strategy([n for n in HUGE_INTS if n.bit_length() < 10_000])


def shaped(names: list[str], inner: dict[str, Any] | None = None) -> st.SearchStrategy:
    """Dicts with some of the contract's keys (valued from ``inner`` or at random) and a few random keys."""
    inner = inner or {}
    optional = {name: st.one_of(inner.get(name, json_values), json_values) for name in names}
    return st.tuples(
        st.fixed_dictionaries({}, optional=optional),
        st.dictionaries(keys, json_values, max_size=2),
    ).map(lambda pair: {**pair[1], **pair[0]})


valid_bits = {
    "payer": st.sampled_from(PAYERS),
    "claim_id": st.one_of(st.text(min_size=1, max_size=10), phi_strings),
    "hcpcs": st.sampled_from(["J9330", "96413", "J9331"]),
    "units": st.integers(0, 60),
    "service_date": st.sampled_from(["2026-03-02", "2026-03-09", "20260302"]),
    "modifiers": st.lists(st.sampled_from(["JW", "JZ", "JG", "TB", "25", "00"]), max_size=3),
    "diagnoses": st.lists(st.sampled_from(["C64.1", "C83.1", "C50.911"]), max_size=3),
    "dx_pointers": st.lists(st.integers(0, 4), max_size=3),
    "member_id": phi_strings,
    "lot": phi_strings,
}
documentation_dicts = shaped(DOCUMENTATION_KEYS, valid_bits)
line_dicts = shaped(LINE_KEYS, {**valid_bits, "documentation": documentation_dicts})
claim_dicts = shaped(
    TOP_KEYS,
    {
        **valid_bits,
        "patient": shaped(PATIENT_KEYS, valid_bits),
        "provider": shaped(PROVIDER_KEYS, valid_bits),
        "lines": st.lists(line_dicts, max_size=4),
    },
)


def paths_in(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """The path (keys and indexes) of every value inside ``value``."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield (*prefix, key)
        yield from paths_in(item, (*prefix, key))


def container_of(claim: Any, path: tuple) -> Any:
    for key in path[:-1]:
        claim = claim[key]
    return claim


WRONG_TYPES = [None, True, False, 0, -1, 1.5, "", "x", [], {}, [None], {"a": 1}, [[]], {"": None}]


MUTATIONS = ["replace", "delete", "wrong_type", "phi", "plausible", "add_key", "duplicate", "swap"]


def mutate(draw, document: Any, rounds: int, *, writable: bool = False) -> Any:
    """``document`` with ``rounds`` random changes, each at a random path inside it."""
    document = copy.deepcopy(document)
    values = writable_json_values if writable else json_values
    scalars = PLAUSIBLE + ODD_FLOATS + (HUGE_INTS[:-1] if writable else HUGE_INTS)
    for _ in range(rounds):
        paths = list(paths_in(document))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = container_of(document, path), path[-1]
        action = draw(st.sampled_from(MUTATIONS))
        if action == "replace":
            parent[key] = draw(values)
        elif action == "delete":
            del parent[key]
        elif action == "wrong_type":
            parent[key] = copy.deepcopy(draw(st.sampled_from(WRONG_TYPES)))
        elif action == "phi":
            parent[key] = draw(phi_strings)
        elif action == "plausible":
            parent[key] = draw(pick(scalars))
        elif action == "add_key" and isinstance(parent[key], dict):
            parent[key][draw(keys)] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "swap":  # a value moved to another place in the document
            other = draw(st.sampled_from(paths))
            if other[: len(path)] != path and path[: len(other)] != other:
                parent[key] = copy.deepcopy(container_of(document, other)[other[-1]])
    return document


@st.composite
def mutated_claims(draw) -> Any:
    claim = make_claim(payer=draw(st.sampled_from(PAYERS)), claim_id=draw(st.sampled_from(["CLM-F1", "CLM-F2", 7])))
    claim = mutate(draw, claim, draw(st.integers(1, 5)))
    if draw(st.integers(0, 30)) == 0:  # now and then, past the line limit
        lines = claim.get("lines") if isinstance(claim, dict) else None
        if isinstance(lines, list) and lines:
            claim["lines"] = [copy.deepcopy(lines[0]) for _ in range(1000)]
    return claim


@FUZZ
@given(inputs=st.lists(json_values, min_size=1, max_size=6))
def test_check_many_on_arbitrary_json_values(editor, inputs):
    check_results(inputs, list(editor.check_many(inputs)))


@settings(FUZZ, max_examples=100)
@given(inputs=st.lists(claim_dicts, min_size=1, max_size=4))
def test_check_many_on_claim_shaped_values(editor, inputs):
    check_results(inputs, list(editor.check_many(inputs)))


@settings(FUZZ, max_examples=150)
@given(inputs=st.lists(st.one_of(mutated_claims(), st.builds(make_claim)), min_size=1, max_size=6))
def test_check_many_on_mutated_claims(editor, inputs):
    check_results(inputs, list(editor.check_many(inputs)))


SUBPROCESS = textwrap.dedent(
    """
    import sys
    from hypothesis import HealthCheck, given, seed, settings, strategies as st
    from j9330_rules import Editor
    from tests.conftest import FIXTURE_ASP, FIXTURE_MUE
    from tests.test_fuzz import claim_dicts, json_values, mutated_claims

    examples, chosen = int(sys.argv[1]), int(sys.argv[2])
    batch = []

    @seed(chosen)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(mutated_claims(), claim_dicts, json_values), min_size=1, max_size=5))
    def collect(inputs):
        batch.extend(inputs)

    collect()
    editor = Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE)
    results = list(editor.check_many(batch))
    internal = sum(1 for r in results if r.error and r.error.startswith("internal error"))
    print(len(batch), len(results), internal)
    """
)


def test_check_many_batch_in_a_subprocess():
    """A batch of a few hundred mutated claims, generated and checked in a fresh process: the
    process checks every one and exits 0 (a crash in the engine's C code would not)."""
    chosen = random.randrange(2**32)
    done = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, "60", str(chosen)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )
    assert done.returncode == 0, f"seed {chosen}: exit {done.returncode}\n{done.stderr[-3000:]}"
    generated, results, internal = map(int, done.stdout.split())
    assert generated > 60 and results == generated, f"seed {chosen}"
    assert internal == 0, f"BUG: internal errors in the subprocess batch (seed {chosen})"


# --------------------------------------------------------------------------- 3. mutated real inputs


def fixture_format(path: Path) -> str:
    if path.suffix == ".x12":
        return "x12"
    if path.suffix == ".csv":
        return "csv"
    if path.parent.name == "fhir":
        return "fhir"
    return "json"


FIXTURE_FILES = sorted(
    [*FIXTURES.glob("x12/*.x12"), *FIXTURES.glob("fhir/*"), *FIXTURES.glob("csv/*.csv"), *(ROOT / "examples").glob("*")]
)
FIXTURE_BYTES = {path: path.read_bytes() for path in FIXTURE_FILES}
DELIMITERS = [bytes([c]) for c in b'~*:^,\n"{}[]|;\r\t \\']


def _loads_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def chunks(data: bytes, delimiter: bytes) -> list[bytes]:
    parts = data.split(delimiter)
    return [part + delimiter for part in parts[:-1]] + [parts[-1]]


@st.composite
def mutated_fixtures(draw) -> tuple[Path, bytes]:
    path = draw(st.sampled_from(FIXTURE_FILES))
    data = FIXTURE_BYTES[path]
    for phi in FIXTURE_PHI:  # the patient identifiers become the marker the messages must not quote
        if draw(st.booleans()):
            data = data.replace(phi.encode(), MARKER.encode())
    for _ in range(draw(st.integers(1, 4))):
        action = draw(
            st.sampled_from(
                ["truncate", "flip", "insert", "delete", "duplicate", "drop", "swap", "delimiter", "marker"]
            )
        )
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "truncate":
            data = data[:at]
        elif action == "flip":
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
        elif action == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif action == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 16)) :]
        elif action == "marker":
            data = data[:at] + MARKER.encode() + data[at:]
        elif action == "delimiter":
            old, new = draw(st.sampled_from(DELIMITERS)), draw(st.sampled_from(DELIMITERS))
            data = data.replace(old, new) if draw(st.booleans()) else data.replace(old, new, 1)
        else:  # segment / line / field level
            parts = chunks(data, draw(st.sampled_from([b"~", b"\n", b",", b"}", b"*"])))
            i = draw(st.integers(0, len(parts) - 1))
            if action == "duplicate":
                parts.insert(i, parts[i])
            elif action == "drop":
                del parts[i]
            else:
                j = draw(st.integers(0, len(parts) - 1))
                parts[i], parts[j] = parts[j], parts[i]
            data = b"".join(parts)
    return path, data


@settings(FUZZ, max_examples=120)
@given(mutated=mutated_fixtures(), how=decodings)
def test_mutated_fixtures(editor, mutated, how):
    path, data = mutated
    text = decode(data, how)
    fmt = fixture_format(path)
    readings = [(fmt, read_all(read_stream, text, fmt))]  # read_stream with the format named: FORMATS[fmt]
    detected = detect(text[:4096])
    if detected != fmt:
        readings.append((detected, read_all(read_stream, text)))
    for kind, items in readings:
        claims = check_items(kind, items, FIXTURE_PHI)
        # One result per readable claim unit, no crash, no internal error.
        check_claims(editor, claims, FIXTURE_PHI)


@settings(FUZZ, max_examples=60)
@given(mutated=mutated_fixtures())
def test_mutated_fixture_files_through_read_paths(editor, mutated):
    """The raw mutated bytes as a file (not decoded by us): read_paths never raises."""
    path, data = mutated
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / path.name
        target.write_bytes(data)
        with time_limit(READER_SECONDS):
            items = list(read_paths([folder]))
    claims = []
    for item in items:
        if isinstance(item, Unreadable):
            assert_no_phi(item.message, FIXTURE_PHI, fhir=fixture_format(path) == "fhir")
        else:
            claims.append(item)
    check_claims(editor, claims, FIXTURE_PHI)


def planted(text: str) -> str:
    for phi in FIXTURE_PHI:
        text = text.replace(phi, MARKER)
    return text


JSON_FILES = [path for path in FIXTURE_FILES if fixture_format(path) in ("fhir", "json")]


def load_document(path: Path) -> Any:
    """A JSON fixture parsed, its patient identifiers replaced by the marker; NDJSON as a list of its
    lines (a line that is not JSON is left out: the byte-level mutations cover those)."""
    text = planted(path.read_text())
    if path.suffix != ".ndjson":
        return json.loads(text)
    return [value for value in map(_loads_or_none, text.splitlines()) if value is not None]


JSON_DOCUMENTS = {path: load_document(path) for path in JSON_FILES}


@st.composite
def mutated_documents(draw) -> tuple[Path, str]:
    """A JSON fixture (FHIR resources, example claims) with values changed at random paths, written back."""
    path = draw(st.sampled_from(JSON_FILES))
    document = mutate(draw, JSON_DOCUMENTS[path], draw(st.integers(1, 6)), writable=True)
    if path.suffix == ".ndjson" and isinstance(document, list):
        return path, "\n".join(json.dumps(line) for line in document)
    return path, json.dumps(document, indent=draw(st.sampled_from([None, 2])))


@settings(FUZZ, max_examples=150)
@given(mutated=mutated_documents())
def test_mutated_json_documents(editor, mutated):
    """Valid JSON, wrong content: FHIR claims reach the validator and the mapper with odd values."""
    path, text = mutated
    fmt = fixture_format(path)
    for kind, items in [(fmt, read_all(FORMATS[fmt], text)), (detect(text[:4096]), read_all(read_stream, text))]:
        check_claims(editor, check_items(kind, items, FIXTURE_PHI), FIXTURE_PHI)


def test_unmutated_fixtures_read_cleanly(editor):
    """The baseline the mutations start from: each fixture reads, and its claims check without internal errors."""
    for path in FIXTURE_FILES:
        text = FIXTURE_BYTES[path].decode("utf-8")
        claims = check_items(fixture_format(path), read_all(FORMATS[fixture_format(path)], text), FIXTURE_PHI)
        check_claims(editor, claims, FIXTURE_PHI)


# --------------------------------------------------------------------------- regressions found by fuzzing


@pytest.mark.parametrize("fmt", [*FORMATS, None])
@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"claim_id": ' + "1" * 5000 + "}", id="int-too-long-for-str"),
        pytest.param("1" * 5000, id="bare-int-too-long"),
        pytest.param('{"claim_id": "A"}\n' + "2" * 5000 + '\n{"claim_id": "B"}', id="ndjson-int-too-long"),
        pytest.param("[" * 100_000, id="deep-unclosed"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="deep-closed"),
        pytest.param('{"a": ' + "[" * 3000, id="deep-in-detection-head"),
        pytest.param('{"resourceType": "Claim", "id": ' + "3" * 5000 + "}", id="fhir-int-too-long"),
    ],
)
def test_json_the_parser_refuses_is_unreadable(editor, fmt, text):
    """json.loads raises ValueError (not JSONDecodeError) past 4300 digits, and RecursionError
    past the nesting limit: both must become Unreadable items, not escape the reader."""
    items = read_all(read_stream, text, fmt)
    assert items
    kind = fmt or detect(text[:4096])
    check_claims(editor, check_items(kind, items))


def test_huge_int_claim_id_is_an_error_result(editor):
    """safe_claim_id used str() on any int: past 4300 digits that raised out of check_many."""
    inputs = [make_claim(claim_id=10**5000, lines="x"), make_claim(claim_id=-(10**5000)), make_claim()]
    results = list(editor.check_many(inputs))
    assert len(results) == 3
    assert results[0].claim_id is None and results[0].error.startswith("$")
    assert results[1].claim_id is None and results[1].error.startswith("$.claim_id")
    assert results[2].error is None


# --------------------------------------------------------------------------- 4. hostile objects, surrogates

FAILURES = [ValueError, RuntimeError, KeyError, TypeError, RecursionError, UnicodeDecodeError, ZeroDivisionError]


class HostileMapping(Mapping):
    """TEST-ONLY: a claim whose reads raise, at a chosen key and a chosen way of reading."""

    def __init__(self, data: Mapping, key: str, how: str, failure: type[Exception]):
        self._data, self._key, self._how, self._failure = data, key, how, failure

    def _fail(self):
        if self._failure is UnicodeDecodeError:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "planted")
        raise self._failure("planted")

    def __getitem__(self, key):
        if self._how == "getitem" and key == self._key:
            self._fail()
        value = self._data[key]
        return HostileMapping(value, self._key, self._how, self._failure) if isinstance(value, Mapping) else value

    def __iter__(self):
        if self._how == "iter":
            self._fail()
        return iter(self._data)

    def __len__(self):
        if self._how == "len":
            self._fail()
        return len(self._data)


@settings(FUZZ, max_examples=80)
@given(
    key=st.sampled_from(["claim_id", "payer", "lines", "patient", "diagnoses", "units", "hcpcs", "member_id", "x"]),
    how=st.sampled_from(["getitem", "iter", "len"]),
    failure=st.sampled_from(FAILURES),
)
def test_check_many_never_raises_whatever_a_mapping_does(editor, key, how, failure):
    claims = [
        make_claim(claim_id="BEFORE"),
        HostileMapping(make_claim(), key, how, failure),
        make_claim(claim_id="AFTER"),
    ]
    results = list(editor.check_many(claims))
    assert [r.claim_id for r in results][::2] == ["BEFORE", "AFTER"]
    assert results[0].error is None and results[2].error is None
    assert len(results) == 3


SURROGATES = st.text(alphabet=st.sampled_from(["\ud800", "\udfff", "\udc80", "a", "=", "+", "é", "\x00"]), min_size=1)


@settings(FUZZ, max_examples=60)
@given(claim_id=SURROGATES, message=SURROGATES, field=st.sampled_from(["claim_id", "payer", "ndc", "hcpcs"]))
def test_every_writer_writes_any_string_the_json_layer_accepts(editor, claim_id, message, field):
    from j9330_rules.writers.formats import WRITERS
    from j9330_rules.writers.html import results_html
    from j9330_rules.writers.serialise import result_to_dict

    claim = make_claim(claim_id=claim_id)
    if field == "payer":
        claim["payer"] = message
    elif field != "claim_id":
        claim["lines"][0][field] = message
    claim = json.loads(json.dumps(claim))  # what a reader hands over: surrogates survive JSON
    after = make_claim(claim_id="NEXT")
    after["lines"][0]["units"] = 21  # a finding: every format writes a row for it
    results = list(editor.check_many([claim, after]))
    for fmt, writer in WRITERS.items():
        out = io.StringIO()
        writer(iter(results), out)
        text = out.getvalue()
        text.encode("utf-8")  # a writer's output is always encodable
        assert "NEXT" in text, fmt  # and the result after the odd one is written
    results_html(results).encode("utf-8")
    json.dumps([result_to_dict(r) for r in results])
    from rich.console import Console

    from j9330_rules.writers.table import TableWriter

    out = io.StringIO()
    table = TableWriter(Console(file=out, width=80, color_system=None))
    for result in results:
        table.add(result)
    table.close()
    out.getvalue().encode("utf-8")
    assert "NEXT" in out.getvalue()
