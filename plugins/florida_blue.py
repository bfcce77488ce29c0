"""Florida Blue: VP-0166 Torisel (temsirolimus), as a spec in ``specs/florida_blue.yaml``.

A Blue plan with its own published policy is its own payer plugin, shaped as a third party's
would be (docs/plugins.md): a Payer and a cited spec, registered through the entry point.
"""

from importlib import resources

from j9330_rules import Payer
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(
        name="florida_blue", display_name="Florida Blue (Blue Cross and Blue Shield of Florida)", policy_sourced=True
    ),
    resources.files("j9330_specs") / "florida_blue.yaml",
)
