"""Reimbursement benchmarks to the cent: Medicare ASP and contract fee schedules.

All prices here are TEST FIXTURES (tests/fixtures): made-up numbers in the published layouts.
"""

from datetime import date
from decimal import Decimal

import pytest

from j9330_rules import Editor
from j9330_rules.plugins.pricing import line_allowed
from tests.conftest import FIXTURE_ASP, FIXTURES, make_claim

FEES = FIXTURES / "fees" / "contract_fee_schedule_fixture.csv"
FIXTURE_LIMIT = Decimal("42.137")  # the fixture ASP file's J9330 payment limit


@pytest.fixture(scope="module")
def priced():
    return Editor(asp_file=FIXTURE_ASP, fee_schedule=FEES)


def test_medicare_allowed_is_units_times_the_asp_limit_for_administered_and_jw_lines(priced):
    payment = priced.check(make_claim()).payment  # 20 administered + 5 JW on 2026-03-02
    assert [(p.line, p.units, p.rate, p.allowed) for p in payment.lines] == [
        (1, 20, FIXTURE_LIMIT, Decimal("842.74")),
        (2, 5, FIXTURE_LIMIT, Decimal("210.69")),  # 210.685 rounds half up
    ]
    assert payment.allowed == Decimal("1053.43")
    assert "asp_payment_limit_fixture_january_2026.csv" in payment.source
    assert "106% of ASP" in payment.basis


def test_no_medicare_benchmark_outside_the_loaded_quarter(priced):
    claim = make_claim()
    for line in claim["lines"]:
        line["service_date"] = "2026-04-01"  # Q2: the fixture file covers Q1 only
    result = priced.check(claim)
    assert result.payment is None
    assert any(f.rule_id == "MCR-ASP-MISSING" and "--asp-file" in f.message for f in result.findings)


def test_invalid_units_are_not_priced(priced):
    claim = make_claim()
    claim["lines"][1]["units"] = "2.5"
    payment = priced.check(claim).payment
    assert [p.line for p in payment.lines] == [1] and payment.allowed == Decimal("842.74")


@pytest.mark.parametrize(
    ("payer", "date", "expected"),
    [
        ("aetna", "2026-03-02", Decimal("1280.75")),  # 25 x 51.23
        ("aetna", "2026-07-01", Decimal("1300.00")),  # 25 x 52.00, the next period
        ("bcbs", "2026-03-02", Decimal("25.13")),  # 20 x 1.005 = 20.10 + 5 x 1.005 = 5.025 -> 5.03
    ],
)
def test_commercial_allowed_comes_from_the_contract_fee_schedule(priced, payer, date, expected):
    claim = make_claim(payer=payer, prior_authorization="PA-1")
    for line in claim["lines"]:
        line["service_date"] = date
    result = priced.check(claim)
    assert result.payment.allowed == expected
    assert "REFERENCE_DATA_MISSING" not in {f.code for f in result.findings if f.rule_id == "NAT-FEE-SCHEDULE-MISSING"}


@pytest.mark.parametrize("payer", ["cigna", "uhc"])
def test_without_a_fee_schedule_there_is_no_benchmark_and_the_result_says_so(priced, payer):
    result = priced.check(make_claim(payer=payer))
    assert result.payment is None
    missing = [f for f in result.findings if f.rule_id == "NAT-FEE-SCHEDULE-MISSING"]
    assert missing and "--fee-schedule" in missing[0].message and missing[0].severity == "info"


def test_half_cents_round_up():
    assert line_allowed(5, Decimal("42.137")) == Decimal("210.69")
    assert line_allowed(1, Decimal("0.005")) == Decimal("0.01")
    assert line_allowed(3, Decimal("0.001")) == Decimal("0.00")


def test_fee_rate_takes_the_first_loaded_row_of_the_payer_and_code_that_covers_the_day(tmp_path):
    from j9330_rules.refdata.reference import ReferenceData

    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    header = "payer,hcpcs,rate_per_unit,effective_from,effective_to,note\n"
    first.write_text(header + "aetna,J9330,10.00,2026-01-01,2026-03-31,TEST FIXTURE\n")
    second.write_text(
        header
        + "aetna,J9330,20.00,2026-01-01,,TEST FIXTURE: overlaps the first file's row\n"
        + "bcbs,J9330,30.00,2026-01-01,,TEST FIXTURE\n"
    )
    data = ReferenceData.load({}, fee_schedule=[first, second])

    def rate(payer, day):
        found = data.fee_rate(payer, day)
        return found and found.rate_per_unit

    assert rate("aetna", date(2026, 2, 1)) == Decimal("10.00")  # both cover it: the first loaded wins
    assert rate("aetna", date(2026, 4, 1)) == Decimal("20.00")
    assert rate("bcbs", date(2026, 2, 1)) == Decimal("30.00")
    assert rate("cigna", date(2026, 2, 1)) is None
    assert rate("aetna", date(2025, 12, 31)) is None
    assert data.fee_rate("aetna", date(2026, 2, 1), hcpcs="J9331") is None
