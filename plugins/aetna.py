"""Aetna: Clinical Policy Bulletin 0873 (temsirolimus), as a spec in ``specs/aetna.yaml``."""

from importlib import resources

from j9330_rules import Payer, PayerId
from j9330_rules.plugins.payer_plugin import SpecPayerPlugin

plugin = SpecPayerPlugin(
    Payer(
        name="aetna",
        display_name="Aetna",
        policy_sourced=True,
        payer_ids=(
            PayerId(
                "60054",
                source="Aetna, Electronic Claim FAQs, aetnadental.com/professionals/electronic-transaction-solutions/"
                'electronic-claim-faqs.html: "Use 60054 for Aetna claims"',
                reviewed="2026-12-06",
            ),
        ),
    ),
    resources.files("j9330_specs") / "aetna.yaml",
)
