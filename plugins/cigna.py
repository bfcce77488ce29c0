"""Cigna: Oncology Medications (1403) and eviCore precertification, as a spec in ``specs/cigna.yaml``."""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(name="cigna", display_name="Cigna", policy_sourced=True),
    resources.files("j9330_specs") / "cigna.yaml",
)
