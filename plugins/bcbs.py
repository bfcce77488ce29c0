"""Blue Cross Blue Shield: the BlueCross BlueShield of Tennessee temsirolimus policy, in ``specs/bcbs.yaml``.

"Blue Cross Blue Shield" is some 33 companies, each with its own policy. ``bcbs`` applies the
BlueCross BlueShield of Tennessee policy and says so; a plan with its own policy is its own
payer (``florida_blue``).
"""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(name="bcbs", display_name="Blue Cross Blue Shield (BCBS of Tennessee policy)", policy_sourced=True),
    resources.files("j9330_specs") / "bcbs.yaml",
)
