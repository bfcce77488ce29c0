"""The summary adds up: every claim has exactly one outcome, whatever its findings."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from j9330_rules import Results
from j9330_rules.model import Finding, Result
from j9330_rules.model.disposition import SEVERITIES
from j9330_rules.model.tally import OUTCOMES, outcome, tally

findings = st.lists(
    st.builds(
        Finding,
        code=st.sampled_from(["UNITS_INVALID", "DOC_INCOMPLETE", "REFERENCE_DATA_MISSING"]),
        severity=st.sampled_from(SEVERITIES),
        line=st.one_of(st.none(), st.integers(1, 3)),
        message=st.just("m"),
    ),
    max_size=5,
)
results = st.lists(
    st.builds(
        Result,
        claim_id=st.text(max_size=3),
        payer=st.sampled_from(["medicare", "aetna", None]),
        findings=findings.map(tuple),
        error=st.one_of(st.none(), st.just("$.lines: bad")),
    ).map(lambda r: r if r.error is None else Result(r.claim_id, r.payer, error=r.error)),
    max_size=30,
)


@given(results)
def test_outcomes_add_up_to_the_claims(batch):
    counts = tally(batch)
    assert counts.claims == len(batch) == sum(counts.by_outcome.values())
    assert sum(n for _, _, n in counts.codes()) == sum(len(r.findings) + (r.error is not None) for r in batch)
    assert sum(claims for _, claims, _ in counts.payers()) == len(batch)
    # the line names every outcome that occurs, and only those
    line = counts.line()
    assert all((f" {name}" in line) == bool(counts.by_outcome[name]) for name in OUTCOMES if name != "accept")


@given(results)
def test_outcome_is_the_worst_finding(batch):
    for result in batch:
        name = outcome(result)
        if result.error is not None:
            assert name == "not checked"
        elif any(f.severity in ("reject", "deny") for f in result.findings):
            assert name == "blocking" and result.blocking
        elif not result.findings:
            assert name == "accept"
        else:
            worst = min(SEVERITIES.index(f.severity) for f in result.findings)
            assert name == {"review": "review", "warn": "warn", "info": "notes only"}[SEVERITIES[worst]]


@given(results)
def test_results_counts_are_the_tally(batch):
    shown = Results(batch)
    assert shown.summary == tally(batch).line()
    assert sum(v for k, v in shown.counts.items() if k != "claims") == len(batch)


def test_the_line_reads_as_people_write_numbers():
    batch = [Result(str(i), "medicare") for i in range(1234)]
    assert tally(batch).line() == "1,234 claims: 1,234 accept"
    assert tally([]).line() == "0 claims"
