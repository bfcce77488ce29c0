"""Aetna: Clinical Policy Bulletin 0873 (temsirolimus), as a spec in ``specs/aetna.yaml``."""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(name="aetna", display_name="Aetna", policy_sourced=True),
    resources.files("j9330_specs") / "aetna.yaml",
)
