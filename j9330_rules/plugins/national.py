"""The built-in plugin: the national J9330 rules and the bundled reference data.

It is an ordinary plugin, registered first, so payers' plugins can replace
its reference data and refine its rules through their own specs.
"""

from __future__ import annotations

from importlib import resources

import yaml

from j9330_rules.plugins.hookspecs import hookimpl
from j9330_rules.plugins.pricing import benchmark

SPECS = resources.files("j9330_specs")


@hookimpl
def j9330_register_rulesets(register):
    register(SPECS / "national.yaml")


@hookimpl
def j9330_register_reference_data(register):
    for name, entry in yaml.safe_load((SPECS / "reference.yaml").read_text("utf-8")).items():
        register(name, entry["value"], source=entry["source"])


@hookimpl
def j9330_benchmark(claim, payer, policy, reference):
    """Commercial payers: units x the contract fee schedule's rate for the date."""
    first = min(line.service_date for line in claim.drug_lines) if claim.drug_lines else None
    if first is None or policy.parameters_on(first).get("benchmark_basis") != "fee_schedule":
        return None

    def rate_on(day):
        fee = reference.fee_rate(payer.name, day)
        return fee.rate_per_unit if fee else None

    return benchmark(
        claim, rate_on, basis="units x contract fee schedule rate", source=f"fee schedule loaded for {payer.name}"
    )
