"""UnitedHealthcare (commercial): Oncology Medication Clinical Coverage, as a spec in ``specs/uhc.yaml``."""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(name="uhc", display_name="UnitedHealthcare", policy_sourced=True),
    resources.files("j9330_specs") / "uhc.yaml",
)
