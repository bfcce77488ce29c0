"""No patient identifier reaches any output channel: every format, HTML, DataFrames, logs at DEBUG
and warnings, for clean claims, claims with findings and claims that cannot be checked.

Planted values: a member id, a date of birth, a patient's name typed into the payer field and
into the payer name. Claim ids are the caller's own reference and may be echoed.
"""

from __future__ import annotations

import io
import logging
import warnings

import pytest

from j9330_rules import Editor
from j9330_rules.writers.formats import WRITERS
from j9330_rules.writers.table import TableWriter
from tests.conftest import make_claim

MEMBER = "MBRPHI77310"
BIRTH = "1931-07-17"
NAME = "Quaxworth Zebulon"
PLANTED = (MEMBER, BIRTH, "19310717", "Quaxworth", "Zebulon")


def _claims() -> list:
    clean = make_claim(claim_id="CLEAN")
    clean["patient"] = {"birth_date": BIRTH, "sex": "F", "member_id": MEMBER}
    finding = make_claim(claim_id="FINDING")
    finding["patient"] = {"birth_date": BIRTH, "sex": "F", "member_id": MEMBER}
    finding["lines"][0]["units"] = 0
    bad_birth = make_claim(claim_id="BAD-BIRTH")
    bad_birth["patient"] = {"birth_date": "17/07/1931", "member_id": MEMBER}
    name_as_payer = make_claim(claim_id="NAME-AS-PAYER", payer=NAME)
    name_as_payer["patient"] = {"birth_date": BIRTH, "member_id": MEMBER}
    unmapped = make_claim(claim_id="UNMAPPED")
    del unmapped["payer"]
    unmapped["payer_id"] = "Quaxworth"
    unmapped["payer_name"] = NAME
    bad_units = make_claim(claim_id="BAD-UNITS")
    bad_units["patient"] = {"birth_date": BIRTH, "member_id": MEMBER}
    bad_units["lines"][0]["units"] = f"{MEMBER} units"
    return [clean, finding, bad_birth, name_as_payer, unmapped, bad_units]


def _assert_clean(text: str, channel: str) -> None:
    for marker in PLANTED:
        assert marker.lower() not in text.lower(), f"{channel} quotes {marker!r}"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The results, with everything logged at DEBUG and every warning raised while checking."""
    history = tmp_path_factory.mktemp("history") / "h.sqlite3"
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            editor = Editor(history=history)
            results = list(editor.check_many(_claims()))
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    return results, records, caught


def test_every_claim_has_its_result(swept):
    results, _records, _caught = swept
    assert [r.claim_id for r in results] == ["CLEAN", "FINDING", "BAD-BIRTH", "NAME-AS-PAYER", "UNMAPPED", "BAD-UNITS"]
    assert [r.error is None for r in results] == [True, True, False, False, False, False]


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_no_machine_format_quotes_a_patient(swept, fmt):
    out = io.StringIO()
    WRITERS[fmt](swept[0], out)
    _assert_clean(out.getvalue(), fmt)


def test_the_table_html_and_dataframe_quote_no_patient(swept):
    from rich.console import Console

    from j9330_rules import Results

    results = swept[0]
    console = Console(file=io.StringIO(), width=120, record=True)
    table = TableWriter(console, max_claims=0)
    for result in results:
        table.add(result)
    table.close()
    _assert_clean(console.export_text(), "table")
    shown = Results(results)
    _assert_clean(shown._repr_html_(), "HTML")
    _assert_clean(repr(shown), "repr")
    pytest.importorskip("pandas")
    _assert_clean(shown.to_pandas().to_csv(), "to_pandas")


def test_logs_and_warnings_quote_no_patient(swept):
    _results, records, caught = swept
    for record in records:
        _assert_clean(record.getMessage(), f"log {record.name}")
    for warning in caught:
        _assert_clean(str(warning.message), "warning")
