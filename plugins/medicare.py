"""Medicare Part B: JW/JZ from 2023-07-01, 340B flags from 2024-01-01, RCC coverage.

The policy itself is data in ``specs/medicare.yaml``, with a citation on
every parameter and rule; this module only tells the host about it.
"""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(name="medicare", display_name="Medicare Part B", policy_sourced=True),
    resources.files("j9330_specs") / "medicare.yaml",
)
