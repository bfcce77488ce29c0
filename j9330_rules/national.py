"""The built-in plugin: the national J9330 rules and the bundled reference data.

It is an ordinary plugin, registered first, so payers' plugins can replace
its reference data and refine its rules through their own specs.
"""

from __future__ import annotations

from importlib import resources

import yaml

from j9330_rules.hookspecs import hookimpl

SPECS = resources.files("j9330_specs")


@hookimpl
def j9330_register_rulesets(register):
    register(SPECS / "national.yaml")


@hookimpl
def j9330_register_reference_data(register):
    for name, entry in yaml.safe_load((SPECS / "reference.yaml").read_text("utf-8")).items():
        register(name, entry["value"], source=entry["source"])
