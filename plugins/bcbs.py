"""Blue Cross Blue Shield: the BlueCross BlueShield of Tennessee temsirolimus policy, in ``specs/bcbs.yaml``.

BCBS plans publish their own policies; this encodes the one that was
sourced (Tennessee). A plan with a different policy is a different plugin.
"""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(name="bcbs", display_name="Blue Cross Blue Shield (BCBS of Tennessee policy)", policy_sourced=True),
    resources.files("j9330_specs") / "bcbs.yaml",
)
