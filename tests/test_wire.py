"""j9330_rules.batch.wire: results between processes come back exactly as they were sent."""

from __future__ import annotations

import datetime as dt
import pickle
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from j9330_rules.batch import wire
from j9330_rules.model import SEVERITIES, Audit, Evidence, Finding, Payment, PaymentLine, Result, Suppression
from tests.conftest import make_claim

pytest.importorskip("msgspec")  # the [fast] extra, which the test extra installs

text = st.text(max_size=12)
maybe_text = st.none() | text
line = st.none() | st.integers(0, 999)
fact_value = st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | text | st.none()
money = st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6)

findings = st.builds(
    Finding,
    code=text,
    severity=st.sampled_from(SEVERITIES),
    line=line,
    message=text,
    carc=maybe_text,
    rarc=maybe_text,
    rule_id=maybe_text,
    source=maybe_text,
    payer=maybe_text,
    overridden_from=maybe_text,
    override=maybe_text,
)
payments = st.builds(
    Payment,
    allowed=money,
    basis=text,
    source=text,
    lines=st.lists(
        st.builds(PaymentLine, line=st.integers(1, 99), units=st.integers(0, 999), rate=money, allowed=money),
        max_size=3,
    ),
)
audits = st.builds(
    Audit,
    package_version=text,
    as_of=st.none() | st.dates(),
    rulesets=st.lists(st.tuples(text, text, text), max_size=3),
    evidence=st.lists(
        st.builds(Evidence, rule_id=text, line=line, facts=st.dictionaries(text, fact_value, max_size=5)), max_size=4
    ),
    overlays=st.lists(text, max_size=2),
)
results = st.builds(
    Result,
    claim_id=maybe_text,
    payer=maybe_text,
    findings=st.lists(findings, max_size=4),
    error=maybe_text,
    payment=st.none() | payments,
    suppressed=st.lists(st.builds(Suppression, finding=findings, entry=text, reason=text), max_size=2),
    audit=st.none() | audits,
    lines=st.lists(st.integers(1, 99), max_size=4),
)


def exactly(result: Result) -> tuple:
    """Every field, audit and evidence facts included (eq=False there), with each value's class."""

    def walk(value):
        if attrs.has(type(value)):
            return (type(value), tuple(walk(getattr(value, f.name)) for f in attrs.fields(type(value))))
        if isinstance(value, (tuple, list)):
            return (type(value), tuple(walk(item) for item in value))
        if isinstance(value, dict):
            return (dict, tuple((walk(k), walk(v)) for k, v in value.items()))
        return (type(value), str(value) if isinstance(value, Decimal) else value)

    return walk(result)


@given(st.lists(results, max_size=8))
def test_any_results_come_back_exactly_and_plain_ones_as_messagepack(chunk):
    message = wire.encode(chunk)
    assert message[:1] == b"m"  # every value drawn here is of a type MessagePack gives back
    assert [exactly(result) for result in wire.decode(message)] == [exactly(result) for result in chunk]


def test_the_products_own_results_go_as_messagepack(unsourced_editor):
    claim = make_claim()
    claim["lines"][0]["units"] = 21
    chunk = list(unsourced_editor.check_many([make_claim(), claim, None]))
    assert any(r.audit and r.audit.evidence for r in chunk) and any(r.error for r in chunk)
    message = wire.encode(chunk)
    assert message[:1] == b"m"
    assert [exactly(r) for r in wire.decode(message)] == [exactly(r) for r in chunk]


class LabelledPayment(Payment):
    """A plugin's own Payment subclass: MessagePack would give back the base class."""


@attrs.define(frozen=True)
class Note:
    text: str


class Label(str):
    """A str subclass: MessagePack would give back a plain str."""


EVIDENCE = Audit("0", None, (), (Evidence("R", 1, {"units": 3}),))


@pytest.mark.parametrize(
    "odd",
    [
        Result("C", "aetna", payment=LabelledPayment(Decimal("1.00"), "b", "s")),
        Result("C", "aetna", payment=Payment(1.5, "b", "s")),  # a float where a Decimal belongs
        Result("C", "aetna", payment=Payment(Decimal("1"), "b", "s", (PaymentLine(1, 2, 0.5, Decimal("1")),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, evidence=(Evidence("R", 1, {"codes": ("a", "b")}),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, evidence=(Evidence("R", 1, {"day": dt.date(2026, 1, 2)}),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, evidence=(Evidence("R", 1, {1: "x"}),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, evidence=(Evidence("R", 1, {"n": Note("x")}),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, evidence=(Evidence("R", 1, {"big": 2**70}),))),
        Result(Label("C"), "aetna"),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, rulesets=(("medicare", 2026.1, "0" * 64),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, rulesets=(("medicare", "2026.1"),))),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, overlays=(Label("plugin"),))),
        Result("C", "aetna", lines=(1, True)),
        Result("C", "aetna", payment=(Payment(Decimal("1"), "b", "s"),)),  # a tuple where one belongs
        Result("C", "aetna", findings=(Suppression(Finding("X", "deny", 1, "m"), "e", "r"),)),
        Result("C", "aetna", audit=attrs.evolve(EVIDENCE, evidence=(Finding("X", "deny", 1, "m"),))),
        Result("C", "aetna", suppressed=(Suppression(None, "e", "r"),)),
        Result("C", "aetna", payment=Payment(Decimal("1"), "b", "s", (Payment(Decimal("1"), "b", "s"),))),
    ],
    ids=[
        "payment-subclass",
        "float-allowed",
        "float-rate",
        "tuple-fact",
        "date-fact",
        "int-key",
        "object",
        "bigint",
        "str-sub",
        "float-version",
        "short-ruleset",
        "overlay-str-sub",
        "bool-line",
        "payment-tuple",
        "suppression-as-finding",
        "finding-as-evidence",
        "suppression-without-finding",
        "payment-in-payment-lines",
    ],
)
def test_a_result_messagepack_would_change_goes_as_pickle_and_comes_back_exactly(odd):
    message = wire.encode([Result("plain", None), odd])
    assert message[:1] == b"p"
    back = wire.decode(message)
    assert [exactly(r) for r in back] == [exactly(Result("plain", None)), exactly(odd)]


def test_without_msgspec_everything_goes_as_pickle(monkeypatch):
    chunk = [Result("C", "aetna", findings=[Finding("X", "deny", 1, "m")], audit=EVIDENCE)]
    monkeypatch.setattr(wire, "msgspec", None)
    message = wire.encode(chunk)
    assert message[:1] == b"p" and pickle.loads(message[1:]) == chunk
    assert [exactly(r) for r in wire.decode(message)] == [exactly(r) for r in chunk]


def test_a_message_of_neither_kind_is_refused():
    with pytest.raises(ValueError, match="not a results message"):
        wire.decode(b"x" + pickle.dumps([]))
