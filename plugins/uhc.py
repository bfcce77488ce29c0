"""UnitedHealthcare: no temsirolimus-specific policy text was found, so only the national rules apply.

Results say so with PAYER_POLICY_NOT_PROVIDED. Add a cited spec under
``specs/`` and pass it here when a policy is sourced.
"""

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(
        name="uhc",
        display_name="UnitedHealthcare",
        policy_sourced=False,
        note="No public UnitedHealthcare coverage policy specific to temsirolimus (J9330) was found; national rules only.",
    )
)
