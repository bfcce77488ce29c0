"""The pluggy host: registration, entry points, isolation of failing plugins."""

from decimal import Decimal
from pathlib import Path

import pluggy
import pytest

from j9330_rules import Editor, Payer, Payment, SpecError, hookimpl
from j9330_rules.plugins.manager import ENTRY_POINT_GROUP, LOAD_PLUGINS_ENV
from tests.conftest import UNSOURCED, codes, make_claim, unsourced_plugin

FIXTURE_SPEC = """
# TEST FIXTURE: a made-up payer, not a real policy.
ruleset: fixture_payer
version: "0"
title: Test fixture payer
applies_to: [fixture_payer]
parameters:
  ndc_required:
    - value: true
      source: "TEST FIXTURE: not a real policy"
rules: []
"""


class FixturePayer:
    """TEST FIXTURE plugin: a payer with a spec that requires an NDC."""

    def __init__(self, spec_path: Path, sourced: bool = True):
        self.spec_path = spec_path
        self.sourced = sourced

    @hookimpl
    def j9330_register_payers(self, register):
        register(Payer("fixture_payer", "Fixture Payer (test)", policy_sourced=self.sourced, note="TEST FIXTURE"))

    @hookimpl
    def j9330_register_rulesets(self, register):
        register(self.spec_path)


@pytest.fixture
def spec_path(tmp_path):
    path = tmp_path / "fixture_payer.yaml"
    path.write_text(FIXTURE_SPEC)
    return path


def test_builtin_payer_comes_through_the_entry_point_group(editor):
    names = {info.name: info for info in editor.registry.plugins()}
    assert "medicare" in names and names["medicare"].version
    assert "j9330_register_payers" in names["medicare"].hooks
    assert editor.registry.payer_plugins["medicare"] == "medicare"
    from importlib import metadata

    assert "medicare" in {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def test_a_third_party_plugin_adds_a_payer_without_host_changes(spec_path):
    editor = Editor(plugins=[FixturePayer(spec_path)])
    claim = make_claim(payer="fixture_payer")
    claim["lines"][0]["ndc"] = None
    result = editor.check(claim)
    assert result.payer == "fixture_payer"
    assert "NDC_MISSING" in codes(result)
    assert "NDC_MISSING" not in codes(editor.check(make_claim()))  # Medicare does not require it


def test_payer_without_sourced_policy_says_so(spec_path):
    result = Editor(plugins=[FixturePayer(spec_path, sourced=False)]).check(make_claim(payer="fixture_payer"))
    finding = next(f for f in result.findings if f.code == "PAYER_POLICY_NOT_PROVIDED")
    assert finding.severity == "info" and "Fixture Payer" in finding.message


class RaisesInRulesets:
    @hookimpl
    def j9330_register_payers(self, register):
        register(Payer("broken_payer", "Broken", policy_sourced=True))

    @hookimpl
    def j9330_register_rulesets(self, register):
        raise RuntimeError("boom")


def test_a_plugin_that_raises_is_isolated_and_named():
    editor = Editor(plugins=[RaisesInRulesets()])
    broken = editor.check(make_claim(payer="broken_payer"))
    failure = next(f for f in broken.findings if f.code == "PLUGIN_FAILED")
    assert "RaisesInRulesets" in failure.message and failure.severity == "review"
    # The national rules still ran for its payer, and other payers are untouched.
    claim = make_claim(payer="broken_payer")
    claim["lines"][0]["units"] = 0
    assert "UNITS_INVALID" in codes(editor.check(claim))
    assert "PLUGIN_FAILED" not in codes(editor.check(make_claim()))


class RaisesInBenchmark:
    @hookimpl
    def j9330_benchmark(self, claim, payer, reference):
        raise ZeroDivisionError("boom")


class PricesEverything:
    """TEST FIXTURE benchmark: made-up price."""

    @hookimpl
    def j9330_benchmark(self, claim, payer, reference):
        units = sum(line.units for line in claim.drug_lines)
        return Payment(allowed=units * Decimal("1.11"), basis="TEST FIXTURE rate", source="TEST FIXTURE")


def test_a_failing_benchmark_does_not_stop_the_others():
    editor = Editor(plugins=[PricesEverything(), RaisesInBenchmark()])
    result = editor.check(make_claim())
    assert result.payment == Payment(Decimal("27.75"), "TEST FIXTURE rate", "TEST FIXTURE")  # 25 units x 1.11
    failure = next(f for f in result.findings if f.code == "PLUGIN_FAILED")
    assert "RaisesInBenchmark" in failure.message and "boom" not in failure.message


def test_no_benchmark_without_a_plugin_that_prices(bare_editor):
    """Medicare prices from the ASP file the user loads: with none, no payment, and a note says why."""
    result = bare_editor.check(make_claim())
    assert result.payment is None
    (finding,) = [f for f in result.findings if f.rule_id == "MCR-ASP-MISSING"]
    assert (finding.code, finding.severity) == ("REFERENCE_DATA_MISSING", "info")
    assert "--asp-file" in finding.message


def test_a_misspelled_hook_fails_fast():
    class Misspelled:
        @hookimpl
        def j9330_register_payer(self, register):  # missing "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        Editor(plugins=[Misspelled()])


def test_load_plugins_env_limits_entry_points(monkeypatch):
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "")
    editor = Editor()
    assert "medicare" not in editor.payers
    with pytest.raises(ValueError, match="unknown payer"):
        editor.check(make_claim())


def test_an_invalid_plugin_spec_stops_the_editor(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(FIXTURE_SPEC.replace("rules: []", "rules: [{id: BAD-1, code: NOPE}]"))
    with pytest.raises(SpecError, match=r"bad\.yaml.*BAD-1"):
        Editor(plugins=[FixturePayer(path)])


def test_two_plugins_may_not_claim_one_payer(spec_path):
    class Duplicate:
        @hookimpl
        def j9330_register_payers(self, register):
            register(Payer("medicare", "Not Medicare", policy_sourced=False))

    editor = Editor(plugins=[Duplicate()])
    assert editor.payers["medicare"].display_name == "Medicare Part B"
    assert any(f.plugin == "Duplicate" for f in editor.registry.failures)


class RegistersThenRaises:
    @hookimpl
    def j9330_register_payers(self, register):
        register(Payer("half_payer", "Half registered", policy_sourced=True))
        raise RuntimeError("boom after registering")


def test_a_plugin_that_raises_leaves_nothing_registered():
    editor = Editor(plugins=[RegistersThenRaises()])
    assert "half_payer" not in editor.payers
    failure = next(f for f in editor.registry.failures if f.plugin == "RegistersThenRaises")
    assert failure.stage == "registering payers"
    result = editor.check(make_claim())  # the plugin's payers are unknown, so every claim is told
    assert any(f.code == "PLUGIN_FAILED" and "failed while registering payers" in f.message for f in result.findings)


def test_two_plugin_objects_of_one_class_get_distinct_names(tmp_path):
    from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

    first = tmp_path / "a.yaml"
    first.write_text(FIXTURE_SPEC)
    second = tmp_path / "b.yaml"
    second.write_text(FIXTURE_SPEC.replace("fixture_payer", "fixture_two"))
    editor = Editor(
        plugins=[
            SpecPayerPlugin(Payer("fixture_payer", "One", policy_sourced=True), first),
            SpecPayerPlugin(Payer("fixture_two", "Two", policy_sourced=True), second),
        ]
    )
    assert {"fixture_payer", "fixture_two"} <= set(editor.payers)
    assert editor.registry.payer_plugins["fixture_two"] == "SpecPayerPlugin#2"


class DoublesThePayment:
    """TEST FIXTURE: a pluggy new-style wrapper around the benchmark hook."""

    def __init__(self):
        self.seen = []

    @hookimpl(wrapper=True)
    def j9330_benchmark(self, claim, payer, policy, reference):
        payment = yield  # the firstresult of the plain implementations
        self.seen.append(payment)
        if payment is None:
            return None
        return Payment(payment.allowed * 2, f"{payment.basis} x2 (TEST FIXTURE wrapper)", payment.source)


def test_a_pluggy_wrapper_on_the_benchmark_hook_wraps_the_first_result():
    wrapper = DoublesThePayment()
    editor = Editor(plugins=[PricesEverything(), RaisesInBenchmark(), wrapper])
    result = editor.check(make_claim())
    assert wrapper.seen == [Payment(Decimal("27.75"), "TEST FIXTURE rate", "TEST FIXTURE")]
    assert result.payment == Payment(Decimal("55.50"), "TEST FIXTURE rate x2 (TEST FIXTURE wrapper)", "TEST FIXTURE")
    # the plugin that raised is still isolated and named, inside the wrapper's call
    assert [f.message.split()[1] for f in result.findings if f.code == "PLUGIN_FAILED"] == ["RaisesInBenchmark"]


def test_tryfirst_orders_the_benchmark_as_pluggy_documents():
    class PricesFirst:
        @hookimpl(tryfirst=True)
        def j9330_benchmark(self, claim, payer, policy, reference):
            return Payment(Decimal("1.00"), "TEST FIXTURE first", "TEST FIXTURE")

    editor = Editor(plugins=[PricesFirst(), PricesEverything()])  # registered first, so called last but for tryfirst
    assert editor.check(make_claim()).payment.basis == "TEST FIXTURE first"


def test_plugins_lists_a_broken_third_party_spec_as_broken(tmp_path, monkeypatch):
    from importlib import metadata

    from click.testing import CliRunner

    from j9330_rules.cli import main

    bad = tmp_path / "broken_payer.yaml"
    bad.write_text(FIXTURE_SPEC.replace("rules: []", "rules: [{id: BAD-1, code: NOPE}]"))
    (tmp_path / "j9330_broken_fixture.py").write_text(
        "# TEST FIXTURE: a third-party plugin whose spec does not validate.\n"
        "from pathlib import Path\n"
        "from j9330_rules import Payer, hookimpl\n"
        "@hookimpl\n"
        "def j9330_register_payers(register):\n"
        "    register(Payer('fixture_payer', 'Fixture Payer (test)', policy_sourced=True))\n"
        "@hookimpl\n"
        f"def j9330_register_rulesets(register):\n    register(Path({str(bad)!r}))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    installed = metadata.entry_points(group=ENTRY_POINT_GROUP)
    broken = metadata.EntryPoint("zz_broken", "j9330_broken_fixture", ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [*installed, broken])
    result = CliRunner().invoke(main, ["plugins"], terminal_width=200)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "zz_broken" in line and "│" in line)
    assert "failed" in row
    assert "medicare" in result.output and "aetna" in result.output  # the others still listed
    assert "broken_payer.yaml" in result.output and "BAD-1" in result.output
    with pytest.raises(SpecError, match="BAD-1"):  # an editor still refuses to half-run
        Editor()


def test_host_findings_come_from_the_one_table_explain_reads():
    from click.testing import CliRunner

    from j9330_rules.cli import main
    from j9330_rules.findings import HOST_FINDINGS
    from j9330_rules.rules.catalogue import catalogue

    assert set(HOST_FINDINGS) <= set(catalogue())
    editor = Editor(plugins=[PricesEverything(), RaisesInBenchmark(), unsourced_plugin()])
    result = editor.check(make_claim(payer=UNSOURCED))
    by_code = {f.code: f.rule_id for f in result.findings if f.code in HOST_FINDINGS}
    assert by_code == {code: HOST_FINDINGS[code].rule_id for code in ("PLUGIN_FAILED", "PAYER_POLICY_NOT_PROVIDED")}
    explained = CliRunner().invoke(main, ["explain", "PLUGIN_FAILED"], terminal_width=200).output
    assert HOST_FINDINGS["PLUGIN_FAILED"].rule_id in explained


# --- plugins cannot change things silently, nor end the run -----------------------------------


class EditsTheParameters:
    """A hook that tries to switch Medicare's JW/JZ requirement off for everyone after it."""

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        day = claim.drug_lines[0].service_date
        policy.parameters_on(day)["jwjz_required"] = False  # read-only: raises, the plugin fails
        return None


def test_a_hook_cannot_edit_the_policy_for_later_claims():
    from j9330_rules.readers import read_paths
    from tests.conftest import EXAMPLES

    editor = Editor(plugins=[EditsTheParameters()])
    claim = next(c for c in read_paths([EXAMPLES]) if c.get("claim_id") == "EX-03-JZ-MISSING")
    first, second = editor.check(claim), editor.check(claim)
    assert "JWJZ_MISSING" in codes(first) and "JWJZ_MISSING" in codes(second)
    assert "PLUGIN_FAILED" in codes(first)


class ReturnsText:
    @hookimpl(tryfirst=True)
    def j9330_benchmark(self, claim, payer, reference):
        return "about a thousand dollars"


def test_a_benchmark_of_the_wrong_type_fails_that_plugin_and_the_next_prices(tmp_path):
    import io

    from j9330_rules.writers.formats import WRITERS

    editor = Editor(plugins=[ReturnsText(), PricesEverything()])
    results = list(editor.check_many([make_claim(), make_claim(claim_id="B")]))
    for result in results:
        assert result.payment == Payment(Decimal("27.75"), "TEST FIXTURE rate", "TEST FIXTURE")
        failure = next(f for f in result.findings if f.code == "PLUGIN_FAILED")
        assert "ReturnsText" in failure.message
    for fmt, write in WRITERS.items():
        assert write(results, io.StringIO()) == 2, fmt  # every writer gets through every result


class ExitsInBenchmark:
    @hookimpl
    def j9330_benchmark(self, claim, payer, reference):
        raise SystemExit(3)


def test_a_hook_that_exits_is_isolated_like_one_that_raises():
    results = list(Editor(plugins=[ExitsInBenchmark()]).check_many([make_claim(), make_claim(claim_id="B")]))
    assert len(results) == 2
    assert all("PLUGIN_FAILED" in codes(r) and r.error is None for r in results)


@pytest.mark.parametrize("value", [0, -25, 2.5, True, "25"])
def test_a_bad_kit_size_from_a_plugin_fails_that_plugin_not_every_claim(value):
    class BadKit:
        @hookimpl
        def j9330_register_reference_data(self, register):
            register("kit_mg", value, source="TEST FIXTURE")

    editor = Editor(plugins=[BadKit()])
    assert editor.reference.kit_mg == 25  # the bundled, sourced value stays
    assert any("kit_mg must be a positive whole number" in f.error for f in editor.registry.failures)
    result = editor.check(make_claim())
    assert result.error is None


def test_bad_bundled_ndcs_from_a_plugin_are_refused():
    class BadNdcs:
        @hookimpl
        def j9330_register_reference_data(self, register):
            register("temsirolimus_ndcs", ["0008-1179-01"], source="TEST FIXTURE")

    editor = Editor(plugins=[BadNdcs()])
    assert "00008117901" in editor.reference.temsirolimus_ndcs
    assert any("11-digit" in f.error for f in editor.registry.failures)


def test_built_in_plugins_load_before_any_other_whatever_its_name():
    """An installed plugin named "aaa" that registers "medicare" must not take the payer from the
    genuine plugin: built-ins are registered first, and the second registration is the failure."""
    from types import SimpleNamespace

    from j9330_rules.plugins.manager import load_order

    def ep(name, dist):
        return SimpleNamespace(name=name, dist=SimpleNamespace(name=dist))

    order = load_order([ep("medicare", "j9330-rules"), ep("aaa", "evil-plugin"), ep("aetna", "j9330_rules")])
    assert [e.name for e in order] == ["aetna", "medicare", "aaa"]


# --- overlays: a spec that changes payers another plugin serves ------------------------------

OVERLAY_SPEC = """
ruleset: quiet_medicare
version: "1.0.0"
title: TEST FIXTURE, a third party's spec that lowers Medicare's JW/JZ edit
applies_to: [medicare]
severity_overrides:
  - code: JWJZ_MISSING
    severity: info
    source: "TEST FIXTURE"
    effective_from: "2020-01-01"
rules: []
"""


class QuietsMedicare:
    def __init__(self, path):
        self.path = path

    @hookimpl
    def j9330_register_rulesets(self, register):
        register(self.path)


def _ex03():
    from j9330_rules.readers import read_paths
    from tests.conftest import EXAMPLES

    return next(c for c in read_paths([EXAMPLES]) if c.get("claim_id") == "EX-03-JZ-MISSING")


def test_a_spec_that_changes_another_plugins_payer_is_refused_unless_allowed(tmp_path):
    path = tmp_path / "quiet_medicare.yaml"
    path.write_text(OVERLAY_SPEC, encoding="utf-8")
    refused = Editor(plugins=[QuietsMedicare(path)])
    result = refused.check(_ex03())
    jwjz = next(f for f in result.findings if f.code == "JWJZ_MISSING")
    assert jwjz.severity == "reject"  # Medicare's edit is untouched
    assert "PLUGIN_FAILED" not in codes(result)  # the refusal does not hold Medicare's claims
    (failure,) = [f for f in refused.registry.failures if f.plugin == "QuietsMedicare"]
    assert "changes medicare" in failure.error and "--allow-overlay QuietsMedicare" in failure.error

    allowed = Editor(plugins=[QuietsMedicare(path)], allow_overlays=["QuietsMedicare"])
    result = allowed.check(_ex03())
    assert next(f for f in result.findings if f.code == "JWJZ_MISSING").severity == "info"
    assert result.audit.overlays == ("plugin QuietsMedicare's spec quiet_medicare changes medicare",)
    other = allowed.check({**_ex03(), "payer": "aetna"})
    assert other.audit.overlays == ()


def test_the_built_in_plugins_are_not_overlays():
    editor = Editor()
    assert editor.registry.overlays == [] and editor.registry.failures == []
    assert "j9330_rules.plugins.national" in editor.registry.first_party


class _Slow:
    """TEST-ONLY plugin: a benchmark hook that takes 1.3 s (the watch looks once a second)."""

    @hookimpl
    def j9330_benchmark(self, claim, payer, policy, reference):
        import time

        time.sleep(1.3)
        return None


def test_a_hook_over_its_time_budget_is_reported_while_it_runs_and_when_it_returns(monkeypatch, caplog):
    import j9330_rules.plugins.manager as manager

    monkeypatch.setattr(manager, "HOOK_BUDGET_SECONDS", 0.1)
    editor = Editor(plugins=[_Slow()])
    with caplog.at_level("WARNING", logger="j9330_rules.plugins.manager"):
        result = editor.check(make_claim())
    assert result.error is None
    messages = [r.getMessage() for r in caplog.records]
    assert any("plugin _Slow has been running j9330_benchmark for" in m for m in messages), messages
    assert any(m.startswith("plugin _Slow took 1.") and "budget 0.1 s" in m for m in messages), messages
